/** The shape of bench/results.json (written by bench.ts, read by render.ts). */

export interface Stats {
  n: number;
  mean_us: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  calls_per_s: number;
}

/** A callback workload (or the trivial client → node call): ours vs the C++ client. */
export interface CallbackRow {
  workload: string;
  ours: Stats;
  limit: Stats;
  p50_ratio: number;
  p99_ratio: number;
  /**
   * When the calls were split into alternating runs (C++ client then ours, ours then C++ client, ...):
   * each pair's ratios, whose medians are p50_ratio and p99_ratio; ours and limit are then the pair
   * with the median p50 ratio.
   */
  pairs?: { p50_ratio: number; p99_ratio: number }[];
  /** CPU (utime + stime from /proc) per callback, µs: ours and the C++ client's. */
  ours_cpu_us_per_call?: number;
  limit_cpu_us_per_call?: number;
  cpu_ratio?: number;
  rss_before_mib?: number;
  rss_after_mib?: number;
}

/** One block's callbacks replayed in the node's order (the peer's `script`), per block. */
export interface BlockMix {
  workload: string;
  callbacks: number;
  rounds: number;
  /** Alternating runs (C++ client, ours) the rounds were split into, and each one's ratio. */
  pairs: number;
  pair_ratios: number[];
  /** Per block: the sum of its callbacks' round trips, µs. */
  ours_block_us: Stats;
  limit_block_us: Stats;
  ours_callback: Stats;
  limit_callback: Stats;
  /** p50 per-block round-trip sum, ours / C++ client: the median over the pairs (the tables show that pair's run). */
  ratio: number;
  /** The same for the wall time of a block (the peer's own request building included). */
  wall_ratio: number;
  ours_cpu_us_per_call: number;
  limit_cpu_us_per_call: number;
}

/** UTXO callbacks while scrapers scrape; the limit is the C++ client without scrapers. */
export interface ScrapeRow {
  workload: string;
  scrapers: number;
  loop: boolean;
  ours: Stats;
  limit: Stats;
  p50_ratio: number;
  p99_ratio: number;
  ours_cpu_us_per_call: number;
  scrapes: number;
  scrape_p50_ms: number;
  scrape_p99_ms: number;
  rss_before_mib: number;
  rss_after_mib: number;
  /** Highest and lowest RSS sampled (once a second) in the second half of the run. */
  rss_steady_max_mib: number;
  rss_steady_min_mib: number;
  rss_samples_mib: number[];
  /**
   * V8 mark-compacts seen over the run (bench.ts markCompacts, from the exporter's heap at each scrape;
   * 1 scraper at 1/s only). Until the first one the old space only grows: RSS before it is not steady.
   * Absent in results from before it existed.
   */
  mark_compacts?: number;
  /**
   * What ran: main.ts (absent: the Nix package and `deno task start` run it) or "bundle", the bundle as
   * `deno task install` lays it out, with its Deno cache (the image runs the same bundle and cache).
   */
  entry?: "bundle";
  /**
   * bitcoind_ipc_exporter_http_busy_seconds over the run (after 11 warm-up scrapes, as the callback
   * path is warmed up): the longest stretch of HTTP work
   * (the upper bound of the highest bucket any stage reached, ms; Infinity past the last), how many
   * stretches there were and how many exceeded 1 ms. Absent in results from before it existed.
   */
  http_busy?: { max_le_ms: number; stretches: number; over_1ms: number; by_stage_max_le_ms: Record<string, number> };
}

/** The longest event-loop stall (1 ms timer lateness inside the exporter) during scrapes, vs idle. */
export interface Stall {
  exposition_bytes: number;
  scrapes: number;
  idle_max_late_ms: number;
  scrape_max_late_ms: number;
  scrape_p50_ms: number;
  scrape_max_ms: number;
}

/** Process spawn → first scrape showing `bitcoin_up 1`. */
export interface Start {
  runs: number;
  median_ms: number;
  min_ms: number;
  max_ms: number;
}

export interface BenchResults {
  mode: string;
  date: string;
  commit: string;
  cores: number;
  load_avg: number[];
  exporter_deno_flags: string[];
  /** The environment the launcher sets for the exporter (absent in results from before it set any). */
  exporter_env?: Record<string, string>;
  seconds: number;
  trivial: CallbackRow;
  callbacks: CallbackRow[];
  block_mix: BlockMix[];
  scraping: ScrapeRow[];
  stall: Stall;
  start: Start;
  /** bench/mem.ts's breakdown, as Markdown table rows (empty in the smoke run). */
  memory: string[];
  extra: Record<string, unknown>;
}

export const pct = (sorted: number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;

/** Statistics of round trips in µs (sorted in place), as the peer's statsLine computes them. */
export function statsOf(us: number[], totalMs: number): Stats {
  us.sort((a, b) => a - b);
  return {
    n: us.length,
    mean_us: us.reduce((a, b) => a + b, 0) / us.length,
    p50_us: pct(us, 0.5),
    p99_us: pct(us, 0.99),
    p999_us: pct(us, 0.999),
    max_us: us[us.length - 1],
    calls_per_s: us.length / (totalMs / 1000),
  };
}
