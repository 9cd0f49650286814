import { assertEquals, assertThrows } from "../../tests/support/assert.ts";
import type { CollectorSpec } from "./collector.ts";
import { CollectorFlagError, collectorHelp, collectorSwitches } from "./switches.ts";

const spec = (name: string, defaultEnabled?: boolean): CollectorSpec => ({
  name,
  help: `the ${name} source`,
  defaultEnabled,
  create: () => {
    throw new Error("not made in this test");
  },
});
const SPECS = [spec("chain"), spec("utxo_cache"), spec("node"), spec("fancy", false)];

Deno.test("collector switches: defaults, on, off, =true/false; other arguments pass through in order", () => {
  const all = collectorSwitches(["--debug", "/s.sock"], SPECS);
  assertEquals([...all.enabled], ["chain", "utxo_cache", "node"]);
  assertEquals(all.rest, ["--debug", "/s.sock"]);
  const r = collectorSwitches(
    ["--no-collector.utxo_cache", "/s.sock", "--collector.fancy", "--collector.node=false", "--collector.chain=true"],
    SPECS,
  );
  assertEquals([...r.enabled], ["chain", "fancy"]);
  assertEquals(r.rest, ["/s.sock"]);
  assertEquals(collectorSwitches(["--", "--no-collector.node"], SPECS).rest, ["--", "--no-collector.node"]);
});

Deno.test("collector switches: unknown names, malformed flags and contradictions are one-line errors", () => {
  assertThrows(() => collectorSwitches(["--no-collector.utxo"], SPECS), CollectorFlagError, 'unknown collector "utxo"');
  assertThrows(() => collectorSwitches(["--collector.Chain"], SPECS), CollectorFlagError, "invalid collector flag");
  assertThrows(
    () => collectorSwitches(["--collector.node", "--no-collector.node"], SPECS),
    CollectorFlagError,
    "both on and off",
  );
});

Deno.test("collector switches: --help lists every registered collector with its default", () => {
  const help = collectorHelp(SPECS);
  assertEquals(help.split("\n").length, 4);
  assertEquals(help.includes("--[no-]collector.utxo_cache"), true);
  assertEquals(help.includes("the fancy source (default off)"), true);
});
