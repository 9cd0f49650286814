/**
 * Expected-exposition fragments shared by the end-to-end tests, and the one normalisation of the
 * values that vary from run to run (timestamps, durations).
 */
import { assert } from "./assert.ts";
import { samples } from "./exporter.ts";

/**
 * The families about the exporter's own process and build (src/metrics/process_metrics.ts) and its HTTP
 * work (src/http/busy.ts: timings, tested in src/http/busy_test.ts), which vary
 * from run to run and are checked on their own (tests/toolkit_test.ts): whole lines.
 */
const PROCESS_LINES =
  /^(?:# (?:HELP|TYPE) )?(?:process_|deno_|bitcoind_ipc_exporter_build_info|bitcoind_ipc_exporter_http_busy_seconds)[^\n]*\n/gm;

/**
 * Replaces the values that depend on the run with placeholders, after checking they are sane, and
 * leaves out the process and build families.
 */
export function normalise(body: string): string {
  body = body.replace(PROCESS_LINES, "");
  const s = samples(body);
  const last = s.get("bitcoind_ipc_exporter_last_connect_timestamp_seconds");
  if (last !== undefined) assert(Math.abs(Number(last) - Date.now() / 1000) < 600, `last connect ${last}`);
  // The recorded node's uptime is 5 s (tests/fixtures/stock-master-regtest/rpc/uptime.json).
  const start = s.get("bitcoin_node_start_time_seconds");
  if (start !== undefined) assert(Math.abs(Number(start) - (Date.now() / 1000 - 5)) < 600, `start time ${start}`);
  return body
    .replace(/^(bitcoind_ipc_exporter_last_connect_timestamp_seconds) [0-9.e+]+$/m, "$1 T")
    .replace(/^(bitcoind_ipc_exporter_collector_duration_seconds\{[^}]*\}) [0-9.e+-]+$/gm, "$1 D")
    .replace(/^(bitcoind_ipc_exporter_node_unanswered_seconds) [0-9.e+-]+$/m, "$1 U")
    .replace(/^(bitcoin_node_start_time_seconds) [0-9.e+]+$/m, "$1 T")
    .replace(/^(bitcoind_ipc_exporter_callback_handler_seconds_total\{[^}]*\}) [0-9.e+-]+$/gm, "$1 S");
}

/** The supervisor's families, connected to a node of `flavour` (after `normalise`). */
export function exporterHead(flavour: string, collectorSuccess: Record<string, 0 | 1> = {}): string {
  const success = {
    chain: 1,
    utxo_cache: 1,
    node: 1,
    last_block: 1,
    block_events: 1,
    chaininfo: 1,
    network: 1,
    fees: 1,
    mempool: 1,
    ...collectorSuccess,
  };
  return `# HELP bitcoin_up 1 while connected to the node with the IPC handshake done and the node answering calls, 0 otherwise (a node that leaves a call unanswered for longer than the unresponsive limit counts as down).
# TYPE bitcoin_up gauge
bitcoin_up 1
# HELP bitcoind_ipc_exporter_node_unanswered_seconds How long the oldest call to the node has gone unanswered (0 when none is outstanding; long-polls excluded).
# TYPE bitcoind_ipc_exporter_node_unanswered_seconds gauge
bitcoind_ipc_exporter_node_unanswered_seconds U
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
# HELP bitcoind_ipc_exporter_collector_success 1 when the collector is attached to the node and its last scrape-time work succeeded, 0 otherwise (see the log for why).
# TYPE bitcoind_ipc_exporter_collector_success gauge
${
    Object.entries(success).map(([c, v]) => `bitcoind_ipc_exporter_collector_success{collector="${c}"} ${v}\n`).join("")
  }# HELP bitcoind_ipc_exporter_collector_duration_seconds How long the collector's scrape-time work took in the last scrape (0 for collectors fed only by events).
# TYPE bitcoind_ipc_exporter_collector_duration_seconds gauge
${Object.keys(success).map((c) => `bitcoind_ipc_exporter_collector_duration_seconds{collector="${c}"} D\n`).join("")}`;
}

