/**
 * The one contract between the connection and the sources of metrics (node_exporter's Collector):
 * a collector serves families, is attached to each new session (subscribe, prime state) and
 * detached when it ends, and may do scrape-time work. The supervisor records, per collector,
 * whether its attach and its last scrape succeeded and how long the scrape took.
 *
 * Adding a source: one new file that exports a `CollectorSpec`, and one line in `./mod.ts`.
 */
import type { Flavour } from "../flavour.ts";
import type { Session } from "../ipc/session.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../metrics/registry.ts";
import type { Timing } from "../cli/defaults.ts";
import type { CallbackCost } from "./callback_cost.ts";
import type { ChainEvents } from "./events.ts";
import type { RpcRound } from "./rpc_round.ts";

export interface Collector {
  /** As in `bitcoind_ipc_exporter_collector_success{collector="…"}`. */
  readonly name: string;
  /** The metric families this collector serves; read at every scrape. */
  families(): Family[];
  /**
   * Called after each successful handshake; `session.interfaces` says what the node offers. A
   * rejection ends the session (it is retried with backoff), so reject only when retrying helps.
   */
  attach?(session: Session): Promise<void>;
  /** Called when the session has ended; the node's side of any subscription is gone with it. */
  detach?(): void;
  /**
   * Scrape-time work (reading the node now). Must settle within `timing.scrapeTimeoutMs`; a
   * rejection marks this collector failed for this scrape (its families say what they still have).
   */
  scrape?(): Promise<void>;
}

/** What every collector is made with. */
export interface CollectorContext {
  log: Logger;
  timing: Timing;
  /** The flavour forced with --flavour, if any (families it cannot give are left out from the start). */
  flavour?: Flavour;
  /** Where collectors that answer the node's callbacks record what each one cost. */
  callbacks: CallbackCost;
  /** Node events one collector learns and others use (new tips). */
  events: ChainEvents;
  /** The shared JSON-RPC round (one batch per scrape); made on first use when not given (rpc_round.ts). */
  rpc?: RpcRound;
  /** estimatesmartfee conf targets (--fee-conf-targets); DEFAULT_FEE_CONF_TARGETS when not given. */
  feeConfTargets?: readonly number[];
}

/** A registered collector: its name and how to make it. */
export interface CollectorSpec {
  readonly name: string;
  /** One line for --help and docs. */
  readonly help: string;
  /** Whether it runs unless switched off (default true). */
  readonly defaultEnabled?: boolean;
  create(ctx: CollectorContext): Collector;
}
