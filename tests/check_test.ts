/**
 * `--check` end to end: main.ts with the narrow permissions, against the C++ peer playing a flavour:
 * the flavour, the families given and not given (with why), the collectors and their cost, exit 0;
 * an unreachable node is one line and exit 1. The subscriptions a check makes are disconnected
 * before the socket closes (the peer would exit 71 otherwise, as the node dies).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { freePort, runCli, socketFlags } from "./support/exporter.ts";
import { COLLECTOR_COST, familyCatalogue } from "../src/cli/check.ts";
import { COLLECTORS } from "../src/collectors/mod.ts";

/**
 * main.ts --check granted the socket alone (read, write, connect): it listens on nothing, so a listen address given
 * on the command line is not granted (the issue's `--allow-net=unix:S main.ts --check S` exited 2 for one).
 */
async function check(socket: string, args: string[] = []) {
  const listen = `127.0.0.1:${freePort()}`;
  return await runCli(["--check", "--metrics-addr", listen, ...args, socket], socketFlags(socket));
}

/** The report's section after `heading`, as `name → rest of the line`. */
function section(stdout: string, heading: RegExp): Map<string, string> {
  const lines = stdout.split("\n");
  const start = lines.findIndex((l) => heading.test(l));
  assert(start >= 0, `no section ${heading} in:\n${stdout}`);
  const out = new Map<string, string>();
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith("  ")) break;
    const [name, ...rest] = l.trim().split(/\s+/);
    out.set(name, rest.join(" "));
  }
  return out;
}

Deno.test("--check on pr-trace: every family but those the node has no value for, every collector on with its cost, exit 0", async () => {
  const peer = await TestPeer.start();
  try {
    await peer.ok("set isInitialBlockDownload 0");
    const r = await check(peer.socketPath);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, `node at ${peer.socketPath}: flavour pr-trace (`);
    const collectors = section(r.stdout, /^collectors:$/);
    assertEquals([...collectors.keys()], COLLECTORS.map((c) => c.name));
    assertStringIncludes(collectors.get("utxo_cache")!, "on cost: one synchronous round trip per coin");
    assertStringIncludes(collectors.get("utxo_cache")!, "~76 µs each");
    const given = section(r.stdout, /^metric families this node gives \(\d+\):$/);
    const missing = section(r.stdout, /^metric families it does not give \(\d+\):$/);
    assertEquals(given.get("bitcoin_utxo_cache_add_total"), "(1 series)");
    const onByDefault = COLLECTORS.filter((c) => c.defaultEnabled !== false);
    assertEquals(given.get("bitcoind_ipc_exporter_collector_success"), `(${onByDefault.length} series)`);
    assert(given.has("bitcoin_peers") && given.has("bitcoin_mempool_tx_added_total"), r.stdout);
    // getblockstats through Node.executeRpc, the build and process families, B's scrape collectors.
    for (
      const f of [
        "bitcoin_last_block_inputs",
        "bitcoin_chain_transactions_total",
        "bitcoind_ipc_exporter_build_info",
        "process_cpu_seconds_total",
      ]
    ) {
      assertEquals(given.get(f), "(1 series)", r.stdout);
    }
    assertEquals(given.get("bitcoin_chain_tips"), "(5 series)", r.stdout);
    assertMatch(
      collectors.get("last_block")!,
      /^on cost: one getblockstats and one getchaintxstats .* once tips settle/,
    );
    assertMatch(collectors.get("block_events")!, /^on cost: none per tip outside IBD/);
    assertMatch(collectors.get("mempool")!, /^on cost: getmempoolfeeratediagram/);
    // The template collector is off by default: its families say so.
    const template = [...missing.keys()].filter((f) => f.startsWith("bitcoin_block_template_"));
    assertEquals(template.length, 4, r.stdout);
    for (const f of template) {
      assertStringIncludes(missing.get(f)!, "collector template is switched off (--collector.template");
      missing.delete(f);
    }
    // The peer's defaults: no peers, no fee estimate, not pruned; each named for what it is.
    assertEquals([...missing.keys()], [
      "bitcoin_prune_height",
      "bitcoin_peer_connections",
      "bitcoin_peer_ping_seconds",
      "bitcoin_peers_high_bandwidth",
      "bitcoin_fee_estimate_sat_per_vbyte",
    ], r.stdout);
    assertStringIncludes(missing.get("bitcoin_prune_height")!, "the node is not pruned");
    assertStringIncludes(missing.get("bitcoin_peer_connections")!, "the node has no peers now");
    assertStringIncludes(missing.get("bitcoin_fee_estimate_sat_per_vbyte")!, "no fee estimate");
    // Every family this build has is in one list or the other.
    assertEquals(given.size + missing.size + template.length, familyCatalogue().length);
    // Subscribed, then disconnected before the socket closed.
    await peer.waitNotice(/^subscribed utxo/);
    await peer.waitNotice(/^unsubscribed utxo/);
    await peer.waitStatus((s) => s.connected === "0");
  } finally {
    assertEquals(await peer.stop(), 0, "the peer (as the node) survived the check");
  }
});

