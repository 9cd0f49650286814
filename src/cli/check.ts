/**
 * `--check`: connect once, detect the flavour, run every switched-on collector's attach and one
 * scrape exactly as the exporter would, and print which metric families this node gives and which
 * it does not (and why: the flavour, a collector switched off, a failing read such as a JSON-RPC
 * whitelist), which collectors are on and what each costs the node; then disconnect every
 * subscription, close, and exit 0 (reachable and detected) or 1. Nothing is served over HTTP.
 */
import { HttpBusy } from "../http/busy.ts";
import { COLLECTORS } from "../collectors/mod.ts";
import type { Collector, CollectorContext } from "../collectors/collector.ts";
import { CallbackCost } from "../collectors/callback_cost.ts";
import { ChainEvents } from "../collectors/events.ts";
import { type Flavour, FLAVOUR_TRAITS, type FlavourTraits } from "../flavour.ts";
import { ConnectionSupervisor } from "../supervisor.ts";
import { MetricsRegistry } from "../metrics/registry.ts";
import { type Level, type Logger, memoryLogger } from "../log.ts";
import { type Timing, timing as defaultTiming } from "./defaults.ts";
import { buildInfoFamily, processFamilies } from "../metrics/process_metrics.ts";

/**
 * What each collector costs the node (README, "What each collector costs the node", with the
 * numbers measured there). A collector without an entry prints its --help line instead.
 */
export const COLLECTOR_COST: Readonly<Record<string, string>> = {
  chain:
    "one callback per block connected/disconnected, tip update, mempool add/remove and flush, from the node's notification queue (not the validation thread); on stock releases one outstanding Mining.waitTipChanged long-poll",
  utxo_cache:
    "one synchronous round trip per coin a block adds, spends or evicts, on the validation thread: ~76 µs each, about 1.1-1.5 s per typical mainnet block (15,000-20,000 coins), 0.04-0.15 s per signet block; switch off with --no-collector.utxo_cache where block latency matters",
  node:
    "a handful of getter calls (or one JSON-RPC batch) per scrape round, at most one round per second however often Prometheus scrapes",
  last_block:
    "one getblockstats and one getchaintxstats (no window) per new tip once tips settle (500 ms without a new tip, at most 10 s: a burst of blocks costs one read of the newest; and getbestblockhash where the tip event has no hash), through JSON-RPC over IPC or Node.executeRpc, never two per-tip reads at once; never at scrape time; during IBD at most one per 2 s",
  block_events:
    "none per tip outside IBD: block intervals from the headers the node already pushes (blockConnected on the branches, the tip walk's getblockheader on v32), reorgs from the tip events; one getblockchaininfo at connect, and while the node is in IBD one once tips settle (at most one per 2 s) to learn when it ends",
  chaininfo:
    "getblockchaininfo, getchaintips, getnetworkinfo and uptime in the scrape round's one JSON-RPC batch (v32, chain5); on the branches two getters (getLastBlockTime, getWarnings) and one Node.executeRpc per method; at most one round per second",
  network:
    "getpeerinfo, listbanned and getnetworkinfo in the scrape round's JSON-RPC batch (v32, chain5); on the branches getNodesStats, getBanned, getNetworkActive, getNodeCount(in/out) and getnetworkinfo through Node.executeRpc; 10,000 bans are ~1.1 MB a round: switch off with --no-collector.network where that matters",
  fees:
    "estimatesmartfee once per --fee-conf-targets entry and getmempoolinfo in the scrape round's JSON-RPC batch (v32, chain5); on the branches Chain.estimateSmartFee per target and three fee-rate getters; at most one round per second",
  mempool:
    "getmempoolfeeratediagram and getmempoolinfo in the scrape round (JSON-RPC batch on v32, chain5; Node.executeRpc on the branches): one point per mempool chunk, a few MB a round for a full mainnet mempool: switch off with --no-collector.mempool where that matters",
  template:
    "one Mining.createNewBlock (+ getTxFees, getTxSigops, destroy) per new tip and per 60 s, never at scrape time; the node builds a block from its mempool under its locks: 68 ms for a 9,135-tx template, 3 ms with an empty mempool (real master node, regtest); off by default",
};

/** Families of the exporter itself, not of a collector. */
const CORE = "exporter";

