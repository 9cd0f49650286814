import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { Backoff, deadline, DeadlineError, Deadlines, delay, settleWithin } from "./async.ts";

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

Deno.test("Deadlines: one timer for many deadlines; each expires once, in order, unless removed", async () => {
  const d = new Deadlines();
  const expired: string[] = [];
  const now = performance.now();
  const late = d.add(now + 30, () => expired.push("late"));
  // A later deadline arms nothing new; an earlier one re-arms for itself.
  const removed = d.add(now + 40, () => expired.push("removed"));
  d.add(now + 5, () => expired.push("early"));
  d.remove(removed);
  assertEquals(d.size, 2);
  await delay(60);
  assertEquals(expired, ["early", "late"]);
  assertEquals(d.size, 0);
  assert(!d.armed, "a drained set holds no timer");
  d.remove(late); // already expired: nothing happens
});

Deno.test("Deadlines: a call loop's deadlines (each later than the armed one) never re-arm the timer", () => {
  const d = new Deadlines();
  let fired = 0;
  const base = performance.now() + 60_000;
  for (let i = 0; i < 1000; i++) d.remove(d.add(base + i, () => fired++));
  assertEquals(d.size, 0);
  assert(d.armed, "the first deadline's timer stays armed (it finds nothing when it fires)");
  d.close(); // the owner's end: no timer outlives it (the test sanitizer checks)
  assert(!d.armed);
  d.add(performance.now(), () => fired++);
  assertEquals(d.size, 0, "a closed set takes no deadline");
  assertEquals(fired, 0);
});
