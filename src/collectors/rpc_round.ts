/**
 * The one JSON-RPC batch of a scrape round, shared by every collector that reads through JSON-RPC
 * over IPC (v32, chain5). Each collector declares its requests once, when it is made; at scrape time
 * the first collector to ask sends the whole batch in one `Rpc.executeRpc`, and every collector
 * reads its replies from that answer. The round is reused for `scrapeCacheMs` (so concurrent and
 * back-to-back scrapes cost the node one batch), and abandoned after `scrapeTimeoutMs` (its metrics
 * are then left out of that scrape, never served stale).
 *
 * Requests whose parameters depend on the tip (getblockstats of the new tip) do not belong here:
 * they are read once per tip by their collectors, not once per scrape.
 *
 * On the multiprocess branches (Node, no Rpc) the requests declared `node: true` — those no
 * Node/Chain getter answers — go one by one through `Node.executeRpc` (the node's RPC table, the
 * same methods and answers); the others are left out there (their getters are read instead).
 */
import { nodeExecuteRpc } from "../ipc/branch.ts";
import { CallTimeoutError, DisconnectedError } from "../ipc/errors.ts";
import type { Session } from "../ipc/session.ts";
import { rpcBatch, type RpcReply } from "../ipc/stock.ts";
import { errorText } from "../util/errors.ts";
import type { Timing } from "../cli/defaults.ts";
import type { Logger } from "../log.ts";
import type { ChainEvents } from "./events.ts";

/** A request declared into the round: where its reply is. */
export type RpcSlot = number & { readonly __slot: unique symbol };

/** A reply, or a request this flavour's round does not send (its readings come from a getter). */
export type RoundReply = RpcReply & { skipped?: true };

export interface RoundReplies {
  /** The session the round ran on. */
  readonly session: Session;
  readonly replies: readonly RoundReply[];
  /** When the answer arrived (performance.now()). */
  readonly at: number;
}

/** How a collector declares a request into the round. */
export interface RpcDeclaration {
  /** Also read on the branches, through Node.executeRpc (no getter gives what it answers). */
  node?: boolean;
  /** The metrics its answer feeds: named in the one log line when the node refuses the method. */
  feeds?: readonly string[];
}

export class RpcRound {
  readonly #requests: { method: string; params?: unknown[] }[] = [];
  /** The slots also read on the branches (through Node.executeRpc). */
  readonly #node = new Set<number>();
  readonly #keys = new Map<string, RpcSlot>();
  #last: RoundReplies | undefined;
  #inflight: { session: Session; promise: Promise<RoundReplies> } | undefined;
  /** Rounds sent (tests, bench). */
  rounds = 0;

  constructor(readonly timing: Timing) {}

  /**
   * Declares a request sent in every round; identical requests share one slot. `node`: also read on
   * the branches, through Node.executeRpc (no getter gives what it answers).
   */
  add(method: string, params?: unknown[], o: RpcDeclaration = {}): RpcSlot {
    const key = JSON.stringify([method, params ?? []]);
    let slot = this.#keys.get(key);
    if (slot === undefined) {
      slot = this.#requests.length as RpcSlot;
      this.#requests.push(params ? { method, params } : { method });
      this.#keys.set(key, slot);
    }
    if (o.node) this.#node.add(slot);
    return slot;
  }

  get size(): number {
    return this.#requests.length;
  }

