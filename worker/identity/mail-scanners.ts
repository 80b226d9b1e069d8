/**
 * Who fetches an email's pixel or follows its links without a person behind it: image proxies
 * that load every image of every mail (Gmail's, Yahoo's, Apple Mail Privacy Protection), security
 * scanners that follow every link before delivery (Microsoft Safe Links and Defender, Proofpoint,
 * Mimecast, Barracuda...), link previews and crawlers. Their opens and clicks are answered as usual
 * (the image, the redirect) and never scored. Recognised by user agent (these lists plus isbot's)
 * and by behaviour: HEAD requests and prefetches (link checkers), and, for clicks, requests without
 * Accept-Language (every browser a person clicks in sends one; scanners' HTTP clients do not).
 * Scanners that drive a real browser are caught by the lead instead: they follow several links of
 * one mail within seconds (LeadObject.signal).
 */
import { isbot } from "isbot";

const SCANNERS: [RegExp, string][] = [
  [/GoogleImageProxy|ggpht\.com/i, "Google Image Proxy"],
  [/YahooMailProxy/i, "Yahoo Mail proxy"],
  [/^Mozilla\/5\.0$/, "Apple Mail Privacy Protection"],
  [/Microsoft Office Existence Discovery|Microsoft Office Protocol Discovery|SafeLinks|Defender/i, "Microsoft link scanner"],
  [/Proofpoint|Mimecast|Barracuda|MessageLabs|Symantec|Trend ?Micro|Forcepoint|Sophos|FireEye|IronPort|Zscaler|Cisco/i, "mail security scanner"],
  [/BingPreview|Slackbot|facebookexternalhit|Twitterbot|LinkedInBot|WhatsApp|TelegramBot|Discordbot|Skype/i, "link preview"],
  [/python-requests|curl\/|Wget|Go-http-client|okhttp|axios|node-fetch|undici|libwww|HeadlessChrome/i, "HTTP client"],
];

/** Why a request is not a person reading mail, or null when it may be one. */
export function mailScanner(req: { method: string; headers: Headers }, kind: "open" | "click"): string | null {
  const ua = req.headers.get("user-agent")?.trim() ?? "";
  if (ua === "") return "no user agent";
  for (const [pattern, name] of SCANNERS) if (pattern.test(ua)) return name;
  if (isbot(ua)) return "bot";
  if (req.method === "HEAD") return "HEAD request (link checker)";
  const purpose = `${req.headers.get("sec-purpose") ?? ""} ${req.headers.get("purpose") ?? ""} ${req.headers.get("x-moz") ?? ""}`;
  if (/prefetch|prerender/i.test(purpose)) return "prefetch";
  if (kind === "click" && !req.headers.get("accept-language")) return "no Accept-Language (not a browser)";
  return null;
}
