import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { MAX_WALK, walkTips } from "./tip_source.ts";

/** A block tree from `child parent` pairs; unknown hashes have no parent. */
function tree(...edges: [string, string][]) {
  const parent = new Map(edges);
  const asked: string[] = [];
  return {
    asked,
    parentOf: (h: string) => {
      asked.push(h);
      const p = parent.get(h);
      return p === undefined ? Promise.reject(new Error(`no block ${h}`)) : Promise.resolve(p);
    },
  };
}

Deno.test("walkTips: a new block on the tip is one connect, read with one parent lookup", async () => {
  const t = tree(["b2", "b1"]);
  assertEquals(await walkTips({ hash: "b1", height: 1 }, { hash: "b2", height: 2 }, t.parentOf), {
    connected: 1,
    disconnected: 0,
  });
  assertEquals(t.asked, ["b2"]);
});

Deno.test("walkTips: a reorg counts the blocks left and the blocks joined down to the common ancestor", async () => {
  // a: 100 <- a101 <- a102 ; b: 100 <- b101 <- b102 <- b103
  const t = tree(["a101", "100"], ["a102", "a101"], ["b101", "100"], ["b102", "b101"], ["b103", "b102"]);
  assertEquals(await walkTips({ hash: "a102", height: 102 }, { hash: "b103", height: 103 }, t.parentOf), {
    connected: 3,
    disconnected: 2,
  });
  // Back the other way (e.g. invalidateblock, then the old branch wins again).
  assertEquals(await walkTips({ hash: "b103", height: 103 }, { hash: "a102", height: 102 }, t.parentOf), {
    connected: 2,
    disconnected: 3,
  });
});

Deno.test("walkTips: the same tip is no change; an unknown parent or a walk past MAX_WALK is an error, not a guess", async () => {
  const t = tree();
  assertEquals(await walkTips({ hash: "x", height: 5 }, { hash: "x", height: 5 }, t.parentOf), {
    connected: 0,
    disconnected: 0,
  });
  await assertRejects(
    () => walkTips({ hash: "a", height: 1 }, { hash: "b", height: 2 }, t.parentOf),
    Error,
    "no block b",
  );
  // A chain that never meets: every hash has a parent, but the two branches are disjoint.
  const endless = (h: string) => Promise.resolve(h + "'");
  await assertRejects(
    () => walkTips({ hash: "a", height: 10_000 }, { hash: "b", height: 10_000 }, endless),
    Error,
    `more than ${MAX_WALK} blocks back`,
  );
});