const CALLBACK_METHODS = {
  ChainNotifications: [
    "destroy",
    "transactionAddedToMempool",
    "transactionRemovedFromMempool",
    "blockConnected",
    "blockDisconnected",
    "updatedBlockTip",
    "chainStateFlushed",
  ],
  UtxoCacheTrace: ["destroy", "add", "spend", "uncache"],
} as const;

/**
 * The callback-cost families (after `normalise`): `counts` by `Interface.method` (0 when not
 * given); `perBlock` the UTXO trace events observed per connected block.
 */
export function callbackCost(
  counts: Record<string, number>,
  perBlock: number[] = [],
  o: { utxo: boolean } = { utxo: true },
): string {
  const interfaces = Object.entries(CALLBACK_METHODS).filter(([i]) => o.utxo || i !== "UtxoCacheTrace");
  const rows = (value: (key: string) => string) =>
    interfaces.flatMap(([iface, methods]) =>
      methods.map((m) => `{interface="${iface}",method="${m}"} ${value(`${iface}.${m}`)}\n`)
    );
  const bounds = [0, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000];
  const buckets = [...bounds.map(String), "+Inf"].map((le, i) =>
    `bitcoind_ipc_exporter_utxo_trace_events_per_block_bucket{le="${le}"} ${
      perBlock.filter((v) => i === bounds.length || v <= bounds[i]).length
    }\n`
  );
  const histogram = o.utxo
    ? `# HELP bitcoind_ipc_exporter_utxo_trace_events_per_block UTXO cache trace callbacks (add, spend, uncache) between consecutive blockConnected notifications: what each connected block costs the node's validation thread in round trips.
# TYPE bitcoind_ipc_exporter_utxo_trace_events_per_block histogram
${buckets.join("")}bitcoind_ipc_exporter_utxo_trace_events_per_block_sum ${perBlock.reduce((a, b) => a + b, 0)}
bitcoind_ipc_exporter_utxo_trace_events_per_block_count ${perBlock.length}
`
    : "";
  return `# HELP bitcoind_ipc_exporter_callbacks_total Callbacks the node made on the exporter's objects, by interface and method (each holds a node thread until answered).
# TYPE bitcoind_ipc_exporter_callbacks_total counter
${
    rows((k) => String(counts[k] ?? 0)).map((r) => `bitcoind_ipc_exporter_callbacks_total${r}`).join("")
  }# HELP bitcoind_ipc_exporter_callback_handler_seconds_total Seconds the exporter's handlers spent on the node's callbacks, by interface and method (our side only: socket and node-side IPC time not included).
# TYPE bitcoind_ipc_exporter_callback_handler_seconds_total counter
${rows(() => "S").map((r) => `bitcoind_ipc_exporter_callback_handler_seconds_total${r}`).join("")}${histogram}`;
}

/** A histogram's text from its bounds and observations (cumulative buckets, then _sum and _count). */
export function histogram(name: string, help: string, bounds: readonly number[], observed: readonly number[]): string {
  const rows = [...bounds.map(String), "+Inf"].map((le, i) =>
    `${name}_bucket{le="${le}"} ${observed.filter((v) => i === bounds.length || v <= bounds[i]).length}\n`
  );
  return `# HELP ${name} ${help}\n# TYPE ${name} histogram\n${rows.join("")}${name}_sum ${
    observed.reduce((a, b) => a + b, 0)
  }\n${name}_count ${observed.length}\n`;
}

/** The block_events families: reorg depths observed, and block intervals (undefined: the flavour has no time source). */
export function blockEvents(reorgDepths: number[], intervals?: number[]): string {
  return `# HELP bitcoin_reorgs_total Chain reorganisations: tip changes that disconnected at least one block and connected at least one.
# TYPE bitcoin_reorgs_total counter
bitcoin_reorgs_total ${reorgDepths.length}
${
    histogram(
      "bitcoin_reorg_depth_blocks",
      "Blocks disconnected by each reorganisation.",
      [1, 2, 3, 4, 5, 6, 10, 20, 50, 100],
      reorgDepths,
    )
  }${
    intervals === undefined ? "" : histogram(
      "bitcoin_block_interval_seconds",
      "Seconds between consecutive blocks' header times, observed as each block becomes the tip (outside initial block download; a header time before its parent's counts as 0).",
      [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200],
      intervals,
    )
  }`;
}

