/**
 * Every default the exporter runs with, in one table. `--help` prints from it, and tests hold the
 * launcher (nix/wrapper.sh) and the NixOS module (nix/module.nix) to the same listen address.
 */
export const DEFAULTS = {
  /** Where /metrics is served: loopback only, the Rust exporter's port. */
  listenAddress: "127.0.0.1:9332",
  /** Where metrics are served (--web.telemetry-path). */
  telemetryPath: "/metrics",
  /** Each handshake step and each call to the node, unless the call says otherwise. */
  callTimeoutMs: 5000,
  /** A scrape's round of node reads is abandoned after this (its metrics left out, never stale). */
  scrapeTimeoutMs: 3000,
  /** A round of node reads is reused by scrapes within this window. */
  scrapeCacheMs: 1000,
  /**
   * /metrics renders at most once per this (src/http/shared_render.ts): requests within it, or
   * during a render, share the last bodies, so a scrape loop costs bounded CPU whatever its rate.
   */
  scrapeFloorMs: 500,
  /** Reconnect backoff: first and longest wait. */
  backoffMinMs: 500,
  backoffMaxMs: 30_000,
  /** How often to ask whether the node left IBD while the UTXO trace subscription is deferred. */
  ibdPollMs: 10_000,
  /**
   * While the node is in IBD, a per-tip read (getblockstats, the tip's header time) starts no
   * sooner than this after the previous one: one read per pause, not one per block of the sync.
   */
  perTipIbdPauseMs: 2000,
  /**
   * A per-tip read that still needs the node (getblockstats, getchaintxstats, IBD) waits until no
   * new tip came for this long (at most 10 s): a burst of blocks costs one read of the newest.
   */
  perTipSettleMs: 500,
  /** How long each Mining.waitTipChanged waits where Mining.interrupt can end it (v31+). */
  tipWaitMs: 30_000,
  /** Pause after a failed tip wait before the next. */
  tipRetryMs: 1000,
  /** How long each Mining.waitTipChanged waits on v30, which has no Mining.interrupt (see tip_watcher.ts). */
  tipWaitMsV30: 2000,
  /** An orderly stop (disconnect every subscription, close) must finish within this. */
  shutdownDeadlineMs: 5000,
  /** A node call unanswered for this long makes the node unresponsive: `bitcoin_up` 0 until it answers. */
  unresponsiveMs: 10_000,
  /**
   * The HTTP server (src/http/server.ts). Connections served at once; at the cap an idle keep-alive
   * connection, else the slowest request still being read, makes room for a new one.
   */
  httpMaxConnections: 64,
  /** Largest request head (request line and headers) accepted. */
  httpMaxHeaderBytes: 8192,
  /** A request head must arrive within this of its first byte (of the connection's opening, for the first). */
  httpHeaderTimeoutMs: 5000,
  /** A keep-alive connection may wait this long for its next request. */
  httpIdleTimeoutMs: 5000,
  /**
   * From the end of a request head: any (small, discarded) body must arrive and the handler must
   * answer within this (the scrape timeout plus rendering fits well inside).
   */
  httpHandlerTimeoutMs: 10_000,
  /** A response must be handed to the kernel within this. */
  httpWriteTimeoutMs: 5000,
  /** When accept() fails (e.g. out of file descriptors): first and longest pause before trying again. */
  httpAcceptBackoffMinMs: 10,
  httpAcceptBackoffMaxMs: 1000,
  /** The same kind of HTTP error is reported at most once per this interval (the rest are counted). */
  httpReportIntervalMs: 10_000,
  /**
   * Requests per second one HTTP connection is answered at, on average (bursts of twice as many):
   * faster clients are paced, not refused. Far above any scrape interval; a loop costs no more.
   */
  httpRequestsPerSecond: 5,
  /** The template collector builds a block template (Mining.createNewBlock) once per new tip and once per this. */
  templateIntervalMs: 60_000,
} as const;

export type Defaults = typeof DEFAULTS;

/** estimatesmartfee conf targets served by default (--fee-conf-targets): next blocks, an hour, two hours, a day, a week. */
export const DEFAULT_FEE_CONF_TARGETS: readonly number[] = [2, 6, 12, 144, 1008];
/** At most this many conf targets (one series each, one estimatesmartfee each per scrape). */
export const MAX_FEE_CONF_TARGETS = 20;

/** The timeouts, intervals and backoff the exporter runs with (tests shorten them). */
export type Timing = Omit<
  { -readonly [K in keyof Defaults]: Defaults[K] extends number ? number : never },
  "listenAddress" | "telemetryPath"
>;

/** The default timing, with overrides. */
export function timing(overrides: Partial<Timing> = {}): Timing {
  const { listenAddress: _, telemetryPath: __, ...t } = DEFAULTS;
  return { ...t, ...overrides };
}
