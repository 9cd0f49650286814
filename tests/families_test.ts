/**
 * The issue-12 families end to end, past the whole-/metrics comparisons of flavour_test.ts: the
 * conf-target flag, answers that lack or retype a field (each metric left out, logged once, never a
 * zero), block intervals and reorg depths from real tip sequences on v32 (tip walk) and on a branch
 * (ChainNotifications, header times through Node.executeRpc).
 */
import { assert, assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { scrapeUntil, waitFor } from "./support/wait.ts";
import { blockEvents, fixtureLine, normalise } from "./support/exposition.ts";

const H = (n: number, fork = "a") => (fork + n.toString(16)).padStart(64, "0");
const HASH = "22".repeat(32);

/** How many times the peer answered `key` (e.g. `rpc.getblockchaininfo`) on this connection. */
async function calls(peer: TestPeer, key: string): Promise<number> {
  const st = await peer.status();
  const kv = st.calls.split(",").find((c) => c.slice(0, c.lastIndexOf(":")) === key);
  return kv ? Number(kv.slice(kv.lastIndexOf(":") + 1)) : 0;
}

/** The recorded getblockchaininfo with `blocks`, `time` and `initialblockdownload` replaced. */
function chainInfo(blocks: number, time: number, ibd = false): string {
  const c = JSON.parse(fixtureLine("rpc/getblockchaininfo.json"));
  return JSON.stringify({ ...c, blocks, headers: blocks, time, initialblockdownload: ibd });
}

Deno.test("--fee-conf-targets: one estimatesmartfee per target in the round, one series each, in sat/vB", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const exp = ExporterProc.start({ socketPath: peer.socketPath, args: ["--fee-conf-targets", "3,1008"] });
  try {
    // 0.00012345 BTC/kvB = 12345 sat/kvB = 12.345 sat/vB (exactly, through integer sat/kvB).
    await peer.ok(`rpc estimatesmartfee {"feerate":0.00012345,"blocks":3}`);
    await exp.waitLog(/connected to .* \(flavour v32\)/);
    const body = await scrapeUntil(() => exp.scrape(), (s) => s.has(`bitcoin_chain_tips{status="active"}`), "a round");
    const s = samples(body);
    assertEquals(s.get(`bitcoin_fee_estimate_sat_per_vbyte{conf_target="3"}`), "12.345");
    assertEquals(s.get(`bitcoin_fee_estimate_sat_per_vbyte{conf_target="1008"}`), "12.345");
    assertEquals([...s.keys()].filter((k) => k.startsWith("bitcoin_fee_estimate")).length, 2);
    assertEquals(await calls(peer, "rpc.estimatesmartfee"), 2 * await calls(peer, "rpc.getchaintips"));
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("v32: a missing, retyped or failed field of the new answers leaves its metric out, logged once, never a zero", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const c = JSON.parse(fixtureLine("rpc/getblockchaininfo.json"));
  delete c.difficulty;
  c.size_on_disk = "31478";
  const n = JSON.parse(fixtureLine("rpc/getnetworkinfo.json"));
  n.networkactive = "yes";
  delete n.subversion;
  await peer.ok(`rpc getblockchaininfo ${JSON.stringify(c)}`);
  await peer.ok(`rpc getnetworkinfo ${JSON.stringify(n)}`);
  await peer.ok(`rpc getmempoolfeeratediagram [{"weight":0,"fee":0},{"weight":437}]`);
  await peer.ok(`rpc getchaintips {"active":1}`);
  await peer.ok("rpc listbanned error -32603 test failure");
  await peer.ok(`rpc getpeerinfo [{"inbound":true,"network":"ipv4"}]`);
  await peer.ok(`rpc estimatesmartfee {"feerate":"1","blocks":2}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to .* \(flavour v32\)/);
    const s = samples(await exp.scrape());
    for (
      const m of [
        "bitcoin_difficulty",
        "bitcoin_blockchain_size_bytes",
        "bitcoin_network_active",
        `bitcoin_node_info{version="319900",subversion="/Satoshi:31.99.0/",chain="regtest"}`,
        `bitcoin_chain_tips{status="active"}`,
        "bitcoin_banned_addresses",
        "bitcoin_mempool_fee_rate_sat_per_vbyte_count",
      ]
    ) {
      assertEquals(s.has(m), false, m);
    }
    assert(
      ![...s.keys()].some((k) => /^bitcoin_(node_info|peer_connections|fee_estimate)/.test(k)),
      [...s.keys()].join(),
    );
    // The rest of the same answers is served.
    assertEquals(s.get("bitcoin_block_timestamp_seconds"), "1795483001");
    assertEquals(s.get("bitcoin_time_offset_seconds"), "0");
    assertEquals(s.get(`bitcoin_connections{direction="outbound"}`), "1");
    assertEquals(s.get("bitcoin_mempool_vsize_vbytes"), "0");
    for (
      const line of [
        /getblockchaininfo\.difficulty is missing in the node's answer; the metric it feeds is left out/,
        /getblockchaininfo\.size_on_disk is not a number/,
        /getnetworkinfo\.networkactive is not a boolean/,
        /getnetworkinfo\.subversion is missing/,
        /getmempoolfeeratediagram: a point lacks an integer weight or a numeric fee/,
        /getchaintips is not an array/,
        /listbanned failed: test failure \(code -32603\); left out: bitcoin_banned_addresses/,
        /getpeerinfo: a peer lacks inbound, network or connection_type/,
        /estimatesmartfee\(2\): feerate is not a number/,
      ]
    ) {
      await exp.waitLog(line);
    }
    await new Promise((r) => setTimeout(r, 1100)); // the next round
    await exp.scrape();
    assertEquals(exp.lines.filter((l) => l.includes("getblockchaininfo.difficulty")).length, 1, "logged once");
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("v32: block intervals from header times, skipped in IBD and across a reorg; reorg depth from the tip walk", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const t0 = 1795483001;
  await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
  await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0)}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/watching the chain tip \(height 105\)/);
    await waitFor("the read at connect", async () => await calls(peer, "rpc.getblockchaininfo") >= 1 || undefined);
    // Each tip: the node's header time for it, then the tip; block_events reads it once (no scrape
    // meanwhile, so every getblockchaininfo counted is that read).
    const step = async (tip: string, info: string) => {
      const before = await calls(peer, "rpc.getblockchaininfo");
      await peer.ok(`rpc getblockchaininfo ${info}`);
      await peer.ok(`set tip ${tip}`);
      await waitFor(`the read of ${tip}`, async () => await calls(peer, "rpc.getblockchaininfo") > before || undefined);
    };
    await step(`106 ${H(106)} ${H(105)}`, chainInfo(106, t0 + 600)); // 600 s
    await step(`107 ${H(107)} ${H(106)}`, chainInfo(107, t0 + 630)); // 30 s
    await step(`108 ${H(108)} ${H(107)}`, chainInfo(108, t0 + 9000, true)); // in IBD: not observed
    await step(`109 ${H(109)} ${H(108)}`, chainInfo(109, t0 + 8000)); // before its parent: 0 s
    // A sibling of 109: one disconnected, one connected: a reorg of depth 1, no interval.
    await step(`109 ${H(109, "b")} ${H(108)}`, chainInfo(109, t0 + 9100));
    // Two blocks at once (110 and 111 announced as one tip change): a jump, not an interval.
    await peer.ok(`set tip 110 ${H(110, "b")} ${H(109, "b")}`);
    await step(`111 ${H(111, "b")} ${H(110, "b")}`, chainInfo(111, t0 + 9700));
    const body = normalise(
      await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_reorgs_total") === "1", "the reorg"),
    );
    assert(body.includes(blockEvents([1], [600, 30, 0])), body);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("branch: reorg depth from ChainNotifications, block intervals from header times through Node.executeRpc", async () => {
  const peer = await TestPeer.start();
  const t0 = 1795483001;
  await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0)}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    await waitFor("the read at connect", async () => await calls(peer, "rpc.getblockchaininfo") >= 1 || undefined);
    // The node's header time for the new tip, then its updatedBlockTip; block_events reads it once
    // through Node.executeRpc (no scrape meanwhile, so every getblockchaininfo counted is that read).
    const tip = async (height: number, time: number) => {
      const before = await calls(peer, "rpc.getblockchaininfo");
      await peer.ok(`rpc getblockchaininfo ${chainInfo(height, time)}`);
      await peer.ok("fire updatedBlockTip");
      await waitFor(
        `the read of ${height}`,
        async () => await calls(peer, "rpc.getblockchaininfo") > before || undefined,
      );
    };
    await peer.ok(`fire blockConnected 106 ${HASH} 0`);
    await tip(106, t0 + 420); // 420 s
    // A reorg of depth 3: three blocks disconnected, four connected, then one tip update.
    for (let h = 106; h > 103; h--) await peer.ok(`fire blockDisconnected ${h} ${HASH}`);
    for (let h = 104; h <= 107; h++) await peer.ok(`fire blockConnected ${h} ${HASH} 0`);
    await tip(107, t0 + 1000); // across the reorg: no interval
    await peer.ok(`fire blockConnected 108 ${HASH} 0`);
    await tip(108, t0 + 1100); // 100 s
    const body = normalise(
      await scrapeUntil(
        () => exp.scrape(),
        (s) => s.get("bitcoin_block_interval_seconds_count") === "2" && s.get("bitcoin_reorgs_total") === "1",
        "the tips",
      ),
    );
    assert(body.includes(blockEvents([3], [420, 100])), body);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("branch: fee estimates as the RPC reports them, pool minimum as getmempoolinfo does, warnings counted, pruning from getblockchaininfo", async () => {
  const peer = await TestPeer.start();
  await peer.ok("set feeEstimate 2 25000"); // 25 sat/vB
  await peer.ok("set feeEstimate 6 50"); // 0.05 sat/vB: below the relay minimum, reported as 0.1
  await peer.ok("set mempoolMinFee 30"); // the pool's own minimum, 0.03: below the relay minimum
  await peer.ok("set warnings first warning<hr />second warning");
  const c = JSON.parse(fixtureLine("rpc/getblockchaininfo.json"));
  await peer.ok(`rpc getblockchaininfo ${JSON.stringify({ ...c, pruned: true, pruneheight: 42 })}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath, args: ["--fee-conf-targets", "2,6,144"] });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    const s = samples(
      await scrapeUntil(() => exp.scrape(), (s) => s.has("bitcoin_warnings"), "the fees collector's read"),
    );
    assertEquals(s.get(`bitcoin_fee_estimate_sat_per_vbyte{conf_target="2"}`), "25");
    assertEquals(s.get(`bitcoin_fee_estimate_sat_per_vbyte{conf_target="6"}`), "0.1");
    assertEquals(s.has(`bitcoin_fee_estimate_sat_per_vbyte{conf_target="144"}`), false, "no estimate: absent");
    assertEquals(s.get("bitcoin_mempool_min_fee_sat_per_vbyte"), "0.1");
    assertEquals(s.get("bitcoin_warnings"), "2");
    assertEquals([s.get("bitcoin_pruned"), s.get("bitcoin_prune_height")], ["1", "42"]);
    const st = await peer.status();
    assert(/estimateSmartFee:3\b/.test(st.calls), st.calls);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("v32 in IBD: per-tip reads (getblockstats, the tip's header time) are paced, not one per block of the sync", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const t0 = 1795483001;
  await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
  await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0, true)}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to .* \(flavour v32\)/);
    await waitFor("the reads at connect", async () => await calls(peer, "rpc.getblockstats") >= 1 || undefined);
    const stats0 = await calls(peer, "rpc.getblockstats");
    const info0 = await calls(peer, "rpc.getblockchaininfo");
    // Ten blocks of a sync, 100 ms apart (no scrape meanwhile: every call counted is a per-tip read).
    for (let h = 106; h <= 115; h++) {
      await peer.ok(`set tip ${h} ${H(h)} ${H(h - 1)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // One read each at once, the rest coalesced behind the IBD pause (2 s), never one per block.
    assert(await calls(peer, "rpc.getblockstats") - stats0 <= 2, (await peer.status()).calls);
    assert(await calls(peer, "rpc.getblockchaininfo") - info0 <= 2, (await peer.status()).calls);
    // Paced, not stopped: the newest tip is read after the pause.
    await waitFor("the coalesced read", async () => await calls(peer, "rpc.getblockstats") - stats0 >= 2 || undefined);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});
