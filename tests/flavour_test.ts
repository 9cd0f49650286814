/**
 * Every IPC flavour end to end: the C++ peer answers as each kind of bitcoin-node does (including
 * the failures real stock nodes give), the session detects it, and the exporter serves exactly the
 * metrics that flavour can give. Stock flavours: the tip through Mining.waitTipChanged, reorgs
 * resolved through JSON-RPC over IPC, node gauges from recorded real JSON-RPC answers. The
 * multiprocess work rebased over makeRpc (chain5-node, chain5): chain events through
 * Chain.handleNotifications, gauges from Node or, without Node, from JSON-RPC.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { FlavourError, RPC_URI, RPC_USER, Session } from "../src/ipc/session.ts";
import { Chain$Client } from "../gen/chain.ts";
import { Init$Client } from "../gen/init.ts";
import { Init$Client as InitChain5$Client } from "../gen/chain5/init.ts";
import { Node$Client } from "../gen/node.ts";
import type { RemoteCap } from "../src/ipc/rpc.ts";
import { RemoteError } from "../src/ipc/errors.ts";
import { capIndexAt } from "../src/ipc/capnp.ts";
import { TestPeer } from "./support/peer.ts";
import { DEFAULTS } from "../src/cli/defaults.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { scrapeUntil } from "./support/wait.ts";
import {
  blockEvents,
  branchExtras,
  callbackCost,
  exporterHead,
  fixtureLine,
  LAST_BLOCK_BODY,
  network,
  normalise,
  RPC_FEES,
  RPC_NETWORK,
  rpcChainInfo,
  rpcMempool,
} from "./support/exposition.ts";

const H = (n: number, fork = "a") => (fork + n.toString(16)).padStart(64, "0");

async function withPeer(flavour: string, fn: (peer: TestPeer) => Promise<void>): Promise<void> {
  const peer = await TestPeer.start({ flavour });
  try {
    await fn(peer);
  } finally {
    assertEquals(await peer.stop(), 0, `peer exit code; notices: ${peer.notices.join(" | ")}`);
  }
}

/** capnp's answer to a call whose interface the object does not implement, naming the object's. */
const refusedAs = (iface: string) =>
  new RegExp(`^Chain\\.getHeight: Requested interface not implemented\\..*actualInterfaceName = ${iface}\\b`);

