/**
 * Every IPC flavour end to end: the C++ peer answers as each kind of bitcoin-node does (including
 * the failures real stock nodes give), the session detects it, and the exporter serves exactly the
 * metrics that flavour can give. Stock flavours: the tip through Mining.waitTipChanged, reorgs
 * resolved through JSON-RPC over IPC, node gauges from recorded real JSON-RPC answers.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { FlavourError, RPC_URI, RPC_USER, Session } from "../src/ipc/session.ts";
import { Chain$Client } from "../gen/chain.ts";
import { Init$Client } from "../gen/init.ts";
import type { RemoteCap } from "../src/ipc/rpc.ts";
import { RemoteError } from "../src/ipc/errors.ts";
import { capIndexAt } from "../src/ipc/capnp.ts";
import { TestPeer } from "./support/peer.ts";
import { DEFAULTS } from "../src/defaults.ts";
import { ExporterProc, samples } from "./support/exporter.ts";

const H = (n: number, fork = "a") => (fork + n.toString(16)).padStart(64, "0");

async function withPeer(flavour: string, fn: (peer: TestPeer) => Promise<void>): Promise<void> {
  const peer = await TestPeer.start({ flavour });
  try {
    await fn(peer);
  } finally {
    assertEquals(await peer.stop(), 0, `peer exit code; notices: ${peer.notices.join(" | ")}`);
  }
}

Deno.test("detection: each flavour is told apart by harmless probes, and the session holds only its interfaces", async () => {
  const cases = [
    ["branch", "pr-trace", ["makeNode@5: ok", "makeChain@4: ok", "Chain.getHeight: ok", "makeTracing@7: ok"]],
    ["pr-ipc", "pr-ipc", [
      "makeNode@5: ok",
      "makeChain@4: ok",
      "Chain.getHeight: ok",
      "makeTracing@7: not implemented",
    ]],
    ["master", "v32", [
      "makeNode@5: not implemented",
      "makeMining@3: ok",
      "Mining.isTestChain: ok",
      "makeRpc@4: ok",
      "Rpc.executeRpc: ok",
    ]],
    ["v31", "v31", [
      "makeNode@5: not implemented",
      "makeMining@3: ok",
      "Mining.isTestChain: ok",
      "makeRpc@4: not implemented",
    ]],
    ["v30", "v30", [
      "makeNode@5: not implemented",
      "makeMining@3: not implemented",
      "makeMining@2: ok",
      "Mining.isTestChain: ok",
    ]],
  ] as const;
  for (const [peerFlavour, flavour, probes] of cases) {
    await withPeer(peerFlavour, async (peer) => {
      const s = await Session.open(peer.socketPath);
      try {
        assertEquals(s.flavour, flavour);
        assertEquals(s.probes, [...probes]);
        assertEquals([!!s.chain, !!s.node, !!s.tracing, !!s.mining, !!s.rpc], [
          flavour.startsWith("pr-"),
          flavour.startsWith("pr-"),
          flavour === "pr-trace",
          !flavour.startsWith("pr-"),
          flavour === "v32",
        ]);
        assertEquals(s.mining?.generation, flavour.startsWith("v") ? flavour : undefined);
        if (flavour === "v32") {
          const st = await peer.status();
          assertEquals([st.rpc_last_uri, st.rpc_last_user], [RPC_URI, RPC_USER]);
        }
      } finally {
        await s.shutdown();
      }
    });
  }
});

Deno.test("the ordinal collision the probes guard against: on stock master, Init @4 is an Rpc, not a Chain", async () => {
  await withPeer("master", async (peer) => {
    const s = await Session.open(peer.socketPath);
    try {
      // What a client assuming the branch schema would do: makeChain @4, then a Chain call.
      const notChain = await s.callWithContext(
        s.init,
        Init$Client.methods[4],
        undefined,
        (r, caps) => caps.cap(capIndexAt(r, 0)) as RemoteCap,
      );
      const e = await assertRejects(
        () => s.callWithContext(notChain, Chain$Client.methods[1], undefined, () => undefined),
        RemoteError,
      );
      assertStringIncludes(e.message, "Requested interface not implemented");
      assertStringIncludes(e.message, "Rpc");
      notChain.release();
    } finally {
      await s.shutdown();
    }
  });
});

Deno.test("detection: answers that fit no flavour are errors naming every probe, never a guess", async () => {
  // makeNode answers but makeChain fails: not a branch, not stock.
  await withPeer("branch", async (peer) => {
    await peer.ok("throw makeChain");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "unsupported IPC flavour: Init.makeChain@4 failed: ");
    assertStringIncludes(e.message, "probes: makeNode@5: ok; makeChain@4: test peer: makeChain failed");
    await peer.waitStatus((s) => s.connected === "0");
  });
  // makeChain returns something whose Chain call fails: nothing is read through it.
  await withPeer("branch", async (peer) => {
    await peer.ok("throw getHeight");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "is not a Chain (Chain.getHeight failed");
    const st = await peer.waitStatus((s) => s.connected === "0");
    assert(!/getHeaderTip|getMempool|handleNotifications/.test(st.calls), st.calls);
  });
  // A stock node whose Mining does not answer as Mining.
  await withPeer("v31", async (peer) => {
    await peer.ok("throw Mining.isTestChain");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "is not a Mining interface");
  });
});

/** Scrapes until `pred` holds for the samples (the tip watcher works asynchronously). */
async function scrapeUntil(exp: ExporterProc, pred: (s: Map<string, string>) => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const body = await exp.scrape();
    if (pred(samples(body))) return body;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last /metrics:\n${body}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function withoutTimestamp(body: string): string {
  return body.replace(/(bitcoind_ipc_exporter_last_connect_timestamp_seconds) [0-9.e+]+/, "$1 T");
}

const EXPORTER_HEAD = (flavour: string) =>
  `# HELP bitcoin_up 1 while connected to the node with the IPC handshake done, 0 otherwise.
# TYPE bitcoin_up gauge
bitcoin_up 1
# HELP bitcoind_ipc_exporter_connect_attempts_total Attempts to connect to the node's IPC socket.
# TYPE bitcoind_ipc_exporter_connect_attempts_total counter
bitcoind_ipc_exporter_connect_attempts_total 1
# HELP bitcoind_ipc_exporter_connects_total Successful connections (handshake and subscriptions done).
# TYPE bitcoind_ipc_exporter_connects_total counter
bitcoind_ipc_exporter_connects_total 1
# HELP bitcoind_ipc_exporter_last_connect_timestamp_seconds Unix time of the last successful connection.
# TYPE bitcoind_ipc_exporter_last_connect_timestamp_seconds gauge
bitcoind_ipc_exporter_last_connect_timestamp_seconds T
# HELP bitcoind_ipc_exporter_node_info The connected node's IPC flavour (interfaces it offers).
# TYPE bitcoind_ipc_exporter_node_info gauge
bitcoind_ipc_exporter_node_info{flavour="${flavour}"} 1
`;

const TIP = (tips: number) =>
  `# HELP bitcoin_tip_updates_total Block tip updates received.
# TYPE bitcoin_tip_updates_total counter
bitcoin_tip_updates_total ${tips}
`;
const HEIGHT = (height: number) =>
  `# HELP bitcoin_block_height Height of the last connected block (-1 until one is connected).
# TYPE bitcoin_block_height gauge
bitcoin_block_height ${height}
`;
const IBD = (ibd: number) =>
  `# HELP bitcoin_ibd Whether the node is in initial block download (1=yes, 0=no).
# TYPE bitcoin_ibd gauge
bitcoin_ibd ${ibd}
`;

for (const flavour of ["v30", "v31"] as const) {
  Deno.test(`stock ${flavour}: the tip in real time through Mining, IBD, and nothing that flavour cannot give`, async () => {
    await withPeer(flavour, async (peer) => {
      await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
      await peer.ok("set isInitialBlockDownload 1");
      const exp = ExporterProc.start({ socketPath: peer.socketPath });
      try {
        await exp.waitLog(/node flavour .*: stock/);
        await exp.waitLog(/watching the chain tip \(height 105\)/);
        // The long-poll is armed, with the timeout encoded as this flavour's schema reads it. On v30,
        // which has no Mining.interrupt, waits are short so one can always end before the socket
        // closes (the peer dies like a v30 node if the client goes away during a wait).
        const st = await peer.waitStatus((s) => s.waiters === "1");
        assertEquals(st.last_wait_timeout_ms, flavour === "v30" ? String(DEFAULTS.tipWaitMsV30) : "30000");
        await peer.ok(`set tip 106 ${H(106)} ${H(105)}`);
        await scrapeUntil(exp, (s) => s.get("bitcoin_tip_updates_total") === "1", "the first tip change");
        await peer.ok(`set tip 107 ${H(107)} ${H(106)}`);
        await peer.ok("set isInitialBlockDownload 0");
        await new Promise((r) => setTimeout(r, 1100)); // past the scrape cache
        const body = await scrapeUntil(exp, (s) => s.get("bitcoin_tip_updates_total") === "2", "the second");
        assertEquals(withoutTimestamp(body), EXPORTER_HEAD(flavour) + TIP(2) + HEIGHT(107) + IBD(0));
      } finally {
        assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
      }
      assertEquals((await peer.waitStatus((s) => s.connected === "0")).waiters, "0");
    });
  });
}

Deno.test("stock v32: node gauges from JSON-RPC over IPC, blocks and reorgs derived from tip changes", async () => {
  await withPeer("master", async (peer) => {
    await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      await exp.waitLog(/watching the chain tip \(height 105\)/);
      // The long-poll as the peer decodes it with the 32.x Mining schema (schemas/mining.capnp).
      assertEquals((await peer.waitStatus((s) => s.waiters === "1")).last_wait_timeout_ms, "30000");
      const step = async (cmd: string, tips: number) => {
        await peer.ok(cmd);
        await scrapeUntil(exp, (s) => s.get("bitcoin_tip_updates_total") === String(tips), cmd);
      };
      await step(`set tip 106 ${H(106)} ${H(105)}`, 1); // a new block on the tip: one connect
      await step(`set tip 106 ${H(106, "b")} ${H(105)}`, 2); // a sibling: one disconnect, one connect
      await step(`set tip 107 ${H(107, "b")} ${H(106, "b")}`, 3); // one connect
      await step(`set tip 106 ${H(106, "b")} ${H(105)}`, 4); // invalidateblock: back one, one disconnect
      await step(`set tip 109 ${H(109, "b")} ${H(108, "b")}`, 5); // unknown ancestry: logged, not counted
      await exp.waitLog(
        /could not resolve the tip change 106\/0+b6a -> 109\/0+b6d: getblockheader .*Block not found.*not counted/,
      );
      await new Promise((r) => setTimeout(r, 1100));
      const body = withoutTimestamp(await exp.scrape());
      assertEquals(body, EXPORTER_HEAD("v32") + V32_BODY);
      // One executeRpc per scrape round, carrying the whole batch, as the whitelisted user.
      const st = await peer.status();
      const calls: Record<string, number> = Object.fromEntries(
        st.calls.split(",").map((kv) => [kv.slice(0, kv.lastIndexOf(":")), Number(kv.slice(kv.lastIndexOf(":") + 1))]),
      );
      const rounds = calls["rpc.getblockchaininfo"];
      assert(rounds >= 1, st.calls);
      for (const m of ["rpc.getmempoolinfo", "rpc.getconnectioncount", "rpc.getnettotals"]) {
        assertEquals(calls[m], rounds, m);
      }
      // Every executeRpc is one scrape's whole batch, one getblockheader of a walk, or the probe.
      assertEquals(calls["executeRpc"], rounds + calls["rpc.getblockheader"] + calls["rpc.getblockcount"], st.calls);
      assertEquals(calls["rpc.getblockcount"], 1);
      assertEquals([st.rpc_last_uri, st.rpc_last_user], [RPC_URI, RPC_USER]);
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    }
    const st = await peer.waitStatus((s) => s.connected === "0");
    assertEquals(st.waiters, "0"); // the wait was interrupted (Mining.interrupt) before the close
  });
});

