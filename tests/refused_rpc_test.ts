/**
 * A node that refuses JSON-RPC methods (an -rpcwhitelist that leaves them out, or an older build
 * without them) answers each with one JSON-RPC error. The exporter logs one line per refused method
 * and distinct error, naming the metrics it leaves out — not one per field it would have read from
 * the answer — and serves everything else.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";

const REFUSED = ["getblockstats", "getblockchaininfo", "getmempoolinfo", "getnetworkinfo"];

Deno.test("v32: a refused JSON-RPC method is one log line naming the metrics it leaves out, not one per field", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  // Bitcoin Core's answer to a method its RPC table lacks (rpc/server.cpp: RPC_METHOD_NOT_FOUND).
  for (const m of REFUSED) await peer.ok(`rpc ${m} error -32601 Method not found`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to .* \(flavour v32\)/);
    // Several scrapes (and the rounds behind them): a failure that persists is still one line.
    for (let i = 0; i < 3; i++) {
      await exp.scrape();
      await new Promise((r) => setTimeout(r, 600));
    }
    const s = samples(await exp.scrape());
    for (const m of ["bitcoin_header_height", "bitcoin_mempool_size", "bitcoin_last_block_transactions"]) {
      assertEquals(s.has(m), false, m);
    }
    // What the refused methods do not feed is served.
    assert(s.has("bitcoin_peers"), "getconnectioncount's metric");
    assert(s.has("bitcoin_bytes_recv_total"), "getnettotals' metric");
    const about = (m: string) => exp.lines.filter((l) => new RegExp(`\\b${m} failed: Method not found`).test(l));
    for (const m of REFUSED) assertEquals(about(m).length, 1, `${m}:\n${exp.lines.join("\n")}`);
    // Besides those four, one line: block_events, which cannot read header times without
    // getblockchaininfo, fails its scrapes (collector_success 0), said once, not once per scrape.
    const problems = exp.lines.filter((l) => / (WARN|ERROR) /.test(l));
    assertEquals(problems.length, REFUSED.length + 1, problems.join("\n"));
    assert(problems.some((l) => /collector block_events: .*getblockchaininfo/.test(l)), problems.join("\n"));
    assertEquals(s.get(`bitcoind_ipc_exporter_collector_success{collector="block_events"}`), "0");
    // Each line names the metrics its method leaves out.
    assert(/bitcoin_last_block_transactions/.test(about("getblockstats")[0]), about("getblockstats")[0]);
    assert(/bitcoin_header_height/.test(about("getblockchaininfo")[0]), about("getblockchaininfo")[0]);
    assert(/bitcoin_mempool_size\b/.test(about("getmempoolinfo")[0]), about("getmempoolinfo")[0]);
    assert(/bitcoin_time_offset_seconds/.test(about("getnetworkinfo")[0]), about("getnetworkinfo")[0]);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});
