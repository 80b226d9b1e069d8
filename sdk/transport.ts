/** Delivery over HTTP: the request, and when to retry it. */
import { RETRY_BASE_MS, RETRY_MAX_MS } from "./constants";

/**
 * POSTs `body` as JSON in a text/plain body (a CORS simple request: no preflight) with keepalive,
 * so a request started before the page goes away still completes. Resolves to the response, or 0
 * on a network error, or when a host page's fetch wrapper throws. The URL goes as a string: some
 * wrappers read only strings and Requests.
 */
export const post = async (url: URL | string, body: unknown): Promise<Response | 0> => {
  try {
    return await fetch(url + "", { method: "POST", body: JSON.stringify(body), keepalive: true });
  } catch {
    return 0;
  }
};

/**
 * What to do after an answer that is not a 2xx: -1 when the batch was refused for good (a 4xx but
 * 429: sending it again would not help), else milliseconds to wait before retrying (a network
 * error, a 429 or a 5xx): Retry-After seconds on a 429 when given, else RETRY_BASE_MS doubled per
 * failure up to RETRY_MAX_MS, less up to 50% of jitter so that pages do not retry in step.
 */
export const retryIn = (res: Response | 0, tries: number): number => {
  const s = res && res.status;
  const after = (s == 429 && +(res as Response).headers.get("Retry-After")!) as number;
  return s && s < 500 && s != 429
    ? -1
    : after > 0
      ? after * 1e3
      : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** tries) * (1 - Math.random() / 2);
};