/** What the recorded real node answered (tests/fixtures/stock-master-regtest), through the exporter. */
const V32_BODY = `# HELP bitcoin_blocks_connected_total Blocks connected via ChainNotifications.
# TYPE bitcoin_blocks_connected_total counter
bitcoin_blocks_connected_total 3
# HELP bitcoin_blocks_disconnected_total Blocks disconnected via ChainNotifications.
# TYPE bitcoin_blocks_disconnected_total counter
bitcoin_blocks_disconnected_total 2
${TIP(5)}${HEIGHT(109)}# HELP bitcoin_header_height Height of the best known header.
# TYPE bitcoin_header_height gauge
bitcoin_header_height 105
${IBD(0)}# HELP bitcoin_verification_progress Estimated chain verification progress (0.0 to 1.0).
# TYPE bitcoin_verification_progress gauge
bitcoin_verification_progress 1
# HELP bitcoin_mempool_size Number of transactions in the mempool.
# TYPE bitcoin_mempool_size gauge
bitcoin_mempool_size 0
# HELP bitcoin_mempool_bytes Memory usage of the mempool in bytes (dynamic memory usage, not the serialized size of its transactions).
# TYPE bitcoin_mempool_bytes gauge
bitcoin_mempool_bytes 0
# HELP bitcoin_mempool_max_bytes Maximum mempool memory usage in bytes (-maxmempool).
# TYPE bitcoin_mempool_max_bytes gauge
bitcoin_mempool_max_bytes 300000000
# HELP bitcoin_peers Number of connected peers (inbound and outbound).
# TYPE bitcoin_peers gauge
bitcoin_peers 1
# HELP bitcoin_bytes_recv_total Total bytes received from peers.
# TYPE bitcoin_bytes_recv_total counter
bitcoin_bytes_recv_total 9767
# HELP bitcoin_bytes_sent_total Total bytes sent to peers.
# TYPE bitcoin_bytes_sent_total counter
bitcoin_bytes_sent_total 38030
`;