  /**
   * This round's replies on `session`: the last answer if it is younger than `scrapeCacheMs`, the
   * batch in flight if there is one, else a new batch. Rejects when the batch failed or timed out.
   */
  read(session: Session): Promise<RoundReplies> {
    const last = this.#last;
    if (last && last.session === session && performance.now() - last.at < this.timing.scrapeCacheMs) {
      return Promise.resolve(last);
    }
    if (this.#inflight?.session === session) return this.#inflight.promise;
    const promise = (async () => {
      this.rounds++;
      const replies = session.rpc
        ? await rpcBatch(session, this.#requests, { timeoutMs: this.timing.scrapeTimeoutMs })
        : await this.#viaNode(session);
      const r = { session, replies, at: performance.now() };
      this.#last = r;
      return r;
    })();
    const inflight = { session, promise };
    this.#inflight = inflight;
    promise.then(
      () => this.#inflight === inflight && (this.#inflight = undefined),
      () => this.#inflight === inflight && (this.#inflight = undefined),
    );
    return promise;
  }

  /**
   * The `node` requests one after another through Node.executeRpc, within the scrape timeout; the
   * rest are skipped. A timeout or a lost connection ends the round (what is left would only wait
   * behind it on the same Thread); any other failure is that request's error reply.
   */
  async #viaNode(session: Session): Promise<RoundReply[]> {
    const end = performance.now() + this.timing.scrapeTimeoutMs;
    const replies: RoundReply[] = this.#requests.map(() => ({ skipped: true }));
    for (const slot of this.#node) {
      const { method, params } = this.#requests[slot];
      replies[slot] = await nodeRpc(session, method, params, Math.max(1, end - performance.now()));
    }
    return replies;
  }

  /** Forgets the last answer (the session ended). */
  reset(): void {
    this.#last = undefined;
    this.#inflight = undefined;
  }
}

/** One method through Node.executeRpc as a JSON-RPC reply; rejects only on a timeout or a lost connection. */
async function nodeRpc(session: Session, method: string, params: unknown[] | undefined, timeoutMs: number) {
  try {
    return { result: await nodeExecuteRpc(session, method, JSON.stringify(params ?? []), { timeoutMs }) };
  } catch (e) {
    if (e instanceof CallTimeoutError || e instanceof DisconnectedError) throw e;
    return { error: { message: errorText(e) } };
  }
}

/**
 * One JSON-RPC request outside the round (once per tip, not per scrape): through Rpc.executeRpc
 * where the node has it (v32, chain5), else through Node.executeRpc (the branches).
 */
export async function rpcCall(
  session: Session,
  method: string,
  params: unknown[] | undefined,
  timeoutMs: number,
): Promise<RpcReply> {
  if (session.rpc) return (await rpcBatch(session, [{ method, params }], { timeoutMs }))[0];
  if (session.node) return await nodeRpc(session, method, params, timeoutMs);
  throw new Error("the node offers neither Rpc nor Node");
}

/**
 * The round of the exporter `ctx` belongs to. Every collector of one exporter is made with the
 * same context objects, so the round hangs off the event hub they share (no wiring in app.ts).
 */
const rounds = new WeakMap<ChainEvents, RpcRound>();
export function sharedRound(ctx: { events: ChainEvents; timing: Timing; rpc?: RpcRound }): RpcRound {
  if (ctx.rpc) return ctx.rpc;
  let r = rounds.get(ctx.events);
  if (!r) {
    r = new RpcRound(ctx.timing);
    rounds.set(ctx.events, r);
  }
  return r;
}

/** How many distinct problems with the node's answers are remembered per collector (each logged once). */
const MAX_REPORTED = 64;

/** Adds `key` to a bounded set (the oldest forgotten when full); false if it was there already. */
function remember(seen: Set<string>, key: string): boolean {
  if (seen.has(key)) return false;
  if (seen.size >= MAX_REPORTED) seen.delete(seen.values().next().value!);
  seen.add(key);
  return true;
}

/**
 * Methods the node refused, per exporter: one log line per method and distinct error, naming every
 * metric the method feeds (what each collector declared), whichever collector met it first and
 * however many fields it would have read from the answer. A node with an -rpcwhitelist that leaves
 * methods out, or an older build without them, otherwise logs a line per field read (issue 20).
 */
export class RpcFailures {
  readonly #feeds = new Map<string, Set<string>>();
  readonly #seen = new Set<string>();
  constructor(readonly log: Logger) {}

  /** Declares that `method`'s answer feeds `metrics`. */
  feeds(method: string, metrics: Iterable<string>): void {
    let set = this.#feeds.get(method);
    if (!set) this.#feeds.set(method, set = new Set());
    for (const m of metrics) set.add(m);
  }