/**
 * The chaininfo families from the recorded real node's answers (tests/fixtures/stock-master-regtest/rpc/:
 * getblockchaininfo, getchaintips, getnetworkinfo, uptime), with `tips` overriding getchaintips' counts.
 */
export function rpcChainInfo(
  o: { tips?: Record<string, number>; blockTime?: number; warnings?: number } = {},
): string {
  const tips = o.tips ?? { active: 1 };
  const statuses = ["active", "valid-fork", "valid-headers", "headers-only", "invalid"];
  return `# HELP bitcoin_block_timestamp_seconds Header time of the active tip (Unix seconds); alert on time() - bitcoin_block_timestamp_seconds.
# TYPE bitcoin_block_timestamp_seconds gauge
bitcoin_block_timestamp_seconds ${o.blockTime ?? 1795483001}
# HELP bitcoin_difficulty Proof-of-work difficulty of the active tip.
# TYPE bitcoin_difficulty gauge
bitcoin_difficulty 4.656542373906925e-10
# HELP bitcoin_blockchain_size_bytes Estimated size of the block and undo files on disk (getblockchaininfo size_on_disk).
# TYPE bitcoin_blockchain_size_bytes gauge
bitcoin_blockchain_size_bytes 31478
# HELP bitcoin_pruned Whether the node prunes its block files (1) or keeps them all (0).
# TYPE bitcoin_pruned gauge
bitcoin_pruned 0
# HELP bitcoin_chain_tips Chain tips known to the node by status (getchaintips; active, valid-fork, valid-headers, headers-only, invalid, and unknown for any other).
# TYPE bitcoin_chain_tips gauge
${
    statuses.map((s) => `bitcoin_chain_tips{status="${s}"} ${tips[s] ?? 0}\n`).join("")
  }# HELP bitcoin_node_info What the node says it is (getnetworkinfo version and subversion, getblockchaininfo chain); always 1.
# TYPE bitcoin_node_info gauge
bitcoin_node_info{version="319900",subversion="/Satoshi:31.99.0/",chain="regtest"} 1
# HELP bitcoin_node_start_time_seconds When the node started (Unix seconds): now minus its uptime, steady to within a second.
# TYPE bitcoin_node_start_time_seconds gauge
bitcoin_node_start_time_seconds T
# HELP bitcoin_warnings Warnings the node reports (getblockchaininfo warnings): a count, their texts are in the node's log.
# TYPE bitcoin_warnings gauge
bitcoin_warnings ${o.warnings ?? 1}
`;
}

/** Peer label sets and their counts: `direction,network,connection_type,transport` -> n. */
export function peerConnections(peers: Record<string, number>): string {
  const rows = Object.entries(peers).map(([k, n]) => {
    const [direction, network, connection_type, transport] = k.split(",");
    return `bitcoin_peer_connections{direction="${direction}",network="${network}",connection_type="${connection_type}",transport="${transport}"} ${n}\n`;
  });
  return rows.length === 0
    ? ""
    : `# HELP bitcoin_peer_connections Connected peers by direction, network, connection type and transport (Core's getpeerinfo strings; only label sets present are served).
# TYPE bitcoin_peer_connections gauge
${rows.join("")}`;
}

/** Ping bucket bounds, seconds (src/collectors/network.ts PING_BUCKETS, repeated here on purpose). */
const PING_BOUNDS = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"];

/**
 * The peer-quality families: per network (in the order given), the minimum pings observed (a
 * snapshot histogram) and the BIP152 high-bandwidth counts to, then from.
 */