Deno.test("detection: each flavour is told apart by harmless probes, and the session holds only its interfaces", async () => {
  // What each probe answered, in order (a RegExp where the answer is capnp's refusal text). Every
  // peer here must exit 0 afterwards: one that was sent makeWalletLoader (@6 on the branches, @7 on
  // chain5-node) exits 73, like a node setting up a wallet for a Chain it was never given.
  const cases: [string, string, (string | RegExp)[]][] = [
    ["branch", "pr-trace", [
      "Init@5: ok",
      refusedAs("node.capnp:Node"), // the branches' @5 is a Node: capnp refuses the Chain call
      "Node.getExitStatus: ok",
      "makeChain@4: ok",
      "Chain.getHeight: ok",
      "makeTracing@7: ok",
    ]],
    // pr/trace's base (pr/ipc of 2026): pr/trace without Tracing.
    ["branch-notrace", "pr-ipc", [
      "Init@5: ok",
      refusedAs("node.capnp:Node"),
      "Node.getExitStatus: ok",
      "makeChain@4: ok",
      "Chain.getHeight: ok",
      "makeTracing@7: not implemented",
    ]],
    // The branch pr/ipc of 2024: no Init @5; @3 (makeMining on stock) is makeChain there, so the
    // Mining proof is refused by capnp and the object is proven a Chain; then makeNode @2.
    ["pr-ipc", "pr-ipc", [
      "Init@5: not implemented",
      "makeMining@3: ok",
      /^Mining\.isTestChain: Requested interface not implemented\..*actualInterfaceName = chain\.capnp:Chain\b/,
      "Chain.getHeight: ok",
      "makeNode@2: ok",
      "Node.getExitStatus: ok",
    ]],
    ["chain5-node", "chain5-node", ["Init@5: ok", "Chain.getHeight: ok", "makeNode@6: ok", "Node.getExitStatus: ok"]],
    ["chain5", "chain5", [
      "Init@5: ok",
      "Chain.getHeight: ok",
      "makeNode@6: not implemented",
      "makeRpc@4: ok",
      "Rpc.executeRpc: ok",
    ]],
    ["master", "v32", [
      "Init@5: not implemented",
      "makeMining@3: ok",
      "Mining.isTestChain: ok",
      "makeRpc@4: ok",
      "Rpc.executeRpc: ok",
    ]],
    ["v31", "v31", [
      "Init@5: not implemented",
      "makeMining@3: ok",
      "Mining.isTestChain: ok",
      "makeRpc@4: not implemented",
    ]],
    ["v30", "v30", [
      "Init@5: not implemented",
      "makeMining@3: not implemented",
      "makeMining@2: ok",
      "Mining.isTestChain: ok",
    ]],
  ];
  const generations: Record<string, [string | undefined, string | undefined]> = {
    branch: ["pr-trace", "pr-trace"],
    "branch-notrace": ["pr-trace", "pr-trace"],
    "pr-ipc": ["pr-ipc", "pr-ipc"],
    "chain5-node": ["chain5", "pr-trace"],
    chain5: ["chain5", undefined],
  };
  for (const [peerFlavour, flavour, probes] of cases) {
    await withPeer(peerFlavour, async (peer) => {
      const s = await Session.open(peer.socketPath);
      try {
        assertEquals(s.flavour, flavour);
        assertEquals(s.probes.length, probes.length, s.probes.join(" | "));
        probes.forEach((p, i) =>
          assert(
            typeof p === "string" ? s.probes[i] === p : p.test(s.probes[i]),
            `${flavour} probe ${i}: ${s.probes[i]}`,
          )
        );
        const multiprocess = ["pr-trace", "pr-ipc", "chain5-node", "chain5"].includes(flavour);
        assertEquals([!!s.chain, !!s.node, !!s.tracing, !!s.mining, !!s.rpc], [
          multiprocess,
          multiprocess && flavour !== "chain5",
          flavour === "pr-trace",
          !multiprocess,
          flavour === "v32" || flavour === "chain5",
        ]);
        // The schema generation each interface is called in.
        assertEquals(
          [s.interfaces.chainGeneration, s.interfaces.nodeGeneration],
          generations[peerFlavour] ?? [undefined, undefined],
        );
        assertEquals(s.mining?.generation, multiprocess ? undefined : flavour);
        if (s.rpc) {
          const st = await peer.status();
          assertEquals([st.rpc_last_uri, st.rpc_last_user], [RPC_URI, RPC_USER]);
        }
        // Nothing but the probes was called: no read, no subscription, no Mining on a Chain flavour.
        const st = await peer.status();
        assert(
          !/getHeaderTip|getMempool|handleNotifications|traceUtxoCache|getTip|makeWalletLoader/.test(st.calls),
          st.calls,
        );
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

for (const flavour of ["chain5", "chain5-node"]) {
  Deno.test(`the ordinal collisions on ${flavour}: Init @5 is a Chain, not a Node; @4 an Rpc, not a Chain`, async () => {
    await withPeer(flavour, async (peer) => {
      const s = await Session.open(peer.socketPath);
      try {
        // What a client assuming the branch schema would do: makeNode @5, then a Node call ...
        const notNode = await s.callWithContext(
          s.init,
          Init$Client.methods[5],
          undefined,
          (r, caps) => caps.cap(capIndexAt(r, 0)) as RemoteCap,
        );
        const e1 = await assertRejects(
          () => s.callWithContext(notNode, Node$Client.methods[32], undefined, () => undefined),
          RemoteError,
        );
        assertStringIncludes(e1.message, "Requested interface not implemented");
        assertStringIncludes(e1.message, "chain.capnp:Chain");
        // ... and makeChain @4, then a Chain call.
        const notChain = await s.callWithContext(
          s.init,
          Init$Client.methods[4],
          undefined,
          (r, caps) => caps.cap(capIndexAt(r, 0)) as RemoteCap,
        );
        const e2 = await assertRejects(
          () => s.callWithContext(notChain, Chain$Client.methods[1], undefined, () => undefined),
          RemoteError,
        );
        assertStringIncludes(e2.message, "Requested interface not implemented");
        assertStringIncludes(e2.message, "rpc.capnp:Rpc");
        notNode.release();
        notChain.release();
      } finally {
        await s.shutdown();
      }
    });
  });
}

Deno.test("the peer plays makeWalletLoader as the hazard it is: the ordinal detection never calls (@6 on branches, @7 on chain5-node)", async () => {
  for (
    const [flavour, method] of [["branch", Init$Client.methods[6]], [
      "chain5-node",
      InitChain5$Client.methods[7],
    ]] as const
  ) {
    const peer = await TestPeer.start({ flavour });
    const s = await Session.open(peer.socketPath);
    try {
      await assertRejects(() => s.callWithContext(s.init, method, undefined, () => undefined));
      assertEquals(await peer.exitCode(), 73, peer.notices.join(" | "));
      assert(peer.notices.includes("crash make-wallet-loader"), peer.notices.join(" | "));
    } finally {
      s.close();
      await s.closed;
      await peer.stop();
    }
  }
});

Deno.test("detection: answers that fit no flavour are errors naming every probe, never a guess", async () => {
  // makeNode answers but makeChain fails: not a branch, not stock.
  await withPeer("branch", async (peer) => {
    await peer.ok("throw makeChain");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "unsupported IPC flavour: Init.makeChain@4 failed: ");
    assertStringIncludes(e.message, "; Node.getExitStatus: ok; makeChain@4: test peer: makeChain failed");
    await peer.waitStatus((s) => s.connected === "0");
  });
  // Init @5's object answers neither as a Chain nor as a Node: nothing else is called.
  await withPeer("branch", async (peer) => {
    await peer.ok("throw getExitStatus");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "the object Init @5 returned is neither a Chain nor a Node");
    const st = await peer.waitStatus((s) => s.connected === "0");
    assert(!/makeChain|makeTracing|makeWalletLoader/.test(st.calls), st.calls);
  });
  // The rebased Chain fails its proof: it is then tried as a Node (refused by capnp), and
  // nothing past @5 is called (in particular not @6, which is makeWalletLoader on the branches).
  await withPeer("chain5-node", async (peer) => {
    await peer.ok("throw getHeight");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(
      e.message,
      "probes: Init@5: ok; Chain.getHeight: test peer: getHeight failed; Node.getExitStatus: ",
    );
    const st = await peer.waitStatus((s) => s.connected === "0");
    assert(!/makeNode|makeRpc|makeWalletLoader/.test(st.calls), st.calls);
  });
  // makeChain returns something whose Chain call fails: nothing is read through it.
  await withPeer("branch", async (peer) => {
    await peer.ok("throw getHeight");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "is not a Chain (Chain.getHeight failed");
    const st = await peer.waitStatus((s) => s.connected === "0");
    assert(!/getHeaderTip|getMempool|handleNotifications/.test(st.calls), st.calls);
  });
  // A stock node whose Mining does not answer as Mining: it is then tried as pr/ipc's Chain
  // (refused by capnp), and nothing else is called (not @2, which is makeNode on pr/ipc and
  // makeMining on v30; not @4).
  await withPeer("v31", async (peer) => {
    await peer.ok("throw Mining.isTestChain");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(
      e.message,
      "the object Init @3 returned is neither a Mining interface nor a Chain (Mining.isTestChain failed: test peer: Mining.isTestChain failed; Chain.getHeight failed: Requested interface not implemented",
    );
    const st = await peer.waitStatus((s) => s.connected === "0");
    assert(!/makeMiningOld2|makeRpc|makeNode|makeWalletLoader/.test(st.calls), st.calls);
  });
  // pr/ipc of 2024 whose Chain fails its proof: nothing past @3 is called (not @2, not @4, which
  // is makeWalletLoader there).
  await withPeer("pr-ipc", async (peer) => {
    await peer.ok("throw getHeight");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "neither a Mining interface nor a Chain");
    assertStringIncludes(e.message, "Chain.getHeight failed: test peer: getHeight failed");
    const st = await peer.waitStatus((s) => s.connected === "0");
    assert(!/makeNode|makeWalletLoader|getExitStatus/.test(st.calls), st.calls);
  });
  // pr/ipc of 2024 whose Node fails its proof.
  await withPeer("pr-ipc", async (peer) => {
    await peer.ok("throw getExitStatus");
    const e = await assertRejects(() => Session.open(peer.socketPath), FlavourError);
    assertStringIncludes(e.message, "is not a Node (Node.getExitStatus failed: test peer: getExitStatus failed)");
  });
});

const TIP = (tips: number) =>
  `# HELP bitcoin_tip_updates_total Block tip updates received.
# TYPE bitcoin_tip_updates_total counter
bitcoin_tip_updates_total ${tips}
`;
const HEIGHT = (height: number) =>
  `# HELP bitcoin_block_height Height of the active tip, read from the node at connect and followed as blocks arrive (-1 when the node has no block).
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
        await scrapeUntil(
          () => exp.scrape(),
          (s) => s.get("bitcoin_tip_updates_total") === "1",
          "the first tip change",
        );
        await peer.ok(`set tip 107 ${H(107)} ${H(106)}`);
        await peer.ok("set isInitialBlockDownload 0");
        await new Promise((r) => setTimeout(r, 1100)); // past the scrape cache
        const body = await scrapeUntil(
          () => exp.scrape(),
          (s) => s.get("bitcoin_tip_updates_total") === "2",
          "the second",
        );
        assertEquals(normalise(body), exporterHead(flavour) + TIP(2) + HEIGHT(107) + IBD(0));
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
    // The recorded node's mempool with its 8 transactions, and its two bans (rpc-more/).
    await peer.ok(`rpc getmempoolinfo ${fixtureLine("rpc-more/getmempoolinfo.json")}`);
    await peer.ok(`rpc listbanned ${fixtureLine("rpc-more/listbanned.json")}`);
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      await exp.waitLog(/watching the chain tip \(height 105\)/);
      // The long-poll as the peer decodes it with the 32.x Mining schema (schemas/mining.capnp).
      assertEquals((await peer.waitStatus((s) => s.waiters === "1")).last_wait_timeout_ms, "30000");
      const step = async (cmd: string, tips: number) => {
        await peer.ok(cmd);
        await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_tip_updates_total") === String(tips), cmd);
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
      const body = normalise(await exp.scrape());
      assertEquals(body, exporterHead("v32") + V32_BODY);
      // One executeRpc per scrape round, carrying the whole batch of every collector, as the
      // whitelisted user. getchaintips is asked only in the round: it counts the rounds.
      const st = await peer.status();
      const calls: Record<string, number> = Object.fromEntries(
        st.calls.split(",").map((kv) => [kv.slice(0, kv.lastIndexOf(":")), Number(kv.slice(kv.lastIndexOf(":") + 1))]),
      );
      const rounds = calls["rpc.getchaintips"];
      assert(rounds >= 1, st.calls);
      for (
        const m of [
          "rpc.getmempoolinfo",
          "rpc.getconnectioncount",
          "rpc.getnettotals",
          "rpc.getpeerinfo",
          "rpc.listbanned",
          "rpc.getnetworkinfo",
          "rpc.uptime",
          "rpc.getmempoolfeeratediagram",
        ]
      ) {
        assertEquals(calls[m], rounds, m);
      }
      assertEquals(calls["rpc.estimatesmartfee"], 5 * rounds, "one per conf target");
      // getblockchaininfo is in every round, and read once at connect (block_events: the tip's
      // header time, IBD); outside IBD never per tip (intervals come from the walk's headers).
      const tipReads = calls["rpc.getblockchaininfo"] - rounds;
      assertEquals(tipReads, 1, st.calls);
      // Every executeRpc is one scrape's whole batch, one getblockheader of a walk, the probe, or a
      // per-tip read: getbestblockhash and getblockchaininfo at connect, then getblockstats and
      // getchaintxstats once the tips settle (never per scrape).
      assertEquals(
        calls["executeRpc"],
        rounds + calls["rpc.getblockheader"] + calls["rpc.getblockcount"] + calls["rpc.getbestblockhash"] +
          calls["rpc.getblockstats"] + calls["rpc.getchaintxstats"] + tipReads,
        st.calls,
      );
      // The chain's transaction count is read with each block's stats, of the same block.
      assertEquals(calls["rpc.getchaintxstats"], calls["rpc.getblockstats"], st.calls);
      assertEquals(calls["rpc.getblockcount"], 1);
      assertEquals(calls["rpc.getbestblockhash"], 1);
      // One at connect, then at most one per tip change (tips that arrive before it settle are coalesced).
      assert(calls["rpc.getblockstats"] >= 2 && calls["rpc.getblockstats"] <= 1 + 5, st.calls);
      assertEquals([st.rpc_last_uri, st.rpc_last_user], [RPC_URI, RPC_USER]);
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    }
    const st = await peer.waitStatus((s) => s.connected === "0");
    assertEquals(st.waiters, "0"); // the wait was interrupted (Mining.interrupt) before the close
  });
});

Deno.test("stock v32: a tip that comes while the tip is read at connect waits for that read, never a second one", async () => {
  await withPeer("master", async (peer) => {
    await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
    // block_events reads the tip at connect (getblockchaininfo): held until a tip has come during it.
    await peer.ok("stall rpc.getblockchaininfo");
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      await exp.waitLog(/watching the chain tip \(height 105\)/);
      // block_events is attached and its read is held (the other collectors attach before it).
      await peer.waitStatus((s) => s.held === "1");
      await peer.ok(`set tip 106 ${H(106)} ${H(105)}`);
      // The tip source has taken the tip (it waits again): its tip event has been handled.
      await peer.waitStatus((s) => /(^|,)waitTipChanged:2(,|$)/.test(s.calls) && s.waiters === "1");
      await peer.ok("stall none");
      await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_tip_updates_total") === "1", "the tip");
      // A per-tip read would come once the tips settle (DEFAULTS.perTipSettleMs, 500 ms): let that pass.
      await new Promise((r) => setTimeout(r, 1500));
      const st = await peer.status();
      const count = (m: string) =>
        Number(new RegExp(`(?:^|,)${m.replace(".", "\\.")}:(\\d+)`).exec(st.calls)?.[1] ?? 0);
      // Every getblockchaininfo but the one at connect is a scrape round's (getchaintips counts the rounds).
      assertEquals(count("rpc.getblockchaininfo") - count("rpc.getchaintips"), 1, st.calls);
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    }
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
bitcoin_mempool_size 8
# HELP bitcoin_mempool_bytes Memory usage of the mempool in bytes (dynamic memory usage, not the serialized size of its transactions).
# TYPE bitcoin_mempool_bytes gauge
bitcoin_mempool_bytes 9232
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
${LAST_BLOCK_BODY}${blockEvents([1], [])}${rpcChainInfo()}${
  network({
    peers: { "outbound,not_publicly_routable,manual,v2": 1 },
    quality: { not_publicly_routable: { pings: [0.000514586], hbTo: 0, hbFrom: 1 } },
    banned: 2,
    active: 1,
    inbound: 0,
    outbound: 1,
    timeOffset: 0,
  })
}${RPC_FEES}${rpcMempool(880, 1881000)}`;

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
      await exp.waitLog(
        /getnettotals failed: test failure \(code -32603\); left out: bitcoin_bytes_recv_total, bitcoin_bytes_sent_total/,
      );
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
      await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_blocks_connected_total") === "1", "the first block");
      await peer.ok("restart");
      await scrapeUntil(
        () => exp.scrape(),
        (s) => s.get("bitcoin_up") === "0" && !s.has("bitcoin_mempool_size"),
        "down",
      );
      await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_up") === "1", "reconnected");
      await peer.waitStatus((s) => s.waiters === "1");
      await peer.ok(`set tip 107 ${H(107)} ${H(106)}`);
      const s = samples(
        await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_blocks_connected_total") === "2", "a block after"),
      );
      assertEquals([s.get("bitcoin_tip_updates_total"), s.get("bitcoin_block_height")], ["2", "107"]);
      assertEquals(s.get("bitcoind_ipc_exporter_connects_total"), "2");
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    }
  });
});

