/**
 * What an email address says about its owner: its domain, and whether that domain is a free-mail
 * provider (gmail.com, outlook.com...) or a corporate one. The free-mail list is the
 * `email-providers` package's list of common providers (355 domains, under 2 KB gzip in the worker).
 */
import common from "email-providers/common.json" with { type: "json" };

const FREE_MAIL = new Set<string>(common as string[]);
// Regional variants of the largest providers that the common list leaves out.
for (const extra of ["hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "live.fr", "outlook.fr", "yahoo.de", "googlemail.com", "pm.me"]) {
  FREE_MAIL.add(extra);
}

/** `free` for free-mail providers, `corporate` otherwise. */
export type EmailKind = "free" | "corporate";

/** The lower-cased domain of an email address, or undefined when it is not an address. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf("@");
  if (at < 1 || at === email.length - 1) return undefined;
  return email.slice(at + 1).trim().toLowerCase();
}

/** Whether the address belongs to a free-mail provider. */
export function emailKind(email: string): EmailKind | undefined {
  const domain = emailDomain(email);
  if (domain === undefined) return undefined;
  return FREE_MAIL.has(domain) ? "free" : "corporate";
}
