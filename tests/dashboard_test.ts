/**
 * The dashboard and the alerting rules, checked without a Prometheus (tests/prometheus_test.ts
 * evaluates them on one): the dashboard is what dashboards/build.ts gives, it has a panel for every
 * family this build serves, every exporter metric a panel reads is filtered by the dashboard's
 * job/instance variables, a flavour-dependent panel says so instead of showing nothing, and every
 * alert names real families and flavours and has a unit test in alerts/tests.yml.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { alertQueries, dashboardQueries, PENDING, readDashboard, selectors } from "./support/promql.ts";
import { familyCatalogue } from "../src/cli/check.ts";
import { FLAVOURS } from "../src/flavour.ts";
import { render, SELECTOR } from "../dashboards/build.ts";

const root = new URL("../", import.meta.url).pathname;
const families = familyCatalogue().map((f) => f.name);

Deno.test("dashboards/bitcoind-ipc-exporter.json is what dashboards/build.ts gives (deno task dashboard)", async () => {
  assertEquals(await Deno.readTextFile(`${root}dashboards/bitcoind-ipc-exporter.json`), render());
});

Deno.test("the dashboard has a panel for every metric family this build serves", async () => {
  const read = new Set(
    dashboardQueries(await readDashboard()).flatMap((q) => selectors(q.expr, families).map((s) => s.family)),
  );
  const uncovered = families.filter((f) => !read.has(f));
  assertEquals(uncovered, [], "add a panel for each to dashboards/build.ts (ROWS), then `deno task dashboard`");
});

Deno.test("every panel reads through the datasource variable and the job/instance filter", async () => {
  const d = await readDashboard();
  const vars = d.templating.list.map((v: { name: string; type: string }) => `${v.name}:${v.type}`);
  assertEquals(vars, ["datasource:datasource", "job:query", "instance:query"]);
  const queries = dashboardQueries(d);
  assert(queries.length >= 30, `${queries.length} queries`);
  for (const q of queries) {
    for (const s of selectors(q.expr, families)) {
      assert(s.matchers.includes(SELECTOR), `${q.where}: ${s.text} lacks {$sel} (the job/instance filter)`);
      assert(families.includes(s.family) || s.family in PENDING, `${q.where}: ${s.family} is no family of this build`);
    }
  }
  const walk = (panels: Record<string, unknown>[]): Record<string, unknown>[] =>
    panels.flatMap((p) => [p, ...walk((p.panels ?? []) as Record<string, unknown>[])]);
  for (const p of walk(d.panels).filter((p) => p.type !== "row")) {
    assertEquals((p.datasource as { uid: string }).uid, "${datasource}", String(p.title));
    const flavours = /Flavours: ([^.]+)\./.exec(String(p.description))?.[1].split(", ");
    const noValue = (p.fieldConfig as { defaults: { noValue?: string } }).defaults.noValue;
    if (flavours) {
      for (const f of flavours) assert((FLAVOURS as readonly string[]).includes(f), `${p.title}: flavour ${f}`);
      assertEquals(noValue, `no data on this flavour (${flavours.join(", ")} only)`, String(p.title));
    } else assertEquals(noValue, undefined, String(p.title));
  }
});

Deno.test("every alert reads families of this build (or pending ones), names real flavours, and is unit-tested", async () => {
  const alerts = await alertQueries();
  const check = await new Deno.Command("promtool", {
    args: ["check", "rules", `${root}alerts/bitcoind-ipc-exporter.rules.yml`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(check.stdout);
  assertEquals(check.code, 0, out);
  assertEquals(Number(/SUCCESS: (\d+) rules found/.exec(out)?.[1]), alerts.length, "every rule read here");
  const tests = await Deno.readTextFile(`${root}alerts/tests.yml`);
  for (const a of alerts) {
    const sel = selectors(a.expr, families);
    assert(sel.length > 0, `${a.where}: no exporter metric in ${a.expr}`);
    for (const s of sel) assert(families.includes(s.family) || s.family in PENDING, `${a.where}: ${s.family}`);
    for (const f of a.flavours ?? []) assert((FLAVOURS as readonly string[]).includes(f), `${a.where}: ${f}`);
    const name = a.where.replace("alert ", "");
    assert(new RegExp(`alertname: ${name}\\n`).test(tests), `alerts/tests.yml has no test of ${name}`);
  }
});
