/**
 * Which URLs a webhook may be sent to. In production only https to public hosts: no private,
 * loopback, link-local, shared (CGNAT), reserved or multicast address, no internal hostname, no
 * credentials in the URL. With `allowLocal` (wrangler dev and tests) http and https to loopback
 * (127.0.0.0/8, ::1, localhost) are allowed too, and nothing else is relaxed.
 *
 * The URL is parsed by the WHATWG parser first, which turns decimal, octal and hex IPv4 forms
 * (2130706433, 0177.0.0.1, 0x7f.1) into dotted quads and compresses IPv6, so the checks below see
 * one canonical form. Names that resolve to private addresses cannot be caught without resolving
 * them; the well-known wildcard-DNS services are refused by name, and the check runs again before
 * every send (with redirects never followed) so a URL changed in KV behind the API is caught too.
 */

/** The outcome of checking a target URL. */
export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Longest target URL accepted. */
export const TARGET_URL_MAX_CHARS = 2048;

/** IPv4 ranges no webhook goes to (loopback is allowed only with `allowLocal`). */
const IPV4_FORBIDDEN: [string, number, string][] = [
  ["0.0.0.0", 8, "'this network'"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "shared address space (CGNAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "6to4 relay"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

/** Name suffixes that never denote a public host. */
const INTERNAL_SUFFIXES = [
  "local", "localdomain", "internal", "intranet", "corp", "home", "lan", "private", "home.arpa", "arpa",
  "test", "example", "invalid", "onion",
];

/** Wildcard DNS services that resolve any name to the address written in it. */
const REBINDING_DOMAINS = ["nip.io", "sslip.io", "xip.io", "localtest.me", "lvh.me", "traefik.me", "local.gd"];

/** Checks a webhook target URL; the reason says what is wrong in words a site owner can act on. */
export function checkTargetUrl(raw: string, opts: { allowLocal: boolean }): UrlCheck {
  if (raw.length > TARGET_URL_MAX_CHARS) return no(`a target URL is at most ${TARGET_URL_MAX_CHARS} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return no("not an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return no(`${url.protocol} URLs are not allowed: use https`);
  if (url.username || url.password) return no("credentials in the URL are not allowed: use the target's secret");
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (!host) return no("the URL has no host");
  const kind = hostKind(host);
  if (kind.forbidden) return no(`${host} is ${kind.forbidden}`);
  if (kind.loopback) {
    if (!opts.allowLocal) return no(`${host} is loopback: allowed only when WEBHOOK_ALLOW_LOCAL is "true"`);
    return { ok: true, url };
  }
  if (url.protocol !== "https:") return no("only https targets are allowed (http only to localhost in development)");
  return { ok: true, url };
}

function no(reason: string): UrlCheck {
  return { ok: false, reason };
}

/** Whether a (lowercased) host is loopback, forbidden (and why), or public. */
function hostKind(host: string): { loopback?: true; forbidden?: string } {
  if (host.startsWith("[")) return ipv6Kind(host.slice(1, -1));
  const v4 = parseIpv4(host);
  if (v4 !== null) return ipv4Kind(v4);
  if (host === "localhost" || host.endsWith(".localhost")) return { loopback: true };
  if (!host.includes(".")) return { forbidden: "a single-label (internal) host name" };
  if (/^[\d.]+$/.test(host) || /^0x/i.test(host)) return { forbidden: "not a valid address" };
  for (const suffix of INTERNAL_SUFFIXES) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return { forbidden: `an internal host name (.${suffix})` };
  }
  for (const d of REBINDING_DOMAINS) {
    if (host === d || host.endsWith(`.${d}`)) return { forbidden: `a wildcard-DNS name (${d}) that can point anywhere` };
  }
  return {};
}

/** Dotted quad to a 32-bit number; null if it is not one (the URL parser already normalised other forms). */
function parseIpv4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function inRange(ip: number, base: string, bits: number): boolean {
  const b = parseIpv4(base)!;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ip & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4Kind(ip: number): { loopback?: true; forbidden?: string } {
  if (inRange(ip, "127.0.0.0", 8)) return { loopback: true };
  if (ip === 0xffffffff) return { forbidden: "the broadcast address" };
  for (const [base, bits, what] of IPV4_FORBIDDEN) if (inRange(ip, base, bits)) return { forbidden: `a ${what} address (${base}/${bits})` };
  return {};
}

/** Eight 16-bit groups of an IPv6 address (the parser gives it compressed, without dotted IPv4). */
function parseIpv6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const groups = [...head, ...(halves.length === 2 ? Array(8 - head.length - tail.length).fill("0") : []), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
  return groups.map((g) => parseInt(g, 16));
}

function ipv6Kind(text: string): { loopback?: true; forbidden?: string } {
  const g = parseIpv6(text);
  if (!g) return { forbidden: "not a valid IPv6 address" };
  const [a, b] = [g[0]!, g[1]!];
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return { loopback: true };
  if (g.every((x) => x === 0)) return { forbidden: "the unspecified address" };
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return { forbidden: "an IPv4-mapped or -compatible address" };
  if (a === 0x64 && b === 0xff9b) return { forbidden: "a NAT64 address" };
  if ((a & 0xfe00) === 0xfc00) return { forbidden: "a unique local address (fc00::/7)" };
  if ((a & 0xffc0) === 0xfe80) return { forbidden: "a link-local address (fe80::/10)" };
  if ((a & 0xff00) === 0xff00) return { forbidden: "a multicast address (ff00::/8)" };
  if (a === 0x2001 && b === 0x0db8) return { forbidden: "a documentation address (2001:db8::/32)" };
  if (a === 0x2002) return { forbidden: "a 6to4 address (2002::/16)" };
  if (a === 0x2001 && b === 0) return { forbidden: "a Teredo address (2001::/32)" };
  if ((a & 0xe000) !== 0x2000) return { forbidden: "not a global unicast address (2000::/3)" };
  return {};
}
