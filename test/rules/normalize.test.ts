/** From a captured event to the event the engine scores: path, query and referrer host read once. */
import { describe, expect, it } from "vitest";
import { normalizeEvent } from "../../rules/index.js";

const at = (url: string) => normalizeEvent({ id: "e1", type: "page_view", url });

describe("normalizeEvent", () => {
  it.each([
    ["https://www.acme.example/pricing?utm_source=google", "/pricing", { utm_source: "google" }],
    ["https://www.acme.example/pricing#plans", "/pricing", undefined],
    ["https://www.acme.example/caf%C3%A9", "/café", undefined],
    // A single-page app routing by fragment: the route is the page.
    ["https://www.acme.example/app#/pricing", "/pricing", undefined],
    ["https://www.acme.example/#!/customers/acme?utm_medium=email", "/customers/acme", { utm_medium: "email" }],
    ["https://www.acme.example/app?utm_source=x#/pricing?plan=team", "/pricing", { utm_source: "x", plan: "team" }],
    ["https://www.acme.example/?utm_medium=email#/pricing", "/pricing", { utm_medium: "email" }],
    ["https://www.acme.example/docs#/", "/", undefined],
  ])("reads %s as path %s, query %j", (url, path, query) => {
    const e = at(url);
    expect(e.path).toBe(path);
    expect(e.query).toEqual(query);
  });

  it("reads a hash route under a scheme with no origin (an app's own URL in a replay) without throwing", () => {
    expect(() => at("app://shell/#/pricing")).not.toThrow();
  });

  it("takes the referrer's host in lower case", () => {
    expect(normalizeEvent({ id: "e1", type: "page_view", url: "https://a.example/", referrer: "https://WWW.Google.com/search" }).referrerHost).toBe("www.google.com");
  });
});
