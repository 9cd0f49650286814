/**
 * What the exporter loads, read from Deno's own module graph (`deno info --json main.ts`), not from
 * timing or memory: the generated code of the branch generations (Chain, Node, Tracing of every
 * generation) is behind one dynamic import that only a branch node's detection reaches, so a stock
 * node's exporter (v30, v31, v32) never loads it; and gen/ holds only what the code names.
 */
import { assert, assertEquals } from "./support/assert.ts";

const root = new URL("../", import.meta.url);

interface Dep {
  specifier: string;
  code?: { specifier?: string };
  isDynamic?: boolean;
}
interface Graph {
  roots: string[];
  modules: { specifier: string; dependencies?: Dep[] }[];
}

async function graph(): Promise<Graph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The modules reached from the root by code (not type-only) imports; dynamic ones only if asked. */
function reached(g: Graph, dynamic: boolean): Set<string> {
  const byName = new Map(g.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...g.roots];
  while (stack.length) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of byName.get(s)?.dependencies ?? []) {
      if (d.code?.specifier && (dynamic || !d.isDynamic)) stack.push(d.code.specifier);
    }
  }
  return seen;
}

const rel = (s: string) => s.startsWith(root.href) ? s.slice(root.href.length) : s;

/** The stock Mining generations' generated modules. */
const STOCK_GEN = ["gen/mining.ts", "gen/v30/mining.ts", "gen/v31/mining.ts"];

/** The branch generations' generated modules. */
const BRANCH_GEN = [
  "gen/chain.ts",
  "gen/node.ts",
  "gen/tracing.ts",
  "gen/chain5/chain.ts",
  "gen/pr-ipc/chain.ts",
  "gen/pr-ipc/node.ts",
];

Deno.test("module graph: the branch generations load only through branch.ts's dynamic import, which a stock node never reaches", async () => {
  const g = await graph();
  const fixed = [...reached(g, false)].map(rel);
  const all = [...reached(g, true)].map(rel);
  for (const m of BRANCH_GEN) {
    assert(all.includes(m), `${m} is in the graph at all (the test looks at the right names)`);
    assertEquals(fixed.includes(m), false, `${m} is loaded at start`);
  }
  // The one way in: branch.ts → branch_gen.ts, dynamic.
  const dynamicEdges = g.modules.flatMap((m) =>
    (m.dependencies ?? []).filter((d) => d.isDynamic && d.code?.specifier?.startsWith(root.href))
      .map((d) => `${rel(m.specifier)} → ${rel(d.code!.specifier!)}`)
  );
  assert(dynamicEdges.includes("src/ipc/branch.ts → src/ipc/branch_gen.ts"), dynamicEdges.join(", "));
  // What detection calls before it knows the generation (each Init, and Rpc) is in the fixed graph.
  for (const m of ["gen/v32/init.ts", "gen/v31/init.ts", "gen/v30/init.ts", "gen/chain5/init.ts", "gen/rpc.ts"]) {
    assert(fixed.includes(m), `${m} is loaded at start`);
  }
});

Deno.test("module graph: the Mining generations load only through stock.ts's dynamic import, which a branch node never reaches", async () => {
  const g = await graph();
  const fixed = [...reached(g, false)].map(rel);
  const all = [...reached(g, true)].map(rel);
  for (const m of STOCK_GEN) {
    assert(all.includes(m), `${m} is in the graph at all`);
    assertEquals(fixed.includes(m), false, `${m} is loaded at start`);
  }
  const edges = g.modules.flatMap((m) =>
    (m.dependencies ?? []).filter((d) => d.isDynamic && d.code?.specifier?.startsWith(root.href))
      .map((d) => `${rel(m.specifier)} → ${rel(d.code!.specifier!)}`)
  );
  assert(edges.includes("src/ipc/stock.ts → src/ipc/stock_gen.ts"), edges.join(", "));
});

Deno.test("module graph: nothing loaded at start is a node: module, and the web config's npm packages load only when a config needs them", async () => {
  const g = await graph();
  const fixed = [...reached(g, false)];
  // node:util (flags), node:zlib (gzip), node:process (CPU time) and bcryptjs's node:crypto each
  // loaded a piece of Deno's Node layer (RSS, issue 21).
  assertEquals(fixed.filter((s) => s.startsWith("node:")), []);
  for (const pkg of ["js-yaml", "bcryptjs"]) {
    assertEquals(
      fixed.filter((s) => s.startsWith(`npm:${pkg}@`) || s.startsWith(`npm:/${pkg}@`)),
      [],
      `${pkg} is loaded at start`,
    );
    assert(
      [...reached(g, true)].some((s) => s.startsWith(`npm:${pkg}@`) || s.startsWith(`npm:/${pkg}@`)),
      `${pkg} is in the graph at all`,
    );
  }
});

Deno.test("gen/ is trimmed to what the code names: Chain's table holds the methods called, not the other ones", async () => {
  const { Chain$Client } = await import("../gen/chain.ts");
  const kept = Chain$Client.methods.flatMap((m, i) => m ? [`${i}:${m.methodName}`] : []);
  // findBlock (@7) is in the schema and never called: no entry, no params class.
  assertEquals(Chain$Client.methods[7], undefined);
  assert(kept.includes("1:getHeight") && kept.includes("39:handleNotifications"), kept.join(" "));
  assert(kept.length < Chain$Client.methods.length / 2, `${kept.length} of ${Chain$Client.methods.length} kept`);
  const text = await Deno.readTextFile(new URL("gen/chain.ts", root));
  assertEquals(/class Chain_FindBlock\$Params\b/.test(text), false);
  assertEquals(/class \w+\$Server\b|\$Promise\b/.test(text), false);
});