Deno.test("--check on v32: a collector switched off, a read the node refuses, and what the flavour lacks", async () => {
  const peer = await TestPeer.start({ flavour: "v32" });
  try {
    // As a node with -rpcwhitelist that leaves out getnettotals answers.
    await peer.ok("rpc getnettotals error -32603 Forbidden by -rpcwhitelist");
    const r = await check(peer.socketPath, ["--no-collector.last_block"]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "flavour v32 (stock master / v32");
    const collectors = section(r.stdout, /^collectors:$/);
    assertMatch(collectors.get("last_block")!, /^off /);
    assertMatch(collectors.get("utxo_cache")!, /^on, nothing to read on this flavour/);
    const missing = section(r.stdout, /^metric families it does not give \(\d+\):$/);
    assertStringIncludes(missing.get("bitcoin_last_block_inputs")!, "collector last_block is switched off");
    assertStringIncludes(
      missing.get("bitcoin_utxo_cache_add_total")!,
      "not on flavour v32: needs the UTXO cache trace",
    );
    assertStringIncludes(
      missing.get("bitcoin_mempool_tx_added_total")!,
      "not on flavour v32: needs chain notifications",
    );
    for (const f of ["bitcoin_bytes_recv_total", "bitcoin_bytes_sent_total"]) {
      assertStringIncludes(missing.get(f)!, "the node's answers lacked it: JSON-RPC over IPC: getnettotals");
      assertStringIncludes(missing.get(f)!, "Forbidden by -rpcwhitelist");
    }
    const given = section(r.stdout, /^metric families this node gives \(\d+\):$/);
    assert(given.has("bitcoin_peers") && given.has("bitcoin_blocks_connected_total"), r.stdout);
    // One method refused leaves its metrics out alone: the collector itself still reads the rest.
    assertMatch(collectors.get("node")!, /^on cost:/);
  } finally {
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("--check on v31 (Mining alone): every scrape-time and per-tip family says what the flavour lacks", async () => {
  const peer = await TestPeer.start({ flavour: "v31" });
  try {
    const r = await check(peer.socketPath);
    assertEquals(r.code, 0, r.stderr);
    const given = section(r.stdout, /^metric families this node gives \(\d+\):$/);
    const missing = section(r.stdout, /^metric families it does not give \(\d+\):$/);
    for (
      const f of [
        "bitcoin_ibd",
        "bitcoin_block_height",
        "bitcoind_ipc_exporter_build_info",
        "deno_heap_size_used_bytes",
      ]
    ) {
      assert(given.has(f), `${f} given on v31:\n${r.stdout}`);
    }
    const lacks = "not on flavour v31: needs the Node and Chain interfaces or JSON-RPC over IPC";
    for (const f of ["bitcoin_difficulty", "bitcoin_peer_connections", "bitcoin_fee_estimate_sat_per_vbyte"]) {
      assertStringIncludes(missing.get(f)!, lacks);
    }
    assertStringIncludes(missing.get("bitcoin_mempool_fee_rate_sat_per_vbyte")!, lacks);
    for (const f of ["bitcoin_peer_ping_seconds", "bitcoin_peers_high_bandwidth"]) {
      assertStringIncludes(missing.get(f)!, "not on flavour v31: needs getpeerinfo or Node.getNodesStats");
    }
    assertStringIncludes(missing.get("bitcoin_reorgs_total")!, "not on flavour v31: needs chain notifications, or");
    assertStringIncludes(missing.get("bitcoin_block_interval_seconds")!, "not on flavour v31: needs JSON-RPC");
    assertStringIncludes(missing.get("bitcoin_last_block_inputs")!, "not on flavour v31: needs JSON-RPC");
    assertStringIncludes(missing.get("bitcoin_chain_transactions_total")!, "not on flavour v31: needs JSON-RPC");
    // No family is absent for want of a value: on v31 each absence is the flavour's (the template
    // collector's are switched off by default).
    for (const [f, why] of missing) {
      if (f.startsWith("bitcoin_block_template_")) assertStringIncludes(why, "collector template is switched off", f);
      else assertStringIncludes(why, "not on flavour v31: needs", f);
    }
    const collectors = section(r.stdout, /^collectors:$/);
    for (const c of ["last_block", "block_events", "chaininfo", "network", "fees", "mempool"]) {
      assertMatch(collectors.get(c)!, /^on, nothing to read on this flavour/, c);
    }
  } finally {
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("--check --collector.template: given on v31 with its cost; on pr-trace absent, naming why", async () => {
  for (const [flavour, shown] of [["v31", "v31"], ["branch", "pr-trace"]] as const) {
    const peer = await TestPeer.start({ flavour });
    try {
      const r = await check(peer.socketPath, ["--collector.template"]);
      assertEquals(r.code, 0, r.stderr);
      const collectors = section(r.stdout, /^collectors:$/);
      assertMatch(
        collectors.get("template")!,
        shown === "v31" ? /^on cost: one Mining\.createNewBlock/ : /^on, nothing to read on this flavour/,
      );
      const given = section(r.stdout, /^metric families this node gives \(\d+\):$/);
      const missing = section(r.stdout, /^metric families it does not give \(\d+\):$/);
      for (const f of ["fees_satoshis", "transactions", "sigops", "age_seconds"]) {
        const name = `bitcoin_block_template_${f}`;
        if (shown === "v31") assertEquals(given.get(name), "(1 series)", r.stdout);
        else assertStringIncludes(missing.get(name)!, "not on flavour pr-trace: needs stock Mining", r.stdout);
      }
    } finally {
      assertEquals(await peer.stop(), 0);
    }
  }
});

Deno.test("--check with no node: one line naming the cause, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await check(`${dir}/node.sock`);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      r.stdout,
      `node at ${dir}/node.sock: not reachable or not detected: IPC socket ${dir}/node.sock does not exist (is bitcoin-node running with -ipcbind=unix?)\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every collector has its cost for --check (README 'What each collector costs the node')", () => {
  for (const c of COLLECTORS) {
    assert(COLLECTOR_COST[c.name], `src/cli/check.ts COLLECTOR_COST has no entry for ${c.name}`);
  }
});