export interface FamilyInfo {
  name: string;
  /** The collector that serves it, or "exporter" for the exporter's own families. */
  source: string;
}

/**
 * Why a family is absent on a flavour that lacks what it needs; the first matching entry wins. A
 * family no entry names is given by every flavour (when its collector is on and its reads succeed).
 */
const NEEDS: readonly { family: RegExp; has: (t: FlavourTraits) => boolean; what: string }[] = [
  {
    family: /^bitcoin_utxo_cache_|^bitcoind_ipc_exporter_utxo_trace_/,
    has: (t) => t.utxoTrace,
    what: "the UTXO cache trace (the Tracing interface: pr-trace only)",
  },
  {
    family: /^bitcoin_blocks_(dis)?connected_total$/,
    has: (t) => t.chainNotifications || t.derivedBlocks,
    what: "chain notifications, or JSON-RPC getblockheader to derive them (not on v30, v31)",
  },
  {
    family: /^bitcoin_mempool_tx_|^bitcoin_chain_state_flushes_total$|^bitcoind_ipc_exporter_callback/,
    has: (t) => t.chainNotifications,
    what: "chain notifications (Chain.handleNotifications: the multiprocess flavours)",
  },
  {
    family: /^bitcoin_(reorgs_total|reorg_depth_blocks)$/,
    has: (t) => t.chainNotifications || t.derivedBlocks,
    what: "chain notifications, or JSON-RPC getblockheader to derive the tip walk (not on v30, v31)",
  },
  {
    family: /^bitcoin_chain_transactions_total$/,
    has: (t) => t.gauges !== "mining",
    what: "JSON-RPC (Rpc.executeRpc, or Node.executeRpc on the branches) for getchaintxstats (not on v30, v31)",
  },
  {
    family: /^bitcoin_last_block_|^bitcoin_block_interval_seconds$/,
    has: (t) => t.gauges !== "mining",
    what:
      "JSON-RPC (Rpc.executeRpc, or Node.executeRpc on the branches) for getblockstats once tips settle and getblockchaininfo at connect (not on v30, v31)",
  },
  {
    family:
      /^bitcoin_(header_height|verification_progress|mempool_size|mempool_bytes|mempool_max_bytes|peers|bytes_recv_total|bytes_sent_total)$/,
    has: (t) => t.gauges !== "mining",
    what: "the Node interface or JSON-RPC over IPC (stock v30/v31 have only Mining)",
  },
  {
    // The scrape-time collectors B added (chaininfo, network, fees, mempool): every one reads Node
    // or Chain getters or JSON-RPC, which stock v30/v31 do not have (METRICS.md's per-flavour table).
    family:
      /^bitcoin_(block_timestamp_seconds|difficulty|blockchain_size_bytes|pruned|prune_height|chain_tips|node_info|node_start_time_seconds|warnings|peer_connections|banned_addresses|network_active|connections|time_offset_seconds|fee_estimate_sat_per_vbyte|mempool_min_fee_sat_per_vbyte|min_relay_fee_sat_per_vbyte|incremental_relay_fee_sat_per_vbyte|mempool_fee_rate_sat_per_vbyte|mempool_vsize_vbytes|mempool_fees_satoshis)$/,
    has: (t) => t.gauges !== "mining",
    what: "the Node and Chain interfaces or JSON-RPC over IPC (stock v30/v31 have only Mining)",
  },
  {
    // The branches' makeMining @3 is not taken: flavour detection proves their Mining by no
    // harmless call, so its createNewBlock schema is not known to match (template.ts).
    family: /^bitcoin_block_template_/,
    has: (t) => t.tipWatch !== undefined,
    what: "stock Mining (Mining.createNewBlock: v30, v31, v32 only; the branches' Mining is not proven)",
  },
  {
    // Peer quality (network collector): getpeerinfo or Node.getNodesStats, neither on stock v30/v31.
    family: /^bitcoin_(peer_ping_seconds|peers_high_bandwidth)$/,
    has: (t) => t.gauges !== "mining",
    what: "getpeerinfo or Node.getNodesStats (stock v30/v31 have only Mining: no peer list)",
  },
];

/**
 * Families a flavour gives only while the node has a value for them (METRICS.md): why one is
 * absent when the flavour has what it needs and the collector read everything without an error.
 */