// ---- The multiprocess work rebased over makeRpc: chain5-node (#10102) and chain5 (#29409) ----

const HASH = "22".repeat(32);
const TX = "02000000" + "01" + "33".repeat(32) + "00000000" + "00" + "ffffffff" + "01" + "0000000000000000" + "00" +
  "00000000";

/** Chain events the peer pushes through ChainNotifications, the same on both rebased flavours. */
async function fireChainEvents(peer: TestPeer): Promise<void> {
  await peer.ok(`fire blockConnected 106 ${HASH} 0`);
  await peer.ok(`fire blockConnected 107 ${HASH} 0`);
  await peer.ok(`fire blockDisconnected 107 ${HASH}`);
  await peer.ok(`fire blockConnected 107 ${HASH} 0`);
  for (let i = 0; i < 3; i++) await peer.ok("fire updatedBlockTip");
  for (let i = 0; i < 2; i++) await peer.ok(`fire txAdded ${TX}`);
  await peer.ok(`fire txRemoved ${TX} 5`);
  await peer.ok(`fire txRemoved ${TX} 0`);
  await peer.ok(`fire chainStateFlushed 0 ${HASH}`);
}

/** What fireChainEvents costs, as the callback-cost families show it (no UTXO trace on these flavours). */
const CHAIN_CALLBACKS = callbackCost(
  {
    "ChainNotifications.transactionAddedToMempool": 2,
    "ChainNotifications.transactionRemovedFromMempool": 2,
    "ChainNotifications.blockConnected": 3,
    "ChainNotifications.blockDisconnected": 1,
    "ChainNotifications.updatedBlockTip": 3,
    "ChainNotifications.chainStateFlushed": 1,
  },
  [],
  { utxo: false },
);

