import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { Backoff, deadline, DeadlineError, delay, settleWithin } from "./async.ts";

Deno.test("delay: an abort ends the wait at once without rejecting", async () => {
  const c = new AbortController();
  const p = delay(60_000, c.signal);
  c.abort();
  await p; // a leaked 60 s timer would fail the test's sanitizer
});

Deno.test("deadline: rejects when the promise is late, passes its value otherwise", async () => {
  await assertRejects(() => deadline(new Promise(() => {}), 1, "the wait"), DeadlineError, "the wait timed out");
  assertEquals(await deadline(Promise.resolve(7), 1000), 7);
  await settleWithin(new Promise(() => {}), 1);
});

Deno.test("Backoff: doubles to the cap with jitter in [half, all] of the step, reset starts over", () => {
  const b = new Backoff({ minMs: 100, maxMs: 350, random: () => 0.999999 });
  const waits = [b.next(), b.next(), b.next(), b.next()].map(Math.round);
  assertEquals(waits, [100, 200, 350, 350]);
  b.reset();
  const low = new Backoff({ minMs: 100, maxMs: 350, random: () => 0 });
  assertEquals(low.next(), 50);
  assert(b.next() <= 100);
});
