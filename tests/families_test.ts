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

/** How many times the peer answered `key` (e.g. `rpc.getblockchaininfo`) on this connection. */
async function calls(peer: TestPeer, key: string): Promise<number> {
  const st = await peer.status();
  const kv = st.calls.split(",").find((c) => c.slice(0, c.lastIndexOf(":")) === key);
  return kv ? Number(kv.slice(kv.lastIndexOf(":") + 1)) : 0;
}

/** The recorded getblockchaininfo with `blocks`, `time` and `initialblockdownload` replaced. */
function chainInfo(blocks: number, time: number, ibd = false, bestblockhash?: string): string {
  const c = JSON.parse(fixtureLine("rpc/getblockchaininfo.json"));
  return JSON.stringify({
    ...c,
    blocks,
    headers: blocks,
    time,
    initialblockdownload: ibd,
    ...bestblockhash && { bestblockhash },
  });
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

Deno.test("v32: every block interval from the tip walk's headers, coalesced tips included; reorg depth; no read per tip", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const t0 = 1795483001;
  await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
  await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0, false, H(105))}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/watching the chain tip \(height 105\)/);
    await waitFor("the read at connect", async () => await calls(peer, "rpc.getblockchaininfo") >= 1 || undefined);
    const info0 = await calls(peer, "rpc.getblockchaininfo");
    const tips = (from: number, ...blocks: [string, string, number][]) =>
      peer.ok(`set tips ${from} ${blocks.map(([h, p, t]) => `${h}:${p}:${t}`).join(" ")}`);
    const walked = (n: number) =>
      scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_tip_updates_total") === `${n}`, `tip change ${n}`);
    await tips(106, [H(106), H(105), t0 + 600]); // 600 s from the tip read at connect
    await walked(1);
    // Three blocks in one go (generatetoaddress 3): one tip change, three intervals.
    await tips(107, [H(107), H(106), t0 + 630], [H(108), H(107), t0 + 640], [H(109), H(108), t0 + 400]);
    await walked(2);
    // A sibling of 109: one disconnected, one connected: a reorg of depth 1; its parent's time is known.
    await tips(109, [H(109, "b"), H(108), t0 + 700]);
    await walked(3);
    const body = normalise(
      await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_reorgs_total") === "1", "the reorg"),
    );
    // 30, 10, then 0 for a header time before its parent's, 60 for the sibling.
    assert(body.includes(blockEvents([1], [600, 30, 10, 0, 60])), body);
    // Outside IBD the intervals cost no read: the getblockchaininfo counted since are the scrapes' rounds.
    assertEquals(await calls(peer, "rpc.getblockchaininfo") - info0, await calls(peer, "rpc.getchaintips"));
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

/** A serialized block of just its header (and no transactions): `prev` display hex, `time` its header time. */
function headerOnlyBlock(prev: string, time: number): string {
  const internal = prev.match(/../g)!.reverse().join("");
  const le = (n: number) => [0, 8, 16, 24].map((s) => ((n >>> s) & 0xff).toString(16).padStart(2, "0")).join("");
  return `hex:${le(0x20000000)}${internal}${"00".repeat(32)}${le(time)}${le(0x207fffff)}${le(0)}00`;
}

Deno.test("branch: every block interval from blockConnected's header, several blocks per tip update; reorg depth; no read per tip", async () => {
  const peer = await TestPeer.start();
  const t0 = 1795483001;
  await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0, false, H(105))}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    await waitFor("the read at connect", async () => await calls(peer, "rpc.getblockchaininfo") >= 1 || undefined);
    const info0 = await calls(peer, "rpc.getblockchaininfo");
    const connect = (height: number, fork: string, parent: string, time: number) =>
      peer.ok(`fire blockConnected ${height} ${H(height, fork)} 0 ${headerOnlyBlock(parent, time)}`);
    // Three blocks, then one tip update (a burst): three intervals.
    await connect(106, "a", H(105), t0 + 420); // 420 s from the tip read at connect
    await connect(107, "a", H(106), t0 + 450); // 30 s
    await connect(108, "a", H(107), t0 + 460); // 10 s
    await peer.ok("fire updatedBlockTip");
    // A reorg of depth 3: three blocks disconnected, four connected, then one tip update.
    for (let h = 108; h > 105; h--) await peer.ok(`fire blockDisconnected ${h} ${H(h)}`);
    await connect(106, "b", H(105), t0 + 500); // 500 s from the fork point
    await connect(107, "b", H(106, "b"), t0 + 560); // 60 s
    await connect(108, "b", H(107, "b"), t0 + 570); // 10 s
    await connect(109, "b", H(108, "b"), t0 + 680); // 110 s
    await peer.ok("fire updatedBlockTip");
    // Back to the first branch's 108 (connected before: its interval is not observed twice).
    for (let h = 109; h > 105; h--) await peer.ok(`fire blockDisconnected ${h} ${H(h, "b")}`);
    await connect(106, "a", H(105), t0 + 420);
    await peer.ok("fire updatedBlockTip");
    // A block of the historical chainstate (assumeutxo's background sync): history, not observed.
    await peer.ok(`fire blockConnected 107 ${H(107, "h")} 1 ${headerOnlyBlock(H(106), t0 + 9999)}`);
    // Outside IBD nothing is read per tip (counted before any scrape: a scrape's round reads it too).
    await new Promise((r) => setTimeout(r, 1500));
    assertEquals(await calls(peer, "rpc.getblockchaininfo"), info0);
    const body = normalise(
      await scrapeUntil(
        () => exp.scrape(),
        (s) => s.get("bitcoin_block_interval_seconds_count") === "7" && s.get("bitcoin_reorgs_total") === "2",
        "the tips",
      ),
    );
    assert(body.includes(blockEvents([3, 4], [420, 30, 10, 500, 60, 10, 110])), body);
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