Deno.test("stock v32: a missing or failed JSON-RPC field leaves its metric out and is logged once, never a zero", async () => {
  await withPeer("master", async (peer) => {
    await peer.ok(`rpc getmempoolinfo {"loaded":true,"size":5,"bytes":1200}`);
    await peer.ok("rpc getnettotals error -32603 test failure");
    await peer.ok(`rpc getconnectioncount "eight"`);
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      await exp.waitLog(/watching the chain tip/);
      const s = samples(await exp.scrape());
      assertEquals(s.get("bitcoin_mempool_size"), "5");
      assertEquals(s.get("bitcoin_header_height"), "105");
      for (
        const m of ["bitcoin_mempool_bytes", "bitcoin_mempool_max_bytes", "bitcoin_peers", "bitcoin_bytes_recv_total"]
      ) {
        assertEquals(s.has(m), false, m);
      }
      await exp.waitLog(/getmempoolinfo\.usage is missing in the node's answer; the metric it feeds is left out/);
      await exp.waitLog(/getconnectioncount is not a number/);
      await exp.waitLog(/getnettotals\.totalbytesrecv: getnettotals failed: test failure/);
      await new Promise((r) => setTimeout(r, 1100));
      await exp.scrape();
      assertEquals(exp.lines.filter((l) => l.includes("getmempoolinfo.usage")).length, 1);
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    }
  });
});

