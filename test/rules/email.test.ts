import { describe, expect, it } from "vitest";
import { emailDomain, emailKind } from "../../rules/index.js";

describe("the domain of an email address", () => {
  it.each([
    { email: "jo@acme.example", domain: "acme.example" },
    { email: "Jo.Smith@ACME.Example", domain: "acme.example" },
    { email: "jo@acme.example ", domain: "acme.example" },
    { email: '"a@b"@acme.example', domain: "acme.example" },
    { email: "jo", domain: undefined },
    { email: "@acme.example", domain: undefined },
    { email: "jo@", domain: undefined },
    { email: "", domain: undefined },
  ])("of $email is $domain", ({ email, domain }) => {
    expect(emailDomain(email)).toBe(domain);
  });
});

describe("the kind of an email address", () => {
  it.each([
    { email: "jo@gmail.com", kind: "free" },
    { email: "Jo@GMail.com", kind: "free" },
    { email: "jo@outlook.com", kind: "free" },
    { email: "jo@yahoo.com", kind: "free" },
    { email: "jo@hotmail.fr", kind: "free" },
    { email: "jo@googlemail.com", kind: "free" },
    { email: "jo@pm.me", kind: "free" },
    { email: "jo@acme.example", kind: "corporate" },
    { email: "jo@mail.acme.example", kind: "corporate" },
    { email: "jo@gmail.com.acme.example", kind: "corporate" },
    { email: "not an address", kind: undefined },
  ])("of $email is $kind", ({ email, kind }) => {
    expect(emailKind(email)).toBe(kind);
  });
});
