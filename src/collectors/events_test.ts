import { assertEquals } from "../../tests/support/assert.ts";
import { ChainEvents } from "./events.ts";

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

Deno.test("perTipRead: per-tip reads run one at a time whoever asks, in the order asked", async () => {
  const ev = new ChainEvents(0, 0);
  const signal = new AbortController().signal;
  const log: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  const a = ev.perTipRead(-Infinity, signal, async () => {
    log.push("a start");
    await held;
    log.push("a end");
    return "a";
  });
  const b = ev.perTipRead(-Infinity, signal, () => {
    log.push("b");
    return Promise.resolve("b");
  });
  await turns(5);
  assertEquals(log, ["a start"]);
  release();
  assertEquals(await Promise.all([a, b]), ["a", "b"]);
  assertEquals(log, ["a start", "a end", "b"]);
});

Deno.test("perTipRead: a read whose session ended before its turn is not made; a failed read frees the turn", async () => {
  const ev = new ChainEvents(0, 0);
  const ended = new AbortController();
  ended.abort();
  let reads = 0;
  assertEquals(await ev.perTipRead(-Infinity, ended.signal, () => Promise.resolve(++reads)), undefined);
  const live = new AbortController().signal;
  const failed = ev.perTipRead(-Infinity, live, () => Promise.reject(new Error("node said no")));
  const next = ev.perTipRead(-Infinity, live, () => Promise.resolve(++reads));
  assertEquals(await failed.catch((e) => e.message), "node said no");
  assertEquals(await next, 1);
});

Deno.test("perTipRead: waits while tips keep coming (settleMs), at most settleMaxMs", async () => {
  // settleMs far beyond the test, settleMaxMs 0: the read goes at once despite a tip just now.
  const ev = new ChainEvents(0, 3_600_000, 0);
  ev.tip({ height: 1 });
  assertEquals(await ev.perTipRead(-Infinity, new AbortController().signal, () => Promise.resolve("read")), "read");
  // settleMaxMs far beyond too: the read waits for the quiet, and ends with the session unmade.
  const slow = new ChainEvents(0, 3_600_000, 3_600_000);
  slow.tip({ height: 2 });
  const ended = new AbortController();
  let made = false;
  const p = slow.perTipRead(-Infinity, ended.signal, () => Promise.resolve(made = true));
  await turns(5);
  assertEquals(made, false);
  ended.abort();
  assertEquals(await p, undefined);
  assertEquals(made, false);
});
