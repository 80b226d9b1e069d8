// Webhook deliveries, attempts and dead letters.
import { h } from "./app.js";

export async function webhooksView() {
  return h("div", { class: "card" }, h("h1", {}, "Webhooks"), h("p", { class: "muted" }, "Not available yet."));
}