export function peerQuality(q: Record<string, { pings: number[]; hbTo: number; hbFrom: number }>): string {
  const nets = Object.entries(q);
  if (nets.length === 0) return "";
  let out =
    `# HELP bitcoin_peer_ping_seconds Connected peers' minimum ping (getpeerinfo minping) by network: a snapshot of the peers connected now, one observation per peer that has answered a ping (not cumulative: do not rate() it).
# TYPE bitcoin_peer_ping_seconds histogram
`;
  for (const [net, { pings }] of nets) {
    for (const le of [...PING_BOUNDS, "+Inf"]) {
      const n = le === "+Inf" ? pings.length : pings.filter((p) => p <= Number(le)).length;
      out += `bitcoin_peer_ping_seconds_bucket{network="${net}",le="${le}"} ${n}\n`;
    }
    out += `bitcoin_peer_ping_seconds_sum{network="${net}"} ${pings.reduce((a, b) => a + b, 0)}\n`;
    out += `bitcoin_peer_ping_seconds_count{network="${net}"} ${pings.length}\n`;
  }
  out +=
    `# HELP bitcoin_peers_high_bandwidth Connected BIP152 high-bandwidth compact-block peers by network: direction=to those we asked to push us new blocks (bip152_hb_to), from those that asked us (bip152_hb_from).
# TYPE bitcoin_peers_high_bandwidth gauge
`;
  for (const [net, { hbTo }] of nets) out += `bitcoin_peers_high_bandwidth{direction="to",network="${net}"} ${hbTo}\n`;
  for (const [net, { hbFrom }] of nets) {
    out += `bitcoin_peers_high_bandwidth{direction="from",network="${net}"} ${hbFrom}\n`;
  }
  return out;
}

/** The network families; a field left undefined is a family the flavour does not serve. */
export function network(n: {
  peers?: Record<string, number>;
  quality?: Record<string, { pings: number[]; hbTo: number; hbFrom: number }>;
  banned?: number;
  active?: number;
  inbound?: number;
  outbound?: number;
  timeOffset?: number;
}): string {
  const g = (name: string, help: string, v: number | undefined) =>
    v === undefined ? "" : `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${v}\n`;
  const conns = n.inbound === undefined && n.outbound === undefined
    ? ""
    : `# HELP bitcoin_connections Connected peers by direction.
# TYPE bitcoin_connections gauge
${n.inbound === undefined ? "" : `bitcoin_connections{direction="inbound"} ${n.inbound}\n`}${
      n.outbound === undefined ? "" : `bitcoin_connections{direction="outbound"} ${n.outbound}\n`
    }`;
  return (n.peers ? peerConnections(n.peers) : "") + (n.quality ? peerQuality(n.quality) : "") +
    g("bitcoin_banned_addresses", "Entries in the node's ban list (addresses and subnets).", n.banned) +
    g(
      "bitcoin_network_active",
      "Whether P2P networking is enabled (1) or switched off with setnetworkactive (0).",
      n.active,
    ) + conns +
    g(
      "bitcoin_time_offset_seconds",
      "The node's clock offset from its outbound peers' median (getnetworkinfo timeoffset).",
      n.timeOffset,
    );
}

/** The recorded node's network answers (getpeerinfo: one outbound manual v2 peer; listbanned: none). */
export const RPC_NETWORK: string = network({
  peers: { "outbound,not_publicly_routable,manual,v2": 1 },
  quality: { not_publicly_routable: { pings: [0.000514586], hbTo: 0, hbFrom: 1 } },
  banned: 0,
  active: 1,
  inbound: 0,
  outbound: 1,
  timeOffset: 0,
});

/** The fees families: estimates by conf target (absent ones left out), then the mempool's rates in sat/vB. */
export function fees(
  f: { estimates?: Record<number, number>; min?: number; relay?: number; incremental?: number },
): string {
  const g = (name: string, help: string, v: number | undefined) =>
    v === undefined ? "" : `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${v}\n`;
  const e = Object.entries(f.estimates ?? {});
  return (e.length === 0
    ? ""
    : `# HELP bitcoin_fee_estimate_sat_per_vbyte The node's smart fee estimate (estimatesmartfee in the node's default mode) for confirmation within conf_target blocks; absent for a target the node has no estimate for.
# TYPE bitcoin_fee_estimate_sat_per_vbyte gauge
${e.map(([t, v]) => `bitcoin_fee_estimate_sat_per_vbyte{conf_target="${t}"} ${v}\n`).join("")}`) +
    g(
      "bitcoin_mempool_min_fee_sat_per_vbyte",
      "The lowest fee rate the mempool accepts now (rises above the minimum relay fee when the mempool is full).",
      f.min,
    ) +
    g("bitcoin_min_relay_fee_sat_per_vbyte", "The node's minimum relay fee rate (-minrelaytxfee).", f.relay) +
    g(
      "bitcoin_incremental_relay_fee_sat_per_vbyte",
      "The node's incremental relay fee rate (-incrementalrelayfee): the fee-rate step for replacement and mempool trimming.",
      f.incremental,
    );
}