Deno.test("v32 in IBD: per-tip reads (getblockstats, IBD's end) wait for the tips to settle: one read for a burst, not one per block", async () => {
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
    // Coalesced: at most one read each while the blocks come (the tips settle first), never one per block.
    assert(await calls(peer, "rpc.getblockstats") - stats0 <= 1, (await peer.status()).calls);
    assert(await calls(peer, "rpc.getblockchaininfo") - info0 <= 1, (await peer.status()).calls);
    // Paced, not stopped: the newest tip is read once the tips settle.
    await waitFor("the coalesced read", async () => await calls(peer, "rpc.getblockstats") - stats0 >= 1 || undefined);
    await waitFor(
      "the coalesced IBD read",
      async () => await calls(peer, "rpc.getblockchaininfo") - info0 >= 1 || undefined,
    );
    const st = await peer.status();
    assertEquals(await calls(peer, "rpc.getblockstats") - stats0, 1, st.calls);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("v32: bitcoin_chain_transactions_total from getchaintxstats of the settled tip (no window); absent while the node does not know it", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const t0 = 1795483001;
  await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
  await peer.ok("set chainTxCount 5000");
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/watching the chain tip \(height 105\)/);
    let s = await scrapeUntil(() => exp.scrape(), (s) => s.has("bitcoin_chain_transactions_total"), "the count");
    assertEquals(samples(s).get("bitcoin_chain_transactions_total"), "5000");
    // Three blocks in one go: one read, of the newest, once the tips settle.
    const reads0 = await calls(peer, "rpc.getchaintxstats");
    await peer.ok("set chainTxCount 5012");
    await peer.ok(
      `set tips 106 ${H(106)}:${H(105)}:${t0 + 1} ${H(107)}:${H(106)}:${t0 + 2} ${H(108)}:${H(107)}:${t0 + 3}`,
    );
    s = await scrapeUntil(
      () => exp.scrape(),
      (s) => s.get("bitcoin_chain_transactions_total") === "5012",
      "the new count",
    );
    assertEquals(await calls(peer, "rpc.getchaintxstats") - reads0, 1);
    // A node that does not know it (assumeutxo): left out, the collector still a success, no zero.
    await peer.ok("set chainTxCount none");
    await peer.ok(`set tips 109 ${H(109)}:${H(108)}:${t0 + 4}`);
    s = await scrapeUntil(() => exp.scrape(), (s) => !s.has("bitcoin_chain_transactions_total"), "the unknown count");
    assertEquals(samples(s).get(`bitcoind_ipc_exporter_collector_success{collector="last_block"}`), "1");
    assertEquals(samples(s).get("bitcoin_last_block_transactions"), "9");
    // A node that refuses the method (-rpcwhitelist without it): left out, one line, still a success.
    await peer.ok("set chainTxCount 5013");
    await peer.ok("rpc getchaintxstats error -32601 Method not found");
    for (const [h, t] of [[110, 5], [111, 6]]) {
      const before = await calls(peer, "rpc.getchaintxstats");
      await peer.ok(`set tips ${h} ${H(h)}:${H(h - 1)}:${t0 + t}`);
      await waitFor(`the read of ${h}`, async () => await calls(peer, "rpc.getchaintxstats") > before || undefined);
    }
    s = await exp.scrape();
    assert(!samples(s).has("bitcoin_chain_transactions_total"), s);
    assertEquals(samples(s).get(`bitcoind_ipc_exporter_collector_success{collector="last_block"}`), "1");
    assertEquals(
      exp.lines.filter((l) => l.includes("getchaintxstats: Method not found")).length,
      1,
      exp.lines.join("\n"),
    );
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("branch: the node never has two per-tip calls at once: while one is held, no other per-tip read is sent", async () => {
  const peer = await TestPeer.start();
  const t0 = 1795483001;
  // In IBD, so block_events reads getblockchaininfo per settled tip as last_block reads getblockstats.
  await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0, true)}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    await waitFor("the reads at connect", async () => await calls(peer, "rpc.getchaintxstats") >= 1 || undefined);
    await new Promise((r) => setTimeout(r, 300)); // the attach reads answered (no scrape: every call is a per-tip read)
    const before = await calls(peer, "Node.executeRpc");
    const info0 = await calls(peer, "rpc.getblockchaininfo");
    await peer.ok("stall Node.executeRpc");
    await peer.ok(`fire blockConnected 106 ${H(106)} 0`);
    await peer.ok("fire updatedBlockTip");
    await waitFor("the first per-tip read", async () => await calls(peer, "Node.executeRpc") > before || undefined);
    // Well past the settle time: the other collector's read has not been sent while the first is held.
    await new Promise((r) => setTimeout(r, 1500));
    assertEquals(await calls(peer, "Node.executeRpc"), before + 1, (await peer.status()).calls);
    await peer.ok("stall none");
    // Then both, one after the other: getblockstats, getchaintxstats; getblockchaininfo (the tip's
    // hash came with blockConnected: no getbestblockhash).
    await waitFor("both reads", async () => await calls(peer, "Node.executeRpc") >= before + 3 || undefined);
    assertEquals(await calls(peer, "rpc.getblockchaininfo"), info0 + 1);
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(await calls(peer, "Node.executeRpc"), before + 3, (await peer.status()).calls);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("pr-ipc (2024 layout): block intervals from blockConnected's header at its pointer (a big block's through a far pointer), background blocks left out", async () => {
  const peer = await TestPeer.start({ flavour: "pr-ipc" });
  const t0 = 1795483001;
  await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0, false, H(105))}`);
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    await waitFor("the read at connect", async () => await calls(peer, "rpc.getblockchaininfo") >= 1 || undefined);
    await peer.ok(`fire blockConnected 106 ${H(106)} 0 ${headerOnlyBlock(H(105), t0 + 300)}`);
    await peer.ok(`fire blockConnected 107 ${H(107)} 1 ${headerOnlyBlock(H(106), t0 + 5000)}`); // background
    await peer.ok(`fire blockConnected 107 ${H(107, "b")} 0 ${headerOnlyBlock(H(106), t0 + 420)}`);
    // A block too big for the message's first segment: its data is reached through a far pointer.
    const big = headerOnlyBlock(H(107, "b"), t0 + 480) + "00".repeat(100_000);
    await peer.ok(`fire blockConnected 108 ${H(108)} 0 ${big}`);
    await peer.ok("fire updatedBlockTip");
    const s = samples(
      await scrapeUntil(
        () => exp.scrape(),
        (s) => s.get("bitcoin_tip_updates_total") === "1",
        "the tip",
      ),
    );
    assertEquals(s.get("bitcoin_block_interval_seconds_count"), "3");
    assertEquals(s.get("bitcoin_block_interval_seconds_sum"), "480");
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

for (const flavour of ["branch-notrace", "chain5-node", "chain5"]) {
  Deno.test(`${flavour}: three blocks connected before one tip update give three intervals, none read per tip`, async () => {
    const peer = await TestPeer.start({ flavour });
    const t0 = 1795483001;
    await peer.ok(`rpc getblockchaininfo ${chainInfo(105, t0, false, H(105))}`);
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      await exp.waitLog(/subscribed to chain notifications/);
      await waitFor("the read at connect", async () => await calls(peer, "rpc.getblockchaininfo") >= 1 || undefined);
      const info0 = await calls(peer, "rpc.getblockchaininfo");
      await peer.ok(`fire blockConnected 106 ${H(106)} 0 ${headerOnlyBlock(H(105), t0 + 700)}`);
      await peer.ok(`fire blockConnected 107 ${H(107)} 0 ${headerOnlyBlock(H(106), t0 + 760)}`);
      await peer.ok(`fire blockConnected 108 ${H(108)} 0 ${headerOnlyBlock(H(107), t0 + 765)}`);
      await peer.ok("fire updatedBlockTip");
      // The settled per-tip read (getblockstats, getchaintxstats) and nothing else before a scrape.
      await waitFor("the settled read", async () => await calls(peer, "rpc.getchaintxstats") >= 2 || undefined);
      assertEquals(await calls(peer, "rpc.getblockchaininfo"), info0);
      const s = samples(
        await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_tip_updates_total") === "1", "the tip"),
      );
      assertEquals(s.get("bitcoin_block_interval_seconds_count"), "3");
      assertEquals(s.get("bitcoin_block_interval_seconds_sum"), "765");
      assertEquals(s.get(`bitcoin_block_interval_seconds_bucket{le="60"}`), "2");
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
      assertEquals(await peer.stop(), 0);
    }
  });
}