Deno.test("--flavour: a forced flavour that matches runs; one that does not fails loudly at startup", async () => {
  await withPeer("master", async (peer) => {
    const ok = ExporterProc.start({ socketPath: peer.socketPath, args: ["--flavour", "v32"] });
    try {
      await ok.waitLog(/connected to .* \(flavour v32\)/);
    } finally {
      assertEquals(await ok.stop("SIGTERM"), 0, ok.lines.join("\n"));
    }
    await peer.waitStatus((s) => s.connected === "0");
    const wrong = ExporterProc.start({ socketPath: peer.socketPath, args: ["--flavour", "pr-trace"] });
    assertEquals(await wrong.exitCode(), 1, wrong.lines.join("\n"));
    assert(
      wrong.lines.some((l) => l.includes("--flavour pr-trace was given, but the node is v32")),
      wrong.lines.join("\n"),
    );
    // Nothing was read through the wrong guess.
    const st = await peer.waitStatus((s) => s.connected === "0");
    assert(!/rpc\.getmempoolinfo|getTip/.test(st.calls), st.calls);
  });
});

Deno.test("stock v32: the node restarts; the exporter comes back, re-arms the tip wait, counters carry on", async () => {
  await withPeer("master", async (peer) => {
    await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      await exp.waitLog(/watching the chain tip/);
      await peer.ok(`set tip 106 ${H(106)} ${H(105)}`);
      await scrapeUntil(exp, (s) => s.get("bitcoin_blocks_connected_total") === "1", "the first block");
      await peer.ok("restart");
      await scrapeUntil(exp, (s) => s.get("bitcoin_up") === "0" && !s.has("bitcoin_mempool_size"), "down");
      await scrapeUntil(exp, (s) => s.get("bitcoin_up") === "1", "reconnected");
      await peer.waitStatus((s) => s.waiters === "1");
      await peer.ok(`set tip 107 ${H(107)} ${H(106)}`);
      const s = samples(
        await scrapeUntil(exp, (s) => s.get("bitcoin_blocks_connected_total") === "2", "a block after"),
      );
      assertEquals([s.get("bitcoin_tip_updates_total"), s.get("bitcoin_block_height")], ["2", "107"]);
      assertEquals(s.get("bitcoind_ipc_exporter_connects_total"), "2");
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    }
  });
});
