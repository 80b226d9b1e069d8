/**
 * Exactly once: a resent event is acknowledged and never scored again, whether it comes back in the
 * same batch, in a later one, or with different content under the same id.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { collectOk, ORIGIN, pageView, seedRules, snapshot, storedRows, uid } from "./support/client.js";

beforeAll(() => seedRules());

describe("dedup on event id", () => {
  it("acknowledges a resent batch without scoring it again", async () => {
    const visitor = uid("v");
    const batch = [pageView("/"), pageView("/pricing"), pageView("/customers/acme")];
    const first = await collectOk(visitor, batch);
    expect(first.ack).toEqual(batch.map((e) => e.id));
    expect(first.visitor.score.total).toBe(18);

    for (let i = 0; i < 3; i++) {
      const again = await collectOk(visitor, batch);
      expect(again.ack).toEqual(batch.map((e) => e.id));
      expect(again.visitor).toEqual(first.visitor);
    }
    expect(await storedRows("demo", visitor)).toMatchObject({ events: 3, distinctEvents: 3, ledger: 5 });
    expect((await snapshot("demo", visitor)).events).toBe(3);
  });

  it("counts an id repeated inside one batch once, and acknowledges every copy", async () => {
    const visitor = uid("v");
    const a = pageView("/pricing");
    const b = pageView("/");
    const res = await collectOk(visitor, [a, a, b, a, b]);
    expect(res.ack).toEqual([a.id, a.id, b.id, a.id, b.id]);
    expect(res.visitor.score).toMatchObject({ engagement: 12, total: 12 });
    expect(await storedRows("demo", visitor)).toMatchObject({ events: 2, distinctEvents: 2, ledger: 3 });
  });

  it("scores only the new events of a batch that overlaps one already stored", async () => {
    const visitor = uid("v");
    const [a, b, c] = [pageView("/"), pageView("/customers/acme"), pageView("/pricing")];
    await collectOk(visitor, [a, b]);
    const res = await collectOk(visitor, [b, c, a]);
    expect(res.ack).toEqual([b.id, c.id, a.id]);
    expect(res.visitor.score.total).toBe(2 + 5 + 11);
    const snap = await snapshot("demo", visitor);
    expect(snap.explanation.entries.map((e) => e.event)).toEqual([a.id, b.id, b.id, c.id, c.id]);
  });

  it("never scores a different event sent under an id already stored", async () => {
    const visitor = uid("v");
    const id = uid("ev");
    await collectOk(visitor, [{ id, type: "page_view", ts: Date.now(), url: `${ORIGIN}/` }]);
    const res = await collectOk(visitor, [{ id, type: "form_submit", ts: Date.now(), url: `${ORIGIN}/demo`, form: { id: "demo-request" }, email: "cto@acme.example" }]);
    expect(res.ack).toEqual([id]);
    expect(res.visitor).toEqual({ stage: "visitor", score: { fit: 0, engagement: 1, total: 1 } });
    expect((await snapshot("demo", visitor)).identity.email).toBeUndefined();
  });

  it("keeps event ids per visitor: the same id from two visitors is two events", async () => {
    const id = uid("ev");
    const [v1, v2] = [uid("v"), uid("v")];
    const ev = { id, type: "page_view", ts: Date.now(), url: `${ORIGIN}/pricing` };
    expect((await collectOk(v1, [ev])).visitor.score.total).toBe(11);
    expect((await collectOk(v2, [ev])).visitor.score.total).toBe(11);
  });
});
