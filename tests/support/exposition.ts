/**
 * Expected-exposition fragments shared by the end-to-end tests, and the one normalisation of the
 * values that vary from run to run (timestamps, durations).
 */
import { assert } from "./assert.ts";
import { samples } from "./exporter.ts";

/**
 * The families about the exporter's own process and build (src/process_metrics.ts), which vary
 * from run to run and are checked on their own (tests/toolkit_test.ts): whole lines.
 */
const PROCESS_LINES = /^(?:# (?:HELP|TYPE) )?(?:process_|deno_|bitcoind_ipc_exporter_build_info)[^\n]*\n/gm;

/**
 * Replaces the values that depend on the run with placeholders, after checking they are sane, and
 * leaves out the process and build families.
 */
export function normalise(body: string): string {
  body = body.replace(PROCESS_LINES, "");
  const s = samples(body);
  const last = s.get("bitcoind_ipc_exporter_last_connect_timestamp_seconds");
  if (last !== undefined) assert(Math.abs(Number(last) - Date.now() / 1000) < 600, `last connect ${last}`);
  return body
    .replace(/^(bitcoind_ipc_exporter_last_connect_timestamp_seconds) [0-9.e+]+$/m, "$1 T")
    .replace(/^(bitcoind_ipc_exporter_collector_duration_seconds\{[^}]*\}) [0-9.e+-]+$/gm, "$1 D")
    .replace(/^(bitcoind_ipc_exporter_node_unanswered_seconds) [0-9.e+-]+$/m, "$1 U")
    .replace(/^(bitcoind_ipc_exporter_callback_handler_seconds_total\{[^}]*\}) [0-9.e+-]+$/gm, "$1 S");
}

/** The supervisor's families, connected to a node of `flavour` (after `normalise`). */
export function exporterHead(flavour: string, collectorSuccess: Record<string, 0 | 1> = {}): string {
  const success = { chain: 1, utxo_cache: 1, node: 1, last_block: 1, ...collectorSuccess };
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