const CHAIN_EVENTS_BODY = `# HELP bitcoin_blocks_connected_total Blocks connected via ChainNotifications.
# TYPE bitcoin_blocks_connected_total counter
bitcoin_blocks_connected_total 3
# HELP bitcoin_blocks_disconnected_total Blocks disconnected via ChainNotifications.
# TYPE bitcoin_blocks_disconnected_total counter
bitcoin_blocks_disconnected_total 1
# HELP bitcoin_mempool_tx_added_total Transactions added to mempool.
# TYPE bitcoin_mempool_tx_added_total counter
bitcoin_mempool_tx_added_total 2
# HELP bitcoin_mempool_tx_removed_total Transactions removed from mempool for expiry, size limit, reorg, conflict or replacement; transactions mined in a block leave with blockConnected and are not counted here.
# TYPE bitcoin_mempool_tx_removed_total counter
bitcoin_mempool_tx_removed_total 2
# HELP bitcoin_mempool_tx_removed_by_reason_total Transactions removed from mempool, by Bitcoin Core's MemPoolRemovalReason.
# TYPE bitcoin_mempool_tx_removed_by_reason_total counter
bitcoin_mempool_tx_removed_by_reason_total{reason="expiry"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="sizelimit"} 0
bitcoin_mempool_tx_removed_by_reason_total{reason="reorg"} 0
bitcoin_mempool_tx_removed_by_reason_total{reason="block"} 0
bitcoin_mempool_tx_removed_by_reason_total{reason="conflict"} 0
bitcoin_mempool_tx_removed_by_reason_total{reason="replaced"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="unknown"} 0
${TIP(3)}# HELP bitcoin_chain_state_flushes_total Chain state flush events.
# TYPE bitcoin_chain_state_flushes_total counter
bitcoin_chain_state_flushes_total 1
${HEIGHT(107)}`;

