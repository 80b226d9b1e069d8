/** Capture from the DOM (happy-dom): page views, email click-throughs, forms, CTA clicks, downloads, outbound links. */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { capture, EMAIL, EMAIL_CLICK } from "../../../sdk/capture";
import type { EventType, WireEvent } from "../../../sdk/types";

const emitted: [EventType, Partial<WireEvent> | undefined][] = [];
let page: (force?: unknown) => void;
/** Whether the emitter records (as the snippet does once consent is given, and not after an opt-out). */
let recording = true;
/** Changes the URL without the snippet's history hook, as a browser does on popstate. */
const go = (url: string) => History.prototype.pushState.call(history, null, "", url);
const nextTask = () => new Promise((r) => setTimeout(r, 0));
const types = () => emitted.map(([t]) => t);

beforeAll(() => {
  go("/landing?utm_source=news&utm_medium=email");
  document.title = "Landing";
  page = capture((type, x) => recording && emitted.push([type, x]));
});
beforeEach(() => {
  emitted.length = 0;
  document.body.innerHTML = "";
});

describe("page views", () => {
  it("records the landing page view, then the email click-through it came from, once recording is on (consent)", () => {
    // Before consent nothing is recorded, and the page stays unseen: no referrer or email click is lost.
    recording = false;
    page();
    expect(emitted).toEqual([]);
    recording = true;
    page(1);
    expect(emitted).toEqual([
      ["page_view", { referrer: "", title: "Landing" }],
      ["email_click", undefined],
    ]);
  });

  it("records each URL once; page(1) records an unchanged URL again", () => {
    page();
    expect(emitted).toEqual([]);
    page(1);
    expect(types()).toEqual(["page_view"]);
  });

  it.each(["pushState", "replaceState"] as const)("records SPA navigation by %s on the next task, with the previous URL as referrer", async (m) => {
    const before = location.href;
    history[m]({}, "", `/after-${m}`);
    expect(emitted).toEqual([]);
    await nextTask();
    expect(emitted).toEqual([["page_view", { referrer: before, title: "Landing" }]]);
  });

  it("records back and forward (popstate), and ignores a change of hash", async () => {
    go("/back");
    dispatchEvent(new Event("popstate"));
    await nextTask();
    go("/back#section");
    dispatchEvent(new Event("popstate"));
    await nextTask();
    expect(types()).toEqual(["page_view"]);
  });

  it.each(["#/pricing", "#!/pricing"])("records a hash route (%s) as a page of its own", async (hash) => {
    go(`/app${hash.replace("pricing", "start")}`);
    dispatchEvent(new Event("popstate"));
    await nextTask();
    emitted.length = 0;
    location.hash = hash;
    dispatchEvent(new Event("hashchange"));
    await nextTask();
    expect(types()).toEqual(["page_view"]);
    expect(emitted[0]![1]!.referrer).toMatch(/\/app#!?\/start$/);
  });

  it("records a page restored from the back/forward cache, and not a normal pageshow", () => {
    dispatchEvent(Object.assign(new Event("pageshow"), { persisted: false }));
    dispatchEvent(Object.assign(new Event("pageshow"), { persisted: true }));
    expect(types()).toEqual(["page_view"]);
  });

  it.each([
    ["?utm_medium=email", true],
    ["?utm_source=x&utm_medium=e-mail", true],
    ["?UTM_MEDIUM=Email", true],
    ["?mc_cid=abc&mc_eid=def", true],
    ["?_hsenc=p2ANqtz", true],
    ["?mkt_tok=eyJ", true],
    ["?utm_medium=emailing", false],
    ["?utm_medium=social", false],
    ["?ref=mc_cid", false],
    ["", false],
  ])("takes %j for an email click-through: %s", (search, yes) => {
    expect(EMAIL_CLICK.test(search)).toBe(yes);
  });
});

describe("form submissions", () => {
  const submit = (html: string) => {
    document.body.innerHTML = html;
    const form = document.querySelector("form")!;
    // The site's own handler stops everything, as forms submitted by fetch do.
    form.addEventListener("submit", (e) => (e.preventDefault(), e.stopPropagation()));
    form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    return emitted;
  };

  it.each([
    ['<input name="company" value="Acme">', { company: "Acme" }],
    ['<textarea name="message">Hello</textarea>', { message: "Hello" }],
    ['<select name="size"><option>51-200</option></select>', { size: "51-200" }],
    ['<input type="checkbox" name="news" value="yes" checked>', { news: "yes" }],
    ['<input type="checkbox" name="news" value="yes">', {}],
    ['<input type="radio" name="plan" value="pro">', {}],
    ['<input type="password" name="pw" value="hunter2">', {}],
    ['<input type="hidden" name="csrf" value="t0k3n">', {}],
    ['<input type="file" name="cv">', {}],
    ['<input name="cc" autocomplete="cc-number" value="4242424242424242">', {}],
    ['<input name="card_number" value="4242424242424242">', {}],
    ['<input name="cvc" value="123">', {}],
    ['<input name="notes" data-mql-ignore value="private">', {}],
    ['<div data-mql-ignore><input name="notes" value="private"></div>', {}],
    ['<input id="phone" value="555">', { phone: "555" }],
    ['<input value="no name">', {}],
    ['<input name="user[first name]" value="Ada">', { "user_first_name_": "Ada" }],
    ['<button name="go" value="1">Go</button>', {}],
    ['<input type="reset" name="rst" value="Clear">', {}],
    ['<select name="topics" multiple><option selected>pricing</option><option>api</option><option selected>security</option></select>', { topics: "pricing,security" }],
    ['<input type="checkbox" name="topic" value="a" checked><input type="checkbox" name="topic" value="b"><input type="checkbox" name="topic" value="c" checked>', { topic: "a,c" }],
    // A "show password" toggle makes the field a text field: its autocomplete token or its name still says what it is.
    ['<input type="text" name="pw" autocomplete="current-password" value="hunter2">', {}],
    ['<input type="text" name="choice" autocomplete="new-password" value="s3cret">', {}],
    ['<input name="password" value="hunter2">', {}],
    ['<input name="new_pass" value="s3cret">', {}],
    ['<input name="code" autocomplete="one-time-code" value="123456">', {}],
    ['<input name="api_token" value="tok_1">', {}],
  ])("of %s keeps fields %j", (field, fields) => {
    submit(`<form id="f">${field}</form>`);
    expect(emitted).toEqual([["form_submit", { form: { id: "f", name: undefined }, fields }]]);
  });

  it("names the form by its attributes even when fields named id and name shadow them", () => {
    submit('<form id="demo-request" name="demo"><input name="id" value="x"><input name="name" value="Ada"></form>');
    expect(emitted[0]![1]!.form).toEqual({ id: "demo-request", name: "demo" });
  });

  it("identifies the visitor from an email field, with the other fields as traits", () => {
    submit('<form id="f"><input type="email" name="work" value="ada@acme.io"><input name="company" value="Acme"></form>');
    expect(emitted[1]).toEqual(["identify", { email: "ada@acme.io", traits: { work: "ada@acme.io", company: "Acme" } }]);
  });

  it("reads a form with inputs that take several values (files, addresses): only selects list their options", () => {
    submit('<form id="f"><input type="file" name="attachments" multiple><input type="email" name="cc" multiple value="a@acme.io,b@acme.io"><input type="email" name="email" value="ada@acme.io"></form>');
    expect(types()).toEqual(["form_submit", "identify"]);
    expect(emitted[0]![1]!.fields).toEqual({ cc: "a@acme.io,b@acme.io", email: "ada@acme.io" });
  });

  it("identifies from an address typed with spaces around it, trimmed", () => {
    submit('<form id="f"><input name="email" value="  dana@helios.example "></form>');
    expect(emitted[1]).toEqual(["identify", { email: "dana@helios.example", traits: { email: "  dana@helios.example " } }]);
  });

  it.each(["not an email", "a@b", "@acme.io"])("does not identify from %j", (value) => {
    submit(`<form><input name="email" value="${value}"></form>`);
    expect(types()).toEqual(["form_submit"]);
    expect(EMAIL.test(value)).toBe(false);
  });

  it("keeps at most 50 fields of 256 characters", () => {
    const many = Array.from({ length: 60 }, (_, i) => `<input name="f${i}" value="${"x".repeat(300)}">`).join("");
    submit(`<form>${many}</form>`);
    const fields = emitted[0]![1]!.fields!;
    expect(Object.keys(fields)).toHaveLength(50);
    expect(Object.values(fields).every((v) => v.length == 256)).toBe(true);
  });
});

describe("clicks", () => {
  it.each([
    ['<a data-mql-cta="demo-hero" href="/demo">Demo</a>', "a", ["cta_click", { element: "demo-hero", href: `${location.origin}/demo` }]],
    ['<button data-mql-cta="chat"><span>Chat</span></button>', "span", ["cta_click", { element: "chat", href: undefined }]],
    ['<a href="/files/white-paper.PDF">Paper</a>', "a", ["download", { href: `${location.origin}/files/white-paper.PDF` }]],
    ['<a href="/export" download>Export</a>', "a", ["download", { href: `${location.origin}/export` }]],
    ['<a href="https://partner.example/page">Partner</a>', "a", ["custom", { name: "outbound", href: "https://partner.example/page" }]],
    ['<a href="/pricing">Pricing</a>', "a", undefined],
    ['<a href="mailto:sales@acme.io">Mail</a>', "a", undefined],
    ["<p>Text</p>", "p", undefined],
  ])("of %s records %j", (html, target, event) => {
    document.body.innerHTML = html;
    const el = document.querySelector(target)!;
    // A site handler that stops the click does not hide it from the snippet (capture phase).
    el.addEventListener("click", (e) => (e.preventDefault(), e.stopPropagation()));
    el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
    expect(emitted).toEqual(event ? [event] : []);
  });

  it.each([
    [0, "click", 1],
    [1, "auxclick", 1],
    [2, "auxclick", 0],
  ])("with button %i (%s) records %i CTA click: a context menu is no click", (button, type, n) => {
    document.body.innerHTML = '<a data-mql-cta="demo-hero" href="/demo">Demo</a>';
    document.querySelector("a")!.dispatchEvent(new MouseEvent(type, { bubbles: true, composed: true, button }));
    expect(emitted).toHaveLength(n);
  });

  it("records a CTA inside a web component's shadow root", () => {
    const host = document.createElement("x-offer");
    document.body.append(host);
    host.attachShadow({ mode: "open" }).innerHTML = '<a data-mql-cta="in-shadow" href="/demo"><span>Demo</span></a>';
    host.shadowRoot!.querySelector("span")!.dispatchEvent(new MouseEvent("click", { bubbles: true, composed: true }));
    expect(emitted).toEqual([["cta_click", { element: "in-shadow", href: `${location.origin}/demo` }]]);
  });
});