  /** The metrics declared for `method` (`estimatesmartfee(6)` is `estimatesmartfee`'s). */
  fed(method: string): string[] {
    return [...this.#feeds.get(method.replace(/\(.*$/, "")) ?? []];
  }

  /** Logs `method`'s failure once per distinct error (a bounded set, as Reporter's). */
  failed(method: string, error: { code?: unknown; message?: unknown }, prefix = "JSON-RPC over IPC"): void {
    const message = String(error.message ?? "error").slice(0, 200);
    const code = typeof error.code === "number" ? ` (code ${error.code})` : "";
    if (!remember(this.#seen, `${method}\u0000${code}\u0000${message}`)) return;
    const fed = this.fed(method);
    const out = fed.length > 0 ? `left out: ${fed.join(", ")}` : "the metrics it feeds are left out";
    this.log.error(`${prefix}: ${method} failed: ${message}${code}; ${out}`);
  }
}

/** The failure log of the exporter `log` belongs to (every collector of one exporter shares its logger). */
const failureLogs = new WeakMap<Logger, RpcFailures>();
export function rpcFailures(log: Logger): RpcFailures {
  let f = failureLogs.get(log);
  if (!f) failureLogs.set(log, f = new RpcFailures(log));
  return f;
}

/**
 * Problems with the node's answers, each logged once per collector: a bounded set (the oldest is
 * forgotten when full, so a long-running exporter's memory stays flat). A method that failed as a
 * whole is logged once per exporter (RpcFailures), not once per field read from it.
 */
export class Reporter {
  readonly #seen = new Set<string>();
  constructor(readonly log: Logger, readonly prefix = "JSON-RPC over IPC") {}
  report(problem: string): void {
    if (!remember(this.#seen, problem)) return;
    this.log.error(`${this.prefix}: ${problem}; the metric it feeds is left out`);
  }
  /** The node answered `method` with an error: one line per method and error, naming what it feeds. */
  failed(method: string, error: { code?: unknown; message?: unknown }): undefined {
    rpcFailures(this.log).failed(method, error, this.prefix);
    return undefined;
  }
}

/** A JSON-RPC reply read defensively: a missing or retyped field is reported and left out. */
export class Answer {
  constructor(readonly reply: RoundReply, readonly method: string, readonly reporter: Reporter) {}

  /** The result, or undefined (reported) when the call failed; undefined, silently, when not asked. */
  result(): unknown {
    if (this.reply.skipped) return undefined;
    if (this.reply.error) return this.reporter.failed(this.method, this.reply.error);
    return this.reply.result;
  }

  #field(field: string | undefined): { ok: true; v: unknown } | { ok: false } {
    if (this.reply.skipped) return { ok: false };
    // A refused method is one line, whatever fields were to be read from it.
    if (this.reply.error) {
      this.reporter.failed(this.method, this.reply.error);
      return { ok: false };
    }
    const r = this.reply.result;
    if (field === undefined) return { ok: true, v: r };
    return {
      ok: true,
      v: r && typeof r === "object" && !Array.isArray(r) ? (r as Record<string, unknown>)[field] : undefined,
    };
  }

  where(field: string | undefined): string {
    return field ? `${this.method}.${field}` : this.method;
  }

  #wrong(field: string | undefined, v: unknown, type: string): undefined {
    this.reporter.report(`${this.where(field)} is ${v === undefined ? "missing" : `not ${type}`} in the node's answer`);
    return undefined;
  }

  num(field?: string): number | undefined {
    const f = this.#field(field);
    if (!f.ok) return undefined;
    return typeof f.v === "number" && Number.isFinite(f.v) ? f.v : this.#wrong(field, f.v, "a number");
  }

  bool(field?: string): boolean | undefined {
    const f = this.#field(field);
    if (!f.ok) return undefined;
    return typeof f.v === "boolean" ? f.v : this.#wrong(field, f.v, "a boolean");
  }

  str(field?: string): string | undefined {
    const f = this.#field(field);
    if (!f.ok) return undefined;
    return typeof f.v === "string" ? f.v : this.#wrong(field, f.v, "a string");
  }

  array(field?: string): unknown[] | undefined {
    const f = this.#field(field);
    if (!f.ok) return undefined;
    return Array.isArray(f.v) ? f.v : this.#wrong(field, f.v, "an array");
  }

  /** A field that may be absent by design (e.g. pruneheight on an unpruned node): undefined, not reported. */
  optionalNum(field: string): number | undefined {
    const f = this.#field(field);
    if (!f.ok || f.v === undefined) return undefined;
    return typeof f.v === "number" && Number.isFinite(f.v) ? f.v : this.#wrong(field, f.v, "a number");
  }

  /** A problem with this answer found by the caller (a shape check beyond one field). */
  problem(text: string): undefined {
    if (this.reply.skipped) return undefined;
    if (this.reply.error) return this.reporter.failed(this.method, this.reply.error);
    this.reporter.report(`${this.method}: ${text}`);
    return undefined;
  }
}

/** BTC amounts (8 decimals in the JSON) as integer satoshis, exactly for every amount Core can print. */
export function satoshis(btc: number): number {
  return Math.round(btc * 1e8);
}

/** A fee rate in BTC/kvB (how Core's JSON-RPC prints them) as sat/vB: sat per kvB is an integer, /1000 exact in decimal. */
export function satPerVbyte(btcPerKvb: number): number {
  return satoshis(btcPerKvb) / 1000;
}
