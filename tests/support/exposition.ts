/**
 * Expected-exposition fragments shared by the end-to-end tests, and the one normalisation of the
 * values that vary from run to run (timestamps, durations).
 */
import { assert } from "./assert.ts";
import { samples } from "./exporter.ts";

/** Replaces the values that depend on the run with placeholders, after checking they are sane. */
export function normalise(body: string): string {
  const s = samples(body);
  const last = s.get("bitcoind_ipc_exporter_last_connect_timestamp_seconds");
  if (last !== undefined) assert(Math.abs(Number(last) - Date.now() / 1000) < 600, `last connect ${last}`);
  return body
    .replace(/^(bitcoind_ipc_exporter_last_connect_timestamp_seconds) [0-9.e+]+$/m, "$1 T")
    .replace(/^(bitcoind_ipc_exporter_collector_duration_seconds\{[^}]*\}) [0-9.e+-]+$/gm, "$1 D")
    .replace(/^(bitcoind_ipc_exporter_node_unanswered_seconds) [0-9.e+-]+$/m, "$1 U");
}

/** The supervisor's families, connected to a node of `flavour` (after `normalise`). */
export function exporterHead(flavour: string, collectorSuccess: Record<string, 0 | 1> = {}): string {
  const success = { chain: 1, utxo_cache: 1, node: 1, ...collectorSuccess };
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