const WHILE: Readonly<Record<string, string>> = {
  bitcoin_chain_transactions_total:
    "the node knows the chain's transaction count (getchaintxstats leaves txcount out after an assumeutxo load until the background sync ends)",
  bitcoin_prune_height: "the node is not pruned (present only while it runs with -prune)",
  bitcoin_peer_connections: "the node has no peers now (a label set appears per kind of peer connected)",
  bitcoin_peer_ping_seconds: "the node has no peers now (a histogram appears per network with a connected peer)",
  bitcoin_peers_high_bandwidth: "the node has no peers now (a label set appears per network with a connected peer)",
  bitcoin_fee_estimate_sat_per_vbyte:
    "the node has no fee estimate for any --fee-conf-targets entry yet (Insufficient data: a fresh node, or a short mempool history)",
};

/** Why `family` cannot be given on `flavour`, or undefined if the flavour has what it needs. */
export function flavourLacks(family: string, flavour: Flavour): string | undefined {
  const need = NEEDS.find((n) => n.family.test(family));
  if (!need || need.has(FLAVOUR_TRAITS[flavour])) return undefined;
  return `not on flavour ${flavour}: needs ${need.what}`;
}

function context(log: Logger, timing: Timing, flavour?: Flavour): CollectorContext {
  return { log, timing, flavour, callbacks: new CallbackCost(), events: new ChainEvents() };
}

/** The build, process and HTTP families app.ts serves after the collectors' (process_metrics.ts, busy.ts). */
function exporterFamilies(version: string) {
  return [buildInfoFamily(version), ...processFamilies(), new HttpBusy().family()];
}

/** Every metric family this build can serve, with the collector serving it. */
export function familyCatalogue(): FamilyInfo[] {
  const log = memoryLogger();
  const ctx = context(log, defaultTiming());
  const supervisor = new ConnectionSupervisor({ socketPath: "/nonexistent", log, timing: ctx.timing, collectors: [] });
  return [
    ...supervisor.families().map((f) => ({ name: f.name, source: CORE })),
    ...ctx.callbacks.families().map((f) => ({ name: f.name, source: CORE })),
    ...COLLECTORS.flatMap((spec) => spec.create(ctx).families().map((f) => ({ name: f.name, source: spec.name }))),
    ...exporterFamilies("").map((f) => ({ name: f.name, source: CORE })),
  ];
}

export interface CheckOptions {
  socketPath: string;
  flavour?: Flavour;
  /** The collectors switched on. */
  collectors: Set<string>;
  /** Where log lines go (stderr in production); the check also reads them for its reasons. */
  log: Logger;
  /** Where the report goes (stdout in production). */
  write: (line: string) => void;
  timing?: Partial<Timing>;
  /** How long to wait for the connection and detection (default: two call timeouts). */
  connectTimeoutMs?: number;
  /** The exporter's version, for bitcoind_ipc_exporter_build_info as a run serves it. */
  version?: string;
}

/** A logger that forwards to `inner` and keeps warnings and errors, for the report's reasons. */
function recording(inner: Logger): Logger & { problems: string[] } {
  const problems: string[] = [];
  const keep = (level: Level) => (msg: string, kind?: string) => {
    if (problems.length < 100) problems.push(msg);
    inner[level](msg, kind);
  };
  return {
    get debugEnabled() {
      return inner.debugEnabled;
    },
    debug: (m, k) => inner.debug(m, k),
    info: (m, k) => inner.info(m, k),
    warn: keep("warn"),
    error: keep("error"),
    problems,
  };
}