/** The recorded node's fee answers: estimatesmartfee without data (no estimate); 100 sat/kvB = 0.1 sat/vB rates. */
export const RPC_FEES: string = fees({ min: 0.1, relay: 0.1, incremental: 0.1 });

/**
 * The mempool families from the recorded getmempoolfeeratediagram (8 transactions of weight 437 at
 * 9153, 4576, 1830, 915, 457, 183, 91 and 9 sat/vB: 109.25 vB each) and `vsize`/`fees` from getmempoolinfo.
 */
export function rpcMempool(vsize: number, feesSat: number): string {
  const b = (le: string, v: number) => `bitcoin_mempool_fee_rate_sat_per_vbyte_bucket{le="${le}"} ${v}\n`;
  return `# HELP bitcoin_mempool_fee_rate_sat_per_vbyte The mempool's virtual size by the fee rate it pays (sat/vB): each virtual byte is one observation, so _bucket{le} is the vsize paying at most le, _count the mempool's vsize (weight/4), _sum its total fees in satoshis (getmempoolfeeratediagram).
# TYPE bitcoin_mempool_fee_rate_sat_per_vbyte histogram
${["1", "2", "3", "5", "8"].map((le) => b(le, 0)).join("")}${
    ["10", "15", "20", "30", "50", "75"].map((le) => b(le, 109.25)).join("")
  }${b("100", 218.5)}${b("150", 218.5)}${b("200", 327.75)}${b("300", 327.75)}${b("500", 437)}${b("1000", 546.25)}${
    b("+Inf", 874)
  }bitcoin_mempool_fee_rate_sat_per_vbyte_sum 1881000
bitcoin_mempool_fee_rate_sat_per_vbyte_count 874
# HELP bitcoin_mempool_vsize_vbytes The mempool's transactions' virtual size (BIP 141), summed per transaction (getmempoolinfo bytes).
# TYPE bitcoin_mempool_vsize_vbytes gauge
bitcoin_mempool_vsize_vbytes ${vsize}
# HELP bitcoin_mempool_fees_satoshis Total fees of the mempool's transactions (getmempoolinfo total_fee).
# TYPE bitcoin_mempool_fees_satoshis gauge
bitcoin_mempool_fees_satoshis ${feesSat}
`;
}

const FIXTURES = new URL("../fixtures/stock-master-regtest/", import.meta.url).pathname;

/** A recorded answer as one line for the peer's `rpc <method> <json>` command. */
export function fixtureLine(path: string): string {
  return JSON.stringify(JSON.parse(Deno.readTextFileSync(FIXTURES + path)));
}

/**
 * The recorded real node's getblockstats (tests/fixtures/stock-master-regtest/rpc/getblockstats.json),
 * after the chain's transaction count as the peer's chain model answers getchaintxstats (106).
 */