const GAUGES = (g: {
  header: number;
  ibd: number;
  progress: number;
  mempool: [number, number, number];
  peers: number;
  recv: number;
  sent: number;
}) =>
  `# HELP bitcoin_header_height Height of the best known header.
# TYPE bitcoin_header_height gauge
bitcoin_header_height ${g.header}
${IBD(g.ibd)}# HELP bitcoin_verification_progress Estimated chain verification progress (0.0 to 1.0).
# TYPE bitcoin_verification_progress gauge
bitcoin_verification_progress ${g.progress}
# HELP bitcoin_mempool_size Number of transactions in the mempool.
# TYPE bitcoin_mempool_size gauge
bitcoin_mempool_size ${g.mempool[0]}
# HELP bitcoin_mempool_bytes Memory usage of the mempool in bytes (dynamic memory usage, not the serialized size of its transactions).
# TYPE bitcoin_mempool_bytes gauge
bitcoin_mempool_bytes ${g.mempool[1]}
# HELP bitcoin_mempool_max_bytes Maximum mempool memory usage in bytes (-maxmempool).
# TYPE bitcoin_mempool_max_bytes gauge
bitcoin_mempool_max_bytes ${g.mempool[2]}
# HELP bitcoin_peers Number of connected peers (inbound and outbound).
# TYPE bitcoin_peers gauge
bitcoin_peers ${g.peers}
# HELP bitcoin_bytes_recv_total Total bytes received from peers.
# TYPE bitcoin_bytes_recv_total counter
bitcoin_bytes_recv_total ${g.recv}
# HELP bitcoin_bytes_sent_total Total bytes sent to peers.
# TYPE bitcoin_bytes_sent_total counter
bitcoin_bytes_sent_total ${g.sent}
`;