export async function runCheck(o: CheckOptions): Promise<number> {
  const timing = defaultTiming(o.timing);
  const log = recording(o.log);
  const ctx = context(log, timing, o.flavour);
  const collectors: Collector[] = COLLECTORS.filter((s) => o.collectors.has(s.name)).map((s) => s.create(ctx));
  let fatal: string | undefined;
  const supervisor = new ConnectionSupervisor({
    socketPath: o.socketPath,
    log,
    timing,
    collectors,
    flavour: o.flavour,
    onFatal: (m) => fatal = m,
  });
  const registry = new MetricsRegistry();
  registry.add(...supervisor.families(), ...ctx.callbacks.families());
  for (const c of collectors) registry.add(...c.families());
  registry.add(...exporterFamilies(o.version ?? ""));

  supervisor.start();
  const waitMs = o.connectTimeoutMs ?? 2 * timing.callTimeoutMs;
  const deadline = Date.now() + waitMs;
  // Connected (handshake, detection, every collector attached), or the first failure: a check
  // reports what it finds rather than retrying for ever.
  while (supervisor.up === 0 && fatal === undefined && log.problems.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    if (supervisor.up === 0) {
      // The supervisor's line says it keeps retrying; a check does not.
      const why = (fatal ?? log.problems[0] ?? `no connection within ${waitMs} ms`).replace(
        /; retrying with backoff.*$/,
        "",
      );
      o.write(`node at ${o.socketPath}: not reachable or not detected: ${why}`);
      return 1;
    }
    const problemsBefore = log.problems.length;
    await supervisor.scrape();
    const served = new Map<string, number>();
    let current = "";
    for (const line of (await registry.render()).split("\n")) {
      const type = /^# TYPE (\S+) /.exec(line);
      if (type) {
        current = type[1];
        served.set(current, 0);
      } else if (line && !line.startsWith("#")) served.set(current, (served.get(current) ?? 0) + 1);
    }
    const flavour = supervisor.flavour as Flavour;
    const successFamily = supervisor.families().find((f) => f.name === "bitcoind_ipc_exporter_collector_success")!;
    const successSamples = successFamily.read() as { labels: { collector: string }; value: number }[];
    const success = new Map(successSamples.map((s) => [s.labels.collector, s.value]));
    const problems = log.problems.slice(problemsBefore);
    o.write(`node at ${o.socketPath}: flavour ${flavour} (${FLAVOUR_TRAITS[flavour].description})`);
    o.write("");
    o.write("collectors:");
    const width = Math.max(...COLLECTORS.map((s) => s.name.length));
    const catalogue = familyCatalogue();
    for (const spec of COLLECTORS) {
      const on = o.collectors.has(spec.name);
      const idle = catalogue.filter((f) => f.source === spec.name).every((f) => flavourLacks(f.name, flavour));
      const state = !on
        ? "off"
        : success.get(spec.name) !== 1
        ? "on, FAILING"
        : idle
        ? "on, nothing to read on this flavour"
        : "on";
      const cost = COLLECTOR_COST[spec.name] ?? spec.help;
      o.write(
        `  ${spec.name.padEnd(width)}  ${state}  ${on ? `cost: ${cost}` : `(--collector.${spec.name} to switch on)`}`,
      );
    }
    const given = catalogue.filter((f) => served.has(f.name));
    const missing = catalogue.filter((f) => !served.has(f.name));
    o.write("");
    o.write(`metric families this node gives (${given.length}):`);
    for (const f of given) o.write(`  ${f.name} (${served.get(f.name)} series)`);
    o.write("");
    o.write(`metric families it does not give (${missing.length}):`);
    const nameWidth = Math.max(0, ...missing.map((f) => f.name.length));
    for (const f of missing) {
      o.write(`  ${f.name.padEnd(nameWidth)}  ${reason(f, flavour, o.collectors, success, problems)}`);
    }
    return 0;
  } finally {
    await supervisor.stop();
  }
}

function reason(
  f: FamilyInfo,
  flavour: Flavour,
  on: Set<string>,
  success: Map<string, number>,
  problems: string[],
): string {
  if (f.source !== CORE && !on.has(f.source)) {
    return `collector ${f.source} is switched off (--collector.${f.source} to switch it on)`;
  }
  const lacks = flavourLacks(f.name, flavour);
  if (lacks) return lacks;
  const hint = '(with -rpcwhitelist, allow the methods README "Which Bitcoin Core?" lists)';
  if (f.source !== CORE && success.get(f.source) === 0) {
    const said = problems.find((p) => p.includes(`collector ${f.source}`)) ?? problems[0];
    return `collector ${f.source} failed${said ? `: ${said}` : ""} ${hint}`;
  }
  // A JSON-RPC answer that lacked a value (an error for one method of the batch, a missing field)
  // leaves that metric out alone and is logged: name what the node said.
  const rpc = problems.filter((p) => p.startsWith("JSON-RPC")).slice(0, 3);
  if (f.source !== CORE && rpc.length > 0) return `the node's answers lacked it: ${rpc.join("; ")} ${hint}`;
  if (WHILE[f.name]) return WHILE[f.name];
  return "no value from the node yet (it appears with the node's first event of its kind)";
}
