/**
 * What every scrape-time collector shares: one set of readings per topic, read from the flavour's
 * source when Prometheus scrapes. On JSON-RPC flavours (v32, chain5) the readings are parsed from
 * the shared round (rpc_round.ts: one batch per scrape round for every collector); on the
 * multiprocess branches they come from Node/Chain getters, one call after another on the read
 * Thread, cached for `scrapeCacheMs` and abandoned after `scrapeTimeoutMs`. A reading a flavour
 * cannot give, or that the node's answer lacks, is left out: its family is absent, never zero.
 *
 * A topic collector says, per source, how to read it: `rpc` declares its requests into the round
 * once and parses its replies; `node` lists the getter calls, one per reading. Adding a branch
 * source for a family is one more entry in `node`.
 */
import { FLAVOUR_TRAITS } from "../flavour.ts";
import { CallTimeoutError, DisconnectedError } from "../ipc/errors.ts";
import type { Session, SessionCallOptions } from "../ipc/session.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../metrics/registry.ts";
import { errorText } from "../util/errors.ts";
import type { Timing } from "../cli/defaults.ts";
import type { Collector, CollectorContext } from "./collector.ts";
import {
  Answer,
  Reporter,
  type RoundReplies,
  rpcFailures,
  type RpcRound,
  type RpcSlot,
  sharedRound,
} from "./rpc_round.ts";

/** Parses this collector's replies out of a round. */
export type RpcParse<R> = (answer: (slot: RpcSlot, method: string) => Answer) => Partial<R>;

/** One getter call per reading (multiprocess branches' Node/Chain, or stock Mining). */
export type NodeReads<R> = (
  session: Session,
  opt: () => SessionCallOptions,
) => { [K in keyof R]?: () => Promise<R[K] | undefined> };

export abstract class ScrapedCollector<R extends object> implements Collector {
  abstract readonly name: string;
  #session: Session | undefined;
  #readings: Partial<R> | undefined;
  #from: RoundReplies | undefined;
  #readAt = -Infinity;
  #inflight: Promise<void> | undefined;
  protected readonly log: Logger;
  protected readonly timing: Timing;
  protected readonly round: RpcRound;
  protected readonly reporter: Reporter;
  readonly #parse: RpcParse<R> | undefined;
  readonly #calls: { node?: NodeReads<R>; mining?: NodeReads<R> };
  /** Whether some of this collector's requests are read through Node.executeRpc on the branches. */
  readonly #viaNode: boolean;

  constructor(
    ctx: CollectorContext,
    sources: { rpc?: (round: Pick<RpcRound, "add">) => RpcParse<R>; node?: NodeReads<R>; mining?: NodeReads<R> },
  ) {
    this.log = ctx.log;
    this.timing = ctx.timing;
    this.round = sharedRound(ctx);
    this.reporter = new Reporter(ctx.log);
    // The round, as this collector declares into it: remembers whether any of its requests is read
    // on the branches too, so a collector whose values all come from getters never waits for it.
    const round = this.round;
    let viaNode = false;
    const declare: Pick<RpcRound, "add"> = {
      add: (method, params, o = {}) => {
        viaNode ||= !!o.node;
        // Named in the one line logged when the node refuses the method.
        if (o.feeds) rpcFailures(ctx.log).feeds(method, o.feeds);
        return round.add(method, params, o);
      },
    };
    this.#parse = sources.rpc?.(declare);
    this.#viaNode = viaNode;
    this.#calls = { node: sources.node, mining: sources.mining };
  }

  attach(session: Session): Promise<void> {
    this.#session = session;
    this.#readings = undefined;
    this.#from = undefined;
    this.#readAt = -Infinity;
    return Promise.resolve();
  }

  detach(): void {
    this.#session = undefined;
    this.#readings = undefined;
    this.#from = undefined;
    this.round.reset();
  }

  /** The last readings; undefined before the first read, after a failed one, and while detached. */
  get readings(): Partial<R> | undefined {
    return this.#readings;
  }

  /** The flavour's source for this collector, if it has one. */
  protected source(session: Session): "rpc" | "node" | "mining" | undefined {
    const s = FLAVOUR_TRAITS[session.flavour].gauges;
    if (s === "rpc") return this.#parse && session.rpc ? "rpc" : undefined;
    if (s === "node" && this.#viaNode && session.node) return "node";
    return this.#calls[s] ? s : undefined;
  }

  scrape(): Promise<void> {
    const session = this.#session;
    if (!session) return Promise.resolve();
    const source = this.source(session);
    if (source === "rpc") return this.#readRpc(session);
    if (source === undefined) return Promise.resolve();
    if (performance.now() - this.#readAt < this.timing.scrapeCacheMs) return Promise.resolve();
    this.#inflight ??= this.#readCalls(session, this.#calls[source]).finally(() => this.#inflight = undefined);
    return this.#inflight;
  }

  async #readRpc(session: Session): Promise<void> {
    let round: RoundReplies;
    try {
      round = await this.round.read(session);
    } catch (e) {
      if (this.#session === session) this.#readings = undefined;
      throw new Error(`the JSON-RPC round failed: ${errorText(e)}`);
    }
    if (this.#session !== session || round === this.#from) return; // parsed already
    this.#from = round;
    this.#readings = this.#parse!((slot, method) => new Answer(round.replies[slot], method, this.reporter));
  }

  /**
   * The getters one after another, then (on the branches) what the round read through
   * Node.executeRpc for the readings no getter gives. One the node fails to answer is left out
   * (and named in the error), the others are served. A call that timed out stops the getters: the
   * calls after it would only wait behind it for the same Thread.
   */
  async #readCalls(session: Session, calls: NodeReads<R> | undefined): Promise<void> {
    const end = performance.now() + this.timing.scrapeTimeoutMs;
    const opt = (): SessionCallOptions => ({ timeoutMs: Math.max(1, end - performance.now()) });
    const reads = Object.entries(calls?.(session, opt) ?? {}) as [string, () => Promise<unknown>][];
    const r: Record<string, unknown> = {};
    const failures: string[] = [];
    for (const [key, read] of reads) {
      try {
        const v = await read();
        if (v !== undefined) r[key] = v;
      } catch (e) {
        failures.push(`${key}: ${errorText(e)}`);
        if (e instanceof CallTimeoutError || e instanceof DisconnectedError) break;
      }
    }
    let parsed: Partial<R> = {};
    const viaNode = this.#viaNode && !session.rpc && !!session.node;
    if (viaNode) {
      try {
        const round = await this.round.read(session);
        parsed = this.#parse!((slot, method) => new Answer(round.replies[slot], method, this.reporter));
      } catch (e) {
        failures.push(`Node.executeRpc: ${errorText(e)}`);
      }
    }
    if (this.#session !== session) return;
    for (const [k, v] of Object.entries(parsed)) if (v !== undefined && !(k in r)) r[k] = v;
    const total = reads.length + (viaNode ? 1 : 0);
    this.#readings = failures.length === total && total > 0 ? undefined : r as Partial<R>;
    this.#readAt = performance.now();
    if (failures.length > 0) throw new Error(`reading node state failed: ${failures.join("; ")}`);
  }

  /** A gauge of one reading. */
  protected gauge(name: string, help: string, pick: (r: Partial<R>) => number | undefined): Family {
    return { name, help, type: "gauge", read: () => this.#readings ? pick(this.#readings) : undefined };
  }

  abstract families(): Family[];
}