export const LAST_BLOCK_BODY: string =
  `# HELP bitcoin_chain_transactions_total Transactions in the active chain up to its tip, coinbases included (getchaintxstats txcount), read once tips settle; rate() gives confirmed transactions per second. A reorg to a chain with fewer transactions lowers it (a counter reset to rate()).
# TYPE bitcoin_chain_transactions_total counter
bitcoin_chain_transactions_total 106
# HELP bitcoin_last_block_transactions Transactions in the active tip's block, coinbase included (getblockstats txs).
# TYPE bitcoin_last_block_transactions gauge
bitcoin_last_block_transactions 9
# HELP bitcoin_last_block_size_bytes Serialized size of the active tip's block's transactions, coinbase excluded (getblockstats total_size).
# TYPE bitcoin_last_block_size_bytes gauge
bitcoin_last_block_size_bytes 1528
# HELP bitcoin_last_block_weight Weight of the active tip's block's transactions, coinbase excluded (getblockstats total_weight).
# TYPE bitcoin_last_block_weight gauge
bitcoin_last_block_weight 3496
# HELP bitcoin_last_block_fees_satoshis Fees paid by the active tip's block's transactions (getblockstats totalfee).
# TYPE bitcoin_last_block_fees_satoshis gauge
bitcoin_last_block_fees_satoshis 1881000
# HELP bitcoin_last_block_subsidy_satoshis The block subsidy of the active tip's block (getblockstats subsidy).
# TYPE bitcoin_last_block_subsidy_satoshis gauge
bitcoin_last_block_subsidy_satoshis 5000000000
# HELP bitcoin_last_block_fee_rate_sat_per_vbyte Fee rates of the active tip's block at the 10th, 25th, 50th, 75th and 90th percentile of its weight (getblockstats feerate_percentiles).
# TYPE bitcoin_last_block_fee_rate_sat_per_vbyte gauge
bitcoin_last_block_fee_rate_sat_per_vbyte{percentile="10"} 9
bitcoin_last_block_fee_rate_sat_per_vbyte{percentile="25"} 91
bitcoin_last_block_fee_rate_sat_per_vbyte{percentile="50"} 457
bitcoin_last_block_fee_rate_sat_per_vbyte{percentile="75"} 1830
bitcoin_last_block_fee_rate_sat_per_vbyte{percentile="90"} 9153
# HELP bitcoin_last_block_inputs Inputs of the active tip's block, coinbase excluded (getblockstats ins).
# TYPE bitcoin_last_block_inputs gauge
bitcoin_last_block_inputs 8
# HELP bitcoin_last_block_outputs Outputs of the active tip's block (getblockstats outs).
# TYPE bitcoin_last_block_outputs gauge
bitcoin_last_block_outputs 10
# HELP bitcoin_last_block_utxo_increase Change in the number of UTXOs the active tip's block made: outputs minus inputs (getblockstats utxo_increase).
# TYPE bitcoin_last_block_utxo_increase gauge
bitcoin_last_block_utxo_increase 2
# HELP bitcoin_last_block_utxo_size_increase_bytes Change in the UTXO set's size in bytes the active tip's block made (getblockstats utxo_size_inc).
# TYPE bitcoin_last_block_utxo_size_increase_bytes gauge
bitcoin_last_block_utxo_size_increase_bytes 158
# HELP bitcoin_last_block_utxo_increase_spendable The same as bitcoin_last_block_utxo_increase, counting only outputs that can be spent (getblockstats utxo_increase_actual; Core 29+).
# TYPE bitcoin_last_block_utxo_increase_spendable gauge
bitcoin_last_block_utxo_increase_spendable 1
# HELP bitcoin_last_block_utxo_size_increase_spendable_bytes The same as bitcoin_last_block_utxo_size_increase_bytes for spendable outputs only (getblockstats utxo_size_inc_actual; Core 29+).
# TYPE bitcoin_last_block_utxo_size_increase_spendable_bytes gauge
bitcoin_last_block_utxo_size_increase_spendable_bytes 71
`;

/**
 * What the branches serve beyond the Rust exporter's families, from the test peer's defaults (the
 * recorded pr/trace node's getters: getLastBlockTime, getWarnings "", no bans, network active,
 * 100 sat/kvB relay rates, an empty pool minimum) and the recorded JSON-RPC answers through
 * Node.executeRpc; `reorgs` the depths the scenario caused, `conns` getNodeCount(In/Out).
 */
export function branchExtras(reorgs: number[], conns: number): string {
  return LAST_BLOCK_BODY + blockEvents(reorgs, []) + rpcChainInfo({ blockTime: 1795482928, warnings: 0 }) +
    network({ banned: 0, active: 1, inbound: conns, outbound: conns, timeOffset: 0 }) +
    fees({ min: 0.1, relay: 0.1, incremental: 0.1 }) + rpcMempool(0, 0);
}
