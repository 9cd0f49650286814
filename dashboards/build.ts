/**
 * The Grafana dashboard, generated: `deno task dashboard` writes dashboards/bitcoind-ipc-exporter.json
 * from the rows below (`--check`: fail if the file is not what they give; CI runs it).
 *
 * Adding a panel for a new metric family is one entry in ROWS: a title, the queries (write `$sel`
 * inside the braces of every exporter metric: it becomes the dashboard's job/instance filter, which
 * is also how tests/prometheus_test.ts points each query at one flavour), and `flavours` when not
 * every flavour gives the metric (the panel then says "no data on this flavour" instead of showing
 * nothing or a zero, and the test evaluates it on a flavour that gives it). Then run
 * `deno task dashboard`. tests/dashboard_test.ts fails while a family the exporter serves has no panel.
 */
import type { Flavour } from "../src/flavour.ts";

export const OUTPUT = new URL("./bitcoind-ipc-exporter.json", import.meta.url);

type PanelType = "stat" | "timeseries" | "gauge";

export interface Target {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  title: string;
  type: PanelType;
  description: string;
  targets: Target[];
  /** The flavours that give every metric the panel needs; all when left out. */
  flavours?: readonly Flavour[];
  /** A family this build does not serve yet (the issue that adds it). */
  requires?: string;
  unit?: string;
  /** Width in grid units (24 across); 4 for stats, 8 for graphs by default. */
  w?: number;
  /** Value → text (and colour) for stats. */
  mappings?: Record<string, [string, string]>;
  /** Stacked areas (shares of a whole). */
  stack?: boolean;
  /** Bars for per-interval counts. */
  bars?: boolean;
  min?: number;
  max?: number;
  decimals?: number;
  /** For stats: show the series name (a label) rather than the value. */
  showName?: boolean;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

/** Flavours with ChainNotifications (every chain and mempool event pushed by the node). */
const EVENTS: Flavour[] = ["pr-trace", "pr-ipc", "chain5-node", "chain5"];
/** Flavours with the node gauges (Node getters or JSON-RPC over IPC). */
const GAUGES: Flavour[] = [...EVENTS, "v32"];
/** Flavours with block connect/disconnect counts (pushed, or derived from tip changes on v32). */
const BLOCKS: Flavour[] = [...EVENTS, "v32"];
const TRACE: Flavour[] = ["pr-trace"];
/** Snapshot histograms (the mempool's fee rates): a quantile of the buckets as they are, never rate(). */
const SNAPSHOT_Q = (q: number, family: string) => `histogram_quantile(${q}, sum by (le) (${family}_bucket{$sel}))`;

const UP: Record<string, [string, string]> = { "0": ["down", "red"], "1": ["up", "green"] };

export const ROWS: RowSpec[] = [
  {
    title: "Node",
    panels: [
      {
        title: "Up",
        type: "stat",
        w: 3,
        description: "bitcoin_up: 1 while the exporter is connected to the node and the node answers.",
        targets: [{ expr: "bitcoin_up{$sel}" }],
        mappings: UP,
      },
      {
        title: "Flavour",
        type: "stat",
        w: 4,
        description:
          "The node's IPC flavour as the exporter detected it (bitcoind_ipc_exporter_node_info): which interfaces it offers, so which panels below have data.",
        targets: [{ expr: "bitcoind_ipc_exporter_node_info{$sel}", legend: "{{flavour}}" }],
        showName: true,
      },
      {
        title: "Height",
        type: "stat",
        w: 3,
        description: "bitcoin_block_height: the active tip, in real time.",
        targets: [{ expr: "bitcoin_block_height{$sel}" }],
        decimals: 0,
      },
      {
        title: "Since last block",
        type: "stat",
        w: 3,
        description: "Time since the active tip's header time (bitcoin_block_timestamp_seconds).",
        targets: [{ expr: "time() - bitcoin_block_timestamp_seconds{$sel}" }],
        flavours: GAUGES,
        unit: "s",
      },
      {
        title: "IBD",
        type: "stat",
        w: 3,
        description: "bitcoin_ibd: 1 while the node is in initial block download.",
        targets: [{ expr: "bitcoin_ibd{$sel}" }],
        mappings: { "0": ["synced", "green"], "1": ["IBD", "orange"] },
      },
      {
        title: "Verification progress",
        type: "gauge",
        w: 4,
        description: "bitcoin_verification_progress: the node's estimate of the fraction of the chain verified.",
        targets: [{ expr: "bitcoin_verification_progress{$sel}" }],
        flavours: GAUGES,
        unit: "percentunit",
        min: 0,
        max: 1,
      },
      {
        title: "Peers",
        type: "stat",
        w: 4,
        description: "bitcoin_peers: connected peers, inbound and outbound.",
        targets: [{ expr: "bitcoin_peers{$sel}" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Node",
        type: "stat",
        w: 6,
        description:
          "bitcoin_node_info: the node's version (as it prints it), user agent and chain (getnetworkinfo, getblockchaininfo).",
        targets: [{ expr: "bitcoin_node_info{$sel}", legend: "{{version}} {{subversion}} {{chain}}" }],
        flavours: GAUGES,
        showName: true,
      },
      {
        title: "Node uptime",
        type: "stat",
        w: 3,
        description: "Time since the node started (bitcoin_node_start_time_seconds, from uptime).",
        targets: [{ expr: "time() - bitcoin_node_start_time_seconds{$sel}" }],
        flavours: GAUGES,
        unit: "s",
      },
      {
        title: "Warnings",
        type: "stat",
        w: 3,
        description: "bitcoin_warnings: how many warnings the node reports (their text is in the node's log).",
        targets: [{ expr: "bitcoin_warnings{$sel}" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Network active",
        type: "stat",
        w: 3,
        description: "bitcoin_network_active: 0 after setnetworkactive false (the node has no P2P traffic).",
        targets: [{ expr: "bitcoin_network_active{$sel}" }],
        flavours: GAUGES,
        mappings: { "0": ["off", "red"], "1": ["on", "green"] },
      },
      {
        title: "Pruned",
        type: "stat",
        w: 3,
        description: "bitcoin_pruned: 1 when the node runs with -prune.",
        targets: [{ expr: "bitcoin_pruned{$sel}" }],
        flavours: GAUGES,
        mappings: { "0": ["no", "green"], "1": ["pruned", "blue"] },
      },
      {
        title: "Prune height",
        type: "stat",
        w: 3,
        description:
          "bitcoin_prune_height: the lowest height with block data. Served only while the node is pruned (empty otherwise).",
        targets: [{ expr: "bitcoin_prune_height{$sel}" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Clock offset",
        type: "stat",
        w: 3,
        description: "bitcoin_time_offset_seconds: the node's clock against its outbound peers' median.",
        targets: [{ expr: "bitcoin_time_offset_seconds{$sel}" }],
        flavours: GAUGES,
        unit: "s",
      },
    ],
  },
  {
    title: "Chain",
    panels: [
      {
        title: "Difficulty",
        type: "timeseries",
        description: "bitcoin_difficulty: proof-of-work difficulty of the tip.",
        targets: [{ expr: "bitcoin_difficulty{$sel}", legend: "difficulty" }],
        flavours: GAUGES,
      },
      {
        title: "Block storage",
        type: "timeseries",
        description: "bitcoin_blockchain_size_bytes: the block and undo files on disk.",
        targets: [{ expr: "bitcoin_blockchain_size_bytes{$sel}", legend: "on disk" }],
        flavours: GAUGES,
        unit: "bytes",
      },
      {
        title: "Chain tips by status",
        type: "timeseries",
        description:
          "bitcoin_chain_tips by Core's status (active, valid-fork, valid-headers, headers-only, invalid): forks the node has seen.",
        targets: [{ expr: "bitcoin_chain_tips{$sel}", legend: "{{status}}" }],
        flavours: GAUGES,
        decimals: 0,
      },
    ],
  },
  {
    title: "Blocks and reorgs, as the node announces them",
    panels: [
      {
        title: "Tip",
        type: "timeseries",
        description:
          "bitcoin_block_height follows the tip in real time: pushed by the node on the multiprocess flavours, long-polled (Mining.waitTipChanged) on stock releases.",
        targets: [{ expr: "bitcoin_block_height{$sel}", legend: "tip" }],
        decimals: 0,
      },
      {
        title: "Headers ahead of the tip",
        type: "timeseries",
        description:
          "bitcoin_header_height - bitcoin_block_height: blocks the node knows of but has not connected yet (0 when in sync; large during IBD).",
        targets: [{ expr: "bitcoin_header_height{$sel} - bitcoin_block_height{$sel}", legend: "headers ahead" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Blocks connected and disconnected",
        type: "timeseries",
        description:
          "Blocks connected and disconnected per interval: a disconnect is a reorg (or invalidateblock). Pushed by the node on the multiprocess flavours, derived from tip changes on v32.",
        targets: [
          { expr: "increase(bitcoin_blocks_connected_total{$sel}[$__rate_interval])", legend: "connected" },
          { expr: "-increase(bitcoin_blocks_disconnected_total{$sel}[$__rate_interval])", legend: "disconnected" },
        ],
        flavours: BLOCKS,
        bars: true,
      },
      {
        title: "Tip updates",
        type: "timeseries",
        description:
          "updatedBlockTip notifications on the multiprocess flavours; on stock releases, the tip changes the Mining.waitTipChanged long-poll saw.",
        targets: [
          { expr: "increase(bitcoin_tip_updates_total{$sel}[$__rate_interval])", legend: "tip updates" },
        ],
        bars: true,
      },
      {
        title: "Chainstate flushes",
        type: "timeseries",
        description: "chainStateFlushed notifications: the coins cache written to disk.",
        targets: [
          { expr: "increase(bitcoin_chain_state_flushes_total{$sel}[$__rate_interval])", legend: "flushes" },
        ],
        flavours: EVENTS,
        bars: true,
      },
      {
        title: "Reorgs",
        type: "timeseries",
        description:
          "Reorganisations per interval (tip changes that disconnected and connected blocks), and the deepest bucket seen in the last 24 hours (bitcoin_reorg_depth_blocks).",
        targets: [
          { expr: "increase(bitcoin_reorgs_total{$sel}[$__rate_interval])", legend: "reorgs" },
          {
            expr: "histogram_quantile(1, sum by (le) (increase(bitcoin_reorg_depth_blocks_bucket{$sel}[24h])))",
            legend: "max depth (24 h, bucket bound)",
          },
        ],
        flavours: BLOCKS,
        decimals: 0,
      },
      {
        title: "Block interval",
        type: "timeseries",
        description:
          "Seconds between consecutive blocks' header times over the last 6 hours (bitcoin_block_interval_seconds, outside IBD): mean and median.",
        targets: [
          {
            expr:
              "increase(bitcoin_block_interval_seconds_sum{$sel}[6h]) / increase(bitcoin_block_interval_seconds_count{$sel}[6h])",
            legend: "mean",
          },
          {
            expr: "histogram_quantile(0.5, sum by (le) (increase(bitcoin_block_interval_seconds_bucket{$sel}[6h])))",
            legend: "median",
          },
        ],
        flavours: GAUGES,
        unit: "s",
      },
    ],
  },
  {
    title: "Mempool",
    panels: [
      {
        title: "Mempool flow",
        type: "timeseries",
        description:
          "Transactions entering and leaving the mempool per second, as the node announces them. Removals exclude transactions mined in a block (those leave with blockConnected).",
        targets: [
          { expr: "rate(bitcoin_mempool_tx_added_total{$sel}[$__rate_interval])", legend: "added" },
          { expr: "-rate(bitcoin_mempool_tx_removed_total{$sel}[$__rate_interval])", legend: "removed" },
        ],
        flavours: EVENTS,
        unit: "tx/s",
      },
      {
        title: "Removed, by reason",
        type: "timeseries",
        description:
          "Removals by Bitcoin Core's MemPoolRemovalReason (expiry, sizelimit, reorg, conflict, replaced; unknown for a value this exporter does not know).",
        targets: [{
          expr: "sum by (reason) (rate(bitcoin_mempool_tx_removed_by_reason_total{$sel}[$__rate_interval]))",
          legend: "{{reason}}",
        }],
        flavours: EVENTS,
        unit: "tx/s",
        stack: true,
      },
      {
        title: "Mempool transactions",
        type: "timeseries",
        description: "bitcoin_mempool_size: transactions in the mempool.",
        targets: [{ expr: "bitcoin_mempool_size{$sel}", legend: "transactions" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Mempool memory and limit",
        type: "timeseries",
        description: "bitcoin_mempool_bytes (memory usage, not serialized size) against -maxmempool.",
        targets: [
          { expr: "bitcoin_mempool_bytes{$sel}", legend: "used" },
          { expr: "bitcoin_mempool_max_bytes{$sel}", legend: "limit" },
        ],
        flavours: GAUGES,
        unit: "bytes",
      },
      {
        title: "Mempool virtual size",
        type: "timeseries",
        description: "bitcoin_mempool_vsize_vbytes: the virtual size of the mempool's transactions (BIP 141).",
        targets: [{ expr: "bitcoin_mempool_vsize_vbytes{$sel}", legend: "vsize" }],
        flavours: GAUGES,
        unit: "decbytes",
      },
      {
        title: "Mempool fees",
        type: "timeseries",
        description: "bitcoin_mempool_fees_satoshis: total fees the mempool's transactions pay.",
        targets: [{ expr: "bitcoin_mempool_fees_satoshis{$sel}", legend: "fees" }],
        flavours: GAUGES,
        unit: "suffix: sat",
      },
      {
        title: "Mempool fee rates (by virtual size)",
        type: "timeseries",
        description:
          "Fee rates at the 10th, 50th and 90th percentile of the mempool's virtual size (bitcoin_mempool_fee_rate_sat_per_vbyte, from getmempoolfeeratediagram). A snapshot histogram: its buckets are read as they are, never rate()d.",
        targets: [
          { expr: SNAPSHOT_Q(0.1, "bitcoin_mempool_fee_rate_sat_per_vbyte"), legend: "p10" },
          { expr: SNAPSHOT_Q(0.5, "bitcoin_mempool_fee_rate_sat_per_vbyte"), legend: "median" },
          { expr: SNAPSHOT_Q(0.9, "bitcoin_mempool_fee_rate_sat_per_vbyte"), legend: "p90" },
        ],
        flavours: GAUGES,
        unit: "suffix: sat/vB",
      },
    ],
  },
  {
    title: "Fees",
    panels: [
      {
        title: "Fee estimates",
        type: "timeseries",
        description:
          "bitcoin_fee_estimate_sat_per_vbyte per conf target (--fee-conf-targets): the node's estimatesmartfee; a target without an estimate has no line.",
        targets: [{ expr: "bitcoin_fee_estimate_sat_per_vbyte{$sel}", legend: "{{conf_target}} blocks" }],
        flavours: GAUGES,
        unit: "suffix: sat/vB",
      },
      {
        title: "Minimum fee rates",
        type: "timeseries",
        description:
          "The lowest rate the mempool accepts now (rises above the relay minimum once the mempool is full), -minrelaytxfee and -incrementalrelayfee.",
        targets: [
          { expr: "bitcoin_mempool_min_fee_sat_per_vbyte{$sel}", legend: "mempool minimum" },
          { expr: "bitcoin_min_relay_fee_sat_per_vbyte{$sel}", legend: "relay minimum" },
          { expr: "bitcoin_incremental_relay_fee_sat_per_vbyte{$sel}", legend: "incremental relay" },
        ],
        flavours: GAUGES,
        unit: "suffix: sat/vB",
      },
    ],
  },
  {
    title: "UTXO cache (pr-trace: Tracing.traceUtxoCache)",
    panels: [
      {
        title: "Coins per second",
        type: "timeseries",
        description: "Coins added to, spent from and evicted from the node's coins cache.",
        targets: [
          { expr: "rate(bitcoin_utxo_cache_add_total{$sel}[$__rate_interval])", legend: "added" },
          { expr: "rate(bitcoin_utxo_cache_spend_total{$sel}[$__rate_interval])", legend: "spent" },
          { expr: "rate(bitcoin_utxo_cache_uncache_total{$sel}[$__rate_interval])", legend: "evicted" },
        ],
        flavours: TRACE,
        unit: "ops",
      },
      {
        title: "Value per second",
        type: "timeseries",
        description: "Sum of the values of the coins added, spent and evicted, in satoshis per second.",
        targets: [
          { expr: "rate(bitcoin_utxo_cache_add_value_total{$sel}[$__rate_interval])", legend: "added" },
          { expr: "rate(bitcoin_utxo_cache_spend_value_total{$sel}[$__rate_interval])", legend: "spent" },
          { expr: "rate(bitcoin_utxo_cache_uncache_value_total{$sel}[$__rate_interval])", legend: "evicted" },
        ],
        flavours: TRACE,
        unit: "sat/s",
      },
      {
        title: "Coins in minus out",
        type: "timeseries",
        description: "Coins added minus coins spent per second: how the cached part of the UTXO set grows.",
        targets: [{
          expr:
            "rate(bitcoin_utxo_cache_add_total{$sel}[$__rate_interval]) - rate(bitcoin_utxo_cache_spend_total{$sel}[$__rate_interval])",
          legend: "net",
        }],
        flavours: TRACE,
        unit: "ops",
      },
    ],
  },
  {
    title: "Last block (getblockstats, once tips settle)",
    panels: [
      {
        title: "Transactions",
        type: "timeseries",
        description: "bitcoin_last_block_transactions: transactions in the active tip's block, coinbase included.",
        targets: [{ expr: "bitcoin_last_block_transactions{$sel}", legend: "transactions" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Size and weight",
        type: "timeseries",
        description: "Serialized size (bytes) and weight (WU) of the block's transactions, coinbase excluded.",
        targets: [
          { expr: "bitcoin_last_block_size_bytes{$sel}", legend: "size (bytes)" },
          { expr: "bitcoin_last_block_weight{$sel}", legend: "weight (WU)" },
        ],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Fees and subsidy",
        type: "timeseries",
        description: "What the block paid its miner: its transactions' fees and the block subsidy.",
        targets: [
          { expr: "bitcoin_last_block_fees_satoshis{$sel}", legend: "fees" },
          { expr: "bitcoin_last_block_subsidy_satoshis{$sel}", legend: "subsidy" },
        ],
        flavours: GAUGES,
        unit: "suffix: sat",
      },
      {
        title: "Fee rate percentiles",
        type: "timeseries",
        description:
          "Fee rates at the 10th … 90th percentile of the block's weight (getblockstats feerate_percentiles).",
        targets: [{ expr: "bitcoin_last_block_fee_rate_sat_per_vbyte{$sel}", legend: "p{{percentile}}" }],
        flavours: GAUGES,
        unit: "suffix: sat/vB",
      },
      {
        title: "Inputs and outputs",
        type: "timeseries",
        description: "Coins the active tip's block spent (inputs, coinbase excluded) and created (outputs).",
        targets: [
          { expr: "bitcoin_last_block_inputs{$sel}", legend: "inputs" },
          { expr: "bitcoin_last_block_outputs{$sel}", legend: "outputs" },
        ],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "UTXO set change",
        type: "timeseries",
        description: "How many UTXOs the block added to the set (can be negative), and how many of them are spendable.",
        targets: [
          { expr: "bitcoin_last_block_utxo_increase{$sel}", legend: "all" },
          { expr: "bitcoin_last_block_utxo_increase_spendable{$sel}", legend: "spendable" },
        ],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "UTXO set size change",
        type: "timeseries",
        description: "How much the block grew the UTXO set's serialized size (can be negative).",
        targets: [
          { expr: "bitcoin_last_block_utxo_size_increase_bytes{$sel}", legend: "all" },
          { expr: "bitcoin_last_block_utxo_size_increase_spendable_bytes{$sel}", legend: "spendable" },
        ],
        flavours: GAUGES,
        unit: "bytes",
      },
      {
        title: "Confirmed transactions per second",
        type: "timeseries",
        description:
          "rate(bitcoin_chain_transactions_total): transactions the active chain gained per second (getchaintxstats txcount, read once tips settle). A reorg to a chain with fewer transactions reads as a counter reset.",
        targets: [{ expr: "rate(bitcoin_chain_transactions_total{$sel}[$__rate_interval])", legend: "tx/s" }],
        flavours: GAUGES,
        unit: "ops",
      },
    ],
  },
  {
    title: "Network",
    panels: [
      {
        title: "Peers",
        type: "timeseries",
        description: "bitcoin_peers: connected peers.",
        targets: [{ expr: "bitcoin_peers{$sel}", legend: "peers" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Bandwidth",
        type: "timeseries",
        description:
          "Bytes received from and sent to peers per second (the node's counters; they reset when it restarts).",
        targets: [
          { expr: "rate(bitcoin_bytes_recv_total{$sel}[$__rate_interval])", legend: "received" },
          { expr: "-rate(bitcoin_bytes_sent_total{$sel}[$__rate_interval])", legend: "sent" },
        ],
        flavours: GAUGES,
        unit: "Bps",
      },
      {
        title: "Connections in and out",
        type: "timeseries",
        description: "bitcoin_connections by direction (bitcoin_peers is their sum).",
        targets: [{ expr: "bitcoin_connections{$sel}", legend: "{{direction}}" }],
        flavours: GAUGES,
        decimals: 0,
        stack: true,
      },
      ...(["direction", "network", "connection_type", "transport"] as const).map((label): PanelSpec => ({
        title: `Peers by ${label.replace("_", " ")}`,
        type: "timeseries",
        description:
          `Connected peers by ${label} (bitcoin_peer_connections; no panel line while the node has no peers).`,
        targets: [{ expr: `sum by (${label}) (bitcoin_peer_connections{$sel})`, legend: `{{${label}}}` }],
        flavours: GAUGES,
        decimals: 0,
        stack: true,
      })),
      // Peer quality by network (snapshot histogram: quantiles of the buckets as they are, never rate()).
      {
        title: "Peer ping by network",
        type: "timeseries",
        description:
          "Median and p90 of the connected peers' minimum ping, by network (bitcoin_peer_ping_seconds: a snapshot of the peers connected now; peers without a ping yet are not counted).",
        targets: [
          {
            expr: "histogram_quantile(0.5, sum by (network, le) (bitcoin_peer_ping_seconds_bucket{$sel}))",
            legend: "{{network}} median",
          },
          {
            expr: "histogram_quantile(0.9, sum by (network, le) (bitcoin_peer_ping_seconds_bucket{$sel}))",
            legend: "{{network}} p90",
          },
        ],
        flavours: GAUGES,
        unit: "s",
      },
      {
        title: "BIP152 high-bandwidth peers",
        type: "timeseries",
        description:
          "Compact-block high-bandwidth peers (bitcoin_peers_high_bandwidth): to = peers we asked to push new blocks to us (Core keeps at most 3), from = peers that asked us.",
        targets: [{ expr: "sum by (direction) (bitcoin_peers_high_bandwidth{$sel})", legend: "{{direction}}" }],
        flavours: GAUGES,
        decimals: 0,
      },
      {
        title: "Banned",
        type: "timeseries",
        description: "bitcoin_banned_addresses: entries (addresses and subnets) in the node's ban list.",
        targets: [{ expr: "bitcoin_banned_addresses{$sel}", legend: "bans" }],
        flavours: GAUGES,
        decimals: 0,
      },
    ],
  },
  {
    title: "Next block (collector template, off by default)",
    panels: [
      {
        title: "Next block's fees",
        type: "timeseries",
        description:
          "bitcoin_block_template_fees_satoshis: the fees of the block the node would mine now (Mining.createNewBlock, read per new tip and per minute): the reward on top of the subsidy.",
        targets: [{ expr: "bitcoin_block_template_fees_satoshis{$sel}", legend: "fees" }],
        flavours: ["v32", "v31", "v30"],
        requires: "--collector.template",
        unit: "suffix: sat",
      },
      {
        title: "Next block's transactions and sigops",
        type: "timeseries",
        description:
          "bitcoin_block_template_transactions and bitcoin_block_template_sigops: the template's transactions and sigop cost, coinbase excluded.",
        targets: [
          { expr: "bitcoin_block_template_transactions{$sel}", legend: "transactions" },
          { expr: "bitcoin_block_template_sigops{$sel}", legend: "sigops" },
        ],
        flavours: ["v32", "v31", "v30"],
        requires: "--collector.template",
        decimals: 0,
      },
      {
        title: "Template age",
        type: "timeseries",
        description: "bitcoin_block_template_age_seconds: how old the template behind these values is.",
        targets: [{ expr: "bitcoin_block_template_age_seconds{$sel}", legend: "age" }],
        flavours: ["v32", "v31", "v30"],
        requires: "--collector.template",
        unit: "s",
      },
    ],
  },
  {
    title: "What the callbacks cost the node",
    panels: [
      {
        title: "Callbacks per second",
        type: "timeseries",
        description:
          "Callbacks the node made, by interface and method. Each one holds a node thread until the exporter answers; the UTXO trace holds the validation thread.",
        targets: [{
          expr: "sum by (interface, method) (rate(bitcoind_ipc_exporter_callbacks_total{$sel}[$__rate_interval]))",
          legend: "{{interface}}.{{method}}",
        }],
        flavours: EVENTS,
        unit: "ops",
        stack: true,
      },
      {
        title: "Handler time per callback",
        type: "timeseries",
        description:
          "Mean time the exporter's handlers took per callback (our side only; the node's IPC layer adds about 76 µs per round trip).",
        targets: [{
          expr:
            "sum by (interface, method) (rate(bitcoind_ipc_exporter_callback_handler_seconds_total{$sel}[$__rate_interval])) / sum by (interface, method) (rate(bitcoind_ipc_exporter_callbacks_total{$sel}[$__rate_interval]))",
          legend: "{{interface}}.{{method}}",
        }],
        flavours: EVENTS,
        unit: "s",
      },
      {
        title: "UTXO trace events per block",
        type: "timeseries",
        description:
          "Trace callbacks between consecutive blockConnected notifications: mean and 99th percentile. Times 76 µs is roughly what the subscription adds to each block's connection.",
        targets: [
          {
            expr:
              "rate(bitcoind_ipc_exporter_utxo_trace_events_per_block_sum{$sel}[$__rate_interval]) / rate(bitcoind_ipc_exporter_utxo_trace_events_per_block_count{$sel}[$__rate_interval])",
            legend: "mean",
          },
          {
            expr:
              "histogram_quantile(0.99, sum by (le) (rate(bitcoind_ipc_exporter_utxo_trace_events_per_block_bucket{$sel}[$__rate_interval])))",
            legend: "p99",
          },
        ],
        flavours: TRACE,
        decimals: 0,
      },
      {
        title: "Estimated wait per block",
        type: "timeseries",
        description:
          'Mean UTXO trace events per block times the measured ~76 µs round trip (README, "What each collector costs the node"): the time the subscription adds to connecting each block.',
        targets: [{
          expr:
            "76e-6 * rate(bitcoind_ipc_exporter_utxo_trace_events_per_block_sum{$sel}[$__rate_interval]) / rate(bitcoind_ipc_exporter_utxo_trace_events_per_block_count{$sel}[$__rate_interval])",
          legend: "estimated wait",
        }],
        flavours: TRACE,
        unit: "s",
      },
    ],
  },
  {
    title: "Exporter",
    panels: [
      {
        title: "Collectors",
        type: "timeseries",
        description:
          "bitcoind_ipc_exporter_collector_success per collector: 1 when attached to the node and its last reads succeeded.",
        targets: [{ expr: "bitcoind_ipc_exporter_collector_success{$sel}", legend: "{{collector}}" }],
        min: 0,
        max: 1,
      },
      {
        title: "Collector scrape time",
        type: "timeseries",
        description: "How long each collector's scrape-time reads took in the last scrape.",
        targets: [{ expr: "bitcoind_ipc_exporter_collector_duration_seconds{$sel}", legend: "{{collector}}" }],
        unit: "s",
      },
      {
        title: "HTTP work holding the event loop",
        type: "timeseries",
        description:
          "The longest stretches of HTTP work without yielding (p99 per stage, from bitcoind_ipc_exporter_http_busy_seconds): a callback from the node that arrives during one waits for it. Render runs once per --web.scrape-floor.",
        targets: [
          {
            expr:
              "histogram_quantile(0.99, sum by (stage, le) (rate(bitcoind_ipc_exporter_http_busy_seconds_bucket{$sel}[$__rate_interval])))",
            legend: "{{stage}} p99",
          },
        ],
        unit: "s",
      },
      {
        title: "Node unanswered",
        type: "timeseries",
        description:
          "How long the oldest call to the node has gone unanswered (long-polls excluded); past 10 s bitcoin_up is 0.",
        targets: [{ expr: "bitcoind_ipc_exporter_node_unanswered_seconds{$sel}", legend: "unanswered" }],
        unit: "s",
      },
      {
        title: "Connections",
        type: "timeseries",
        description: "Connection attempts and successful connections to the node's socket per interval.",
        targets: [
          {
            expr: "increase(bitcoind_ipc_exporter_connect_attempts_total{$sel}[$__rate_interval])",
            legend: "attempts",
          },
          { expr: "increase(bitcoind_ipc_exporter_connects_total{$sel}[$__rate_interval])", legend: "connected" },
        ],
        bars: true,
      },
      {
        title: "Connected for",
        type: "stat",
        description: "Time since the last successful connection to the node.",
        targets: [{ expr: "time() - bitcoind_ipc_exporter_last_connect_timestamp_seconds{$sel}" }],
        unit: "s",
      },
      {
        title: "Build",
        type: "stat",
        description: "bitcoind_ipc_exporter_build_info: the exporter's version and the Deno it runs on.",
        targets: [{ expr: "bitcoind_ipc_exporter_build_info{$sel}", legend: "{{version}} (Deno {{deno}})" }],
        showName: true,
      },
      {
        title: "Exporter uptime",
        type: "stat",
        description: "Time since the exporter process started (process_start_time_seconds).",
        targets: [{ expr: "time() - process_start_time_seconds{$sel}" }],
        unit: "s",
      },
      {
        title: "Exporter CPU",
        type: "timeseries",
        description: "CPU seconds per second the exporter process uses (process_cpu_seconds_total, user and system).",
        targets: [{ expr: "rate(process_cpu_seconds_total{$sel}[$__rate_interval])", legend: "CPU" }],
        unit: "percentunit",
      },
      {
        title: "Exporter memory",
        type: "timeseries",
        description: "Resident set size, the V8 heap allocated and used, and memory outside the heap (buffers).",
        targets: [
          { expr: "process_resident_memory_bytes{$sel}", legend: "resident" },
          { expr: "deno_heap_size_total_bytes{$sel}", legend: "heap allocated" },
          { expr: "deno_heap_size_used_bytes{$sel}", legend: "heap used" },
          { expr: "deno_external_memory_bytes{$sel}", legend: "external" },
        ],
        unit: "bytes",
      },
    ],
  },
];

export const SELECTOR = 'job=~"$job",instance=~"$instance"';
const DS = { type: "prometheus", uid: "${datasource}" };

/** "no data on this flavour" text and the machine-readable "Flavours: …." sentence tests read. */
function flavourNote(p: PanelSpec): { description: string; noValue?: string } {
  const parts = [p.description];
  if (p.requires) parts.push(`Needs ${p.requires}.`);
  if (!p.flavours) return { description: parts.join(" ") };
  parts.push(`Flavours: ${p.flavours.join(", ")}.`);
  return { description: parts.join(" "), noValue: `no data on this flavour (${p.flavours.join(", ")} only)` };
}

export function expand(expr: string): string {
  return expr.replaceAll("{$sel,", `{${SELECTOR},`).replaceAll("{$sel}", `{${SELECTOR}}`);
}

function panelJson(p: PanelSpec, id: number, gridPos: Record<string, number>): Record<string, unknown> {
  const note = flavourNote(p);
  const defaults: Record<string, unknown> = {
    unit: p.unit ?? "none",
    ...(p.decimals !== undefined ? { decimals: p.decimals } : {}),
    ...(p.min !== undefined ? { min: p.min } : {}),
    ...(p.max !== undefined ? { max: p.max } : {}),
    ...(note.noValue ? { noValue: note.noValue } : {}),
    color: { mode: p.type === "timeseries" ? "palette-classic" : "thresholds" },
    thresholds: { mode: "absolute", steps: [{ color: "green", value: null }] },
  };
  if (p.mappings) {
    defaults.mappings = [{
      type: "value",
      options: Object.fromEntries(
        Object.entries(p.mappings).map(([v, [text, color]], i) => [v, { text, color, index: i }]),
      ),
    }];
  }
  if (p.type === "timeseries") {
    defaults.custom = {
      drawStyle: p.bars ? "bars" : "line",
      lineWidth: 1,
      fillOpacity: p.bars || p.stack ? 60 : 10,
      showPoints: "never",
      spanNulls: false,
      stacking: { mode: p.stack ? "normal" : "none", group: "A" },
    };
  }
  const options: Record<string, unknown> = p.type === "timeseries"
    ? {
      legend: { displayMode: "list", placement: "bottom", showLegend: true },
      tooltip: { mode: "multi", sort: "desc" },
    }
    : {
      reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
      ...(p.type === "stat"
        ? { colorMode: "value", graphMode: "none", textMode: p.showName ? "name" : "value", justifyMode: "center" }
        : { showThresholdLabels: false, showThresholdMarkers: false }),
    };
  return {
    type: p.type,
    title: p.title,
    id,
    description: note.description,
    datasource: DS,
    gridPos,
    fieldConfig: { defaults, overrides: [] },
    options,
    targets: p.targets.map((t, i) => ({
      datasource: DS,
      expr: expand(t.expr),
      refId: String.fromCharCode(65 + i),
      ...(t.legend ? { legendFormat: t.legend } : {}),
      ...(p.type === "timeseries" ? { range: true } : { instant: true }),
    })),
  };
}

function variable(name: string, label: string, query: string): Record<string, unknown> {
  return {
    type: "query",
    name,
    label,
    datasource: DS,
    definition: query,
    query: { query, refId: `${name}-variable` },
    refresh: 2,
    includeAll: true,
    allValue: ".+",
    multi: false,
    current: {},
    sort: 1,
  };
}

export function buildDashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1, y = 0;
  for (const row of ROWS) {
    panels.push({
      type: "row",
      title: row.title,
      id: id++,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0, rowH = 0;
    for (const p of row.panels) {
      const w = p.w ?? (p.type === "timeseries" ? 8 : 4);
      const h = p.type === "timeseries" ? 8 : 4;
      if (x + w > 24) {
        x = 0;
        y += rowH;
        rowH = 0;
      }
      panels.push(panelJson(p, id++, { h, w, x, y }));
      x += w;
      rowH = Math.max(rowH, h);
    }
    y += rowH;
  }
  return {
    title: "Bitcoin Core (bitcoind-ipc-exporter)",
    uid: "bitcoind-ipc-exporter",
    description:
      "Node status, the events the node pushes over IPC (blocks, reorgs, mempool, UTXO cache) and what they cost, by flavour. Generated by dashboards/build.ts.",
    tags: ["bitcoin", "bitcoind-ipc-exporter"],
    schemaVersion: 39,
    version: 1,
    editable: true,
    graphTooltip: 1,
    refresh: "10s",
    time: { from: "now-1h", to: "now" },
    timepicker: {},
    timezone: "",
    links: [],
    annotations: { list: [] },
    templating: {
      list: [
        {
          type: "datasource",
          name: "datasource",
          label: "Data source",
          query: "prometheus",
          current: {},
          hide: 0,
          refresh: 1,
          regex: "",
        },
        variable("job", "Job", "label_values(bitcoin_up, job)"),
        variable("instance", "Instance", 'label_values(bitcoin_up{job=~"$job"}, instance)'),
      ],
    },
    panels,
  };
}

export function render(): string {
  return JSON.stringify(buildDashboard(), null, 2) + "\n";
}

if (import.meta.main) {
  const text = render();
  if (Deno.args.includes("--check")) {
    const current = await Deno.readTextFile(OUTPUT).catch(() => "");
    if (current !== text) {
      console.error(
        "dashboards/bitcoind-ipc-exporter.json is not what dashboards/build.ts gives: run `deno task dashboard`",
      );
      Deno.exit(1);
    }
  } else {
    await Deno.writeTextFile(OUTPUT, text);
  }
}
