/**
 * Every default the exporter runs with, in one table. `--help` prints from it, and tests hold the
 * launcher (nix/wrapper.sh) and the NixOS module (nix/module.nix) to the same listen address.
 */
export const DEFAULTS = {
  /** Where /metrics is served: loopback only, the Rust exporter's port. */
  listenAddress: "127.0.0.1:9332",
  /** Each handshake step and each call to the node, unless the call says otherwise. */
  callTimeoutMs: 5000,
  /** A scrape's round of node reads is abandoned after this (its metrics left out, never stale). */
  scrapeTimeoutMs: 3000,
  /** A round of node reads is reused by scrapes within this window. */
  scrapeCacheMs: 1000,
  /** Reconnect backoff: first and longest wait. */
  backoffMinMs: 500,
  backoffMaxMs: 30_000,
  /** How often to ask whether the node left IBD while the UTXO trace subscription is deferred. */
  ibdPollMs: 10_000,
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
} as const;

export type Defaults = typeof DEFAULTS;

/** The timeouts, intervals and backoff the exporter runs with (tests shorten them). */
export type Timing = Omit<
  { -readonly [K in keyof Defaults]: Defaults[K] extends number ? number : never },
  "listenAddress"
>;

/** The default timing, with overrides. */
export function timing(overrides: Partial<Timing> = {}): Timing {
  const { listenAddress: _, ...t } = DEFAULTS;
  return { ...t, ...overrides };
}
