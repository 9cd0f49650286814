import { assert, assertEquals } from "../../tests/support/assert.ts";
import { BasicAuth } from "./basic_auth.ts";

// Cost 4 (the lowest bcrypt takes), so the tests spend milliseconds, not seconds, in bcrypt.
const HASH = "$2b$04$AbR.lxXJiunWBuQJvdi1R.3vHoL9rz0K2gODrl0foPQnWsqQqgt4m"; // "other"
const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

Deno.test("basic auth: a verified pair is cached, so a scraper pays bcrypt once", async () => {
  const a = new BasicAuth({ users: new Map([["prom", HASH]]) });
  assertEquals(await a.check(basic("prom", "other")), "ok");
  for (let i = 0; i < 50; i++) assertEquals(await a.check(basic("prom", "other")), "ok");
  assertEquals(a.checks, 1);
  // Wrong password, unknown user, malformed headers: denied (a wrong pair is never cached as ok).
  assertEquals(await a.check(basic("prom", "othe")), "denied");
  assertEquals(await a.check(basic("nobody", "other")), "denied");
  for (const h of [null, "Bearer x", "Basic !!!", "Basic " + btoa("no-colon"), "Basic " + "A".repeat(2000)]) {
    assertEquals(await a.check(h), "denied", String(h));
  }
  // The unknown user was checked against the dummy hash too (same work as a known one).
  assertEquals(a.checks, 3);
});

Deno.test("basic auth: a flood of wrong passwords gets at most the check budget per window; the rest are busy, a cached scraper never", async () => {
  let now = 0;
  const a = new BasicAuth({ users: new Map([["prom", HASH]]), maxChecksPerWindow: 3, windowMs: 1000, now: () => now });
  assertEquals(await a.check(basic("prom", "other")), "ok"); // one check of this window's three
  const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => a.check(basic("prom", `wrong${i}`))));
  assertEquals(flood.filter((r) => r === "denied").length, 2);
  assertEquals(flood.filter((r) => r === "busy").length, 198);
  assertEquals(a.checks, 3);
  // The cached scraper is unaffected by the spent budget.
  assertEquals(await a.check(basic("prom", "other")), "ok");
  now += 1000; // a new window: the budget is back
  assertEquals(await a.check(basic("prom", "wrong")), "denied");
  assertEquals(a.checks, 4);
});

Deno.test("basic auth: the cache is bounded (least recently used out)", async () => {
  const users = new Map([["prom", HASH]]);
  const a = new BasicAuth({ users, cacheSize: 2, maxChecksPerWindow: 100 });
  assertEquals(await a.check(basic("prom", "other")), "ok");
  assertEquals(a.checks, 1);
  // Pairs that verify are what fills it: two more users with the same hash.
  users.set("b", HASH);
  users.set("c", HASH);
  assertEquals(await a.check(basic("b", "other")), "ok");
  assertEquals(await a.check(basic("c", "other")), "ok"); // evicts prom's entry
  assertEquals(a.checks, 3);
  assertEquals(await a.check(basic("prom", "other")), "ok");
  assert(a.checks === 4, "prom's pair was evicted and checked again");
});