/**
 * Runs the exporter against `peer` until `expected` is the whole /metrics (chain events fired in
 * between), then stops it with SIGTERM: the Handler must be disconnected before the socket closes
 * (the peer exits 71 otherwise, as the node dies).
 */
async function rebasedScenario(peer: TestPeer, expected: string): Promise<string[]> {
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  let from = 0;
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    await fireChainEvents(peer);
    const body = normalise(
      await scrapeUntil(
        () => exp.scrape(),
        (s) => s.get("bitcoin_chain_state_flushes_total") === "1",
        "the chain events",
      ),
    );
    assertEquals(body, expected);
    // Nothing on these flavours waits on Mining, and there is no UTXO trace.
    const st = await peer.status();
    assertEquals([st.waiters, st.utxo, st.notifications], ["0", "0", "1"]);
    assert(!/makeMining|getTip|waitTipChanged|traceUtxoCache/.test(st.calls), st.calls);
    from = peer.notices.length;
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
  }
  await peer.waitNotice(/^disconnected/, 5000, from);
  const order = peer.notices.slice(from).filter((n) => /^(unsubscribed|disconnected)/.test(n));
  assertEquals(order, ["unsubscribed notifications", "disconnected"]);
  const st = await peer.waitStatus((s) => s.connected === "0");
  assertEquals([st.notifications, st.handler_disconnects], ["0", "1"]);
  return st.calls.split(",");
}

Deno.test("branches: bitcoin_block_height is the node's height from the first scrape, -1 only when it has no block", async () => {
  for (const [height, expected] of [["321", "321"], ["none", "-1"]]) {
    await withPeer("pr-ipc", async (peer) => {
      await peer.ok(`set getHeight ${height}`);
      const exp = ExporterProc.start({ socketPath: peer.socketPath });
      try {
        await exp.waitLog(/subscribed to chain notifications/);
        assertEquals(samples(await exp.scrape()).get("bitcoin_block_height"), expected);
      } finally {
        assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
      }
    });
  }
});

for (
  const [peerFlavour, flavour, what] of [
    ["chain5-node", "chain5-node", "Chain @5, Node @6"],
    ["pr-ipc", "pr-ipc", "the branch pr/ipc of 2024"],
    ["branch-notrace", "pr-ipc", "pr/trace's base"],
  ] as const
) {
  Deno.test(`${flavour} (${what}): every gauge from Node in its own ordinals, chain events through its handleNotifications, Handler disconnected before the close`, async () => {
    await withPeer(peerFlavour, async (peer) => {
      // Values no other getter of either generation would give back: a call at a wrong ordinal
      // (on pr/ipc of 2024 pr/trace's getVerificationProgress @36 is isInitialBlockDownload)
      // shows up as a wrong value or a failed collector, not as these.
      await peer.ok("set getHeaderTip 200 1700000000");
      await peer.ok("set isInitialBlockDownload 1");
      await peer.ok("set getVerificationProgress 0.999");
      await peer.ok("set getMempoolSize 3");
      await peer.ok("set getMempoolDynamicUsage 4096");
      await peer.ok("set getMempoolMaxUsage 300000000");
      await peer.ok("set getNodeCount 8");
      await peer.ok("set getTotalBytesRecv 1000");
      await peer.ok("set getTotalBytesSent 2000");
      const calls = await rebasedScenario(
        peer,
        exporterHead(flavour) + CHAIN_CALLBACKS + CHAIN_EVENTS_BODY +
          GAUGES({
            header: 200,
            ibd: 1,
            progress: 0.999,
            mempool: [3, 4096, 300000000],
            peers: 8,
            recv: 1000,
            sent: 2000,
          }) +
          // Reorgs from the notifications (3 connects and 1 disconnect before the first updatedBlockTip);
          // connections by direction from getNodeCount(In), getNodeCount(Out) (the peer answers 8 to both).
          branchExtras([1], 8),
      );
      // Node and Chain getters at this generation's ordinals; no JSON-RPC round for them.
      for (const m of ["getVerificationProgress", "getHeaderTip", "isInitialBlockDownload", "handleNotifications"]) {
        assert(calls.some((c) => c.startsWith(`${m}:`)), `${m}: ${calls.join(",")}`);
      }
      assert(!calls.some((c) => /^(executeRpc|makeRpc|makeTracing|makeWalletLoader):/.test(c)), calls.join(","));
    });
  });
}

Deno.test("chain5: chain events through Chain.handleNotifications, gauges from JSON-RPC (no Node), Handler disconnected before the close", async () => {
  await withPeer("chain5", async (peer) => {
    // The recorded node's mempool with its 8 transactions (rpc-more/getmempoolinfo.json).
    await peer.ok(`rpc getmempoolinfo ${fixtureLine("rpc-more/getmempoolinfo.json")}`);
    const calls = await rebasedScenario(
      peer,
      // The recorded real node's JSON-RPC answers (see V32_BODY), the mempool as overridden above.
      exporterHead("chain5") + CHAIN_CALLBACKS + CHAIN_EVENTS_BODY +
        GAUGES({ header: 105, ibd: 0, progress: 1, mempool: [8, 9232, 300000000], peers: 1, recv: 9767, sent: 38030 }) +
        LAST_BLOCK_BODY + blockEvents([1], []) + rpcChainInfo() + RPC_NETWORK + RPC_FEES + rpcMempool(880, 1881000),
    );
    assert(calls.some((c) => c.startsWith("rpc.getblockchaininfo:")), calls.join(","));
    assert(!calls.some((c) => /^(makeNode|getHeaderTip|getMempoolSize):/.test(c)), calls.join(","));
  });
});
