/**
 * A session with a multiprocess Bitcoin Core node: the Unix socket, the RPC connection, and
 * libmultiprocess's handshake (`Init.construct` → `ThreadMap.makeThread` → `Init.make*`), plus the
 * rule every later call follows: it carries a `Proxy.Context` whose `thread` is our Thread, and calls
 * on one Thread never overlap (the node rejects a second concurrent call with "thread busy").
 */
import type * as $ from "capnp-es";
import type { Context } from "../../gen/mp/proxy.ts";
import {
  Thread$Client,
  Thread_GetName$Results,
  ThreadMap$Client,
  ThreadMap_MakeThread$Results,
} from "../../gen/mp/proxy.ts";
import { Init$Client } from "../../gen/init.ts";
import { Init$Client as InitV30$Client } from "../../gen/v30/init.ts";
import { Init$Client as InitV31$Client } from "../../gen/v31/init.ts";
import { Mining$Client } from "../../gen/mining.ts";
import { Mining$Client as MiningV30$Client } from "../../gen/v30/mining.ts";
import { Rpc$Client } from "../../gen/rpc.ts";
import { Chain$Client } from "../../gen/chain.ts";
import { Node$Client } from "../../gen/node.ts";
import { Tracing$Client } from "../../gen/tracing.ts";
import { Handler$Client } from "../../gen/handler.ts";
import { capIndexAt, setCapAt } from "./capnp.ts";
import type { FrameLimits } from "./framing.ts";
import {
  type CallOptions,
  type CapTable,
  type IncomingCall,
  type LocalServer,
  RemoteCap,
  type ResultCaps,
  type Results,
  RpcConnection,
} from "./rpc.ts";
import { CallTimeoutError, DisconnectedError, RemoteError } from "./errors.ts";
import { errorText, toError } from "../util/errors.ts";

export const THREAD_NAME = "bitcoind-ipc-exporter";
/**
 * Passed with every Rpc.executeRpc. Bitcoin Core checks `user` against -rpcwhitelist exactly as for
 * an HTTP client of that name, so operators can give this exporter a whitelist of its own; `uri`
 * "/" is the node endpoint (wallet methods would need "/wallet/<name>"; the exporter calls none).
 */
export const RPC_USER = "bitcoind-ipc-exporter";
export const RPC_URI = "/";
/** How long the node gets to act on our last Handler.disconnect calls before an abort closes. */
const EMERGENCY_GRACE_MS = 250;

import type { Flavour } from "../flavour.ts";
export type { Flavour } from "../flavour.ts";

/** The node does not offer the interfaces this exporter reads. */
export class FlavourError extends Error {
  override name = "FlavourError";
}

export interface SessionOptions {
  /** Aborting it during the handshake closes the connection at once (nothing is subscribed yet). */
  signal?: AbortSignal;
  /** Timeout for each handshake step and each call unless the call says otherwise. */
  callTimeoutMs?: number;
  limits?: FrameLimits;
  onClose?: (reason: Error) => void;
  onWarning?: (message: string) => void;
  /** The node's input could not be parsed; the session is disconnecting and will close. */
  onProtocolError?: (error: Error) => void;
}

/** A Thread object of ours, handed to the node through our ThreadMap. */
class LocalThread implements LocalServer {
  readonly interfaceId = Thread$Client.interfaceId;
  constructor(readonly name: string) {}
  dispatch(call: IncomingCall): Results {
    if (call.methodId !== 0) throw new RemoteError(`Thread has no method ${call.methodId}`);
    return {
      ctor: Thread_GetName$Results,
      write: (r) => (r as Thread_GetName$Results).result = this.name,
    };
  }
}

/**
 * Our ThreadMap, passed to `Init.construct`. libmultiprocess uses it to name the thread on our side
 * that its callbacks run on; without one, every callback from the node arrives with a broken
 * promise ("Called null capability") as its Context.thread, and a Resolve message to match.
 */
class LocalThreadMap implements LocalServer {
  readonly interfaceId = ThreadMap$Client.interfaceId;
  readonly threads: LocalThread[] = [];
  dispatch(call: IncomingCall): Results {
    if (call.methodId !== 0) throw new RemoteError(`ThreadMap has no method ${call.methodId}`);
    const name = call.params(ThreadMap$Client.methods[0].ParamsClass).name;
    const thread = new LocalThread(name);
    this.threads.push(thread);
    return {
      ctor: ThreadMap_MakeThread$Results,
      write: (r, caps) => setCapAt(r, 0, caps.add(thread)),
    };
  }
}

/** Serialises calls that share one Thread, dropping those whose deadline passes while they wait. */
class ThreadQueue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(deadline: number, fn: (remainingMs: number) => Promise<T>): Promise<T> {
    const start = this.#tail;
    const result = start.then(() => {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new CallTimeoutError("timed out waiting for the IPC thread");
      return fn(remaining);
    });
    // The next call waits for this one's Return, even past its timeout: the node's thread is still
    // busy until then, and a call sent meanwhile would be rejected.
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Resolves once every call queued so far has settled. */
  idle(): Promise<unknown> {
    return this.#tail;
  }
}

/** A Thread of the node and the queue that keeps its calls from overlapping. */
interface Lane {
  thread: RemoteCap;
  queue: ThreadQueue;
}

export interface SessionCallOptions extends CallOptions {
  /**
   * "control" runs the call on a second Thread reserved for subscribe/unsubscribe, so a slow or
   * stuck read can never delay (or make the node reject as "thread busy") a Handler.disconnect.
   * "wait" is a third Thread for long-polls (Mining.waitTipChanged), which hold their Thread on the
   * node for as long as they wait; it exists on flavours that need it.
   */
  lane?: "read" | "control" | "wait";
}

export class Session {
  readonly conn: RpcConnection;
  readonly #socket: Deno.UnixConn;
  readonly #timeoutMs: number;
  #read!: Lane;
  #control!: Lane;
  #wait: Lane | undefined;
  readonly threadMap = new LocalThreadMap();
  /** Live subscription Handlers, disconnected before the socket closes. */
  readonly subscriptions = new Set<RemoteCap>();
  init!: RemoteCap;
  /** Multiprocess branches only. */
  chain: RemoteCap | undefined;
  node: RemoteCap | undefined;
  /** pr/trace only. */
  tracing: RemoteCap | undefined;
  /** Stock releases: Mining, of the generation its Init served. */
  mining: { cap: RemoteCap; generation: "v30" | "v31" } | undefined;
  /** Stock master / v32: JSON-RPC over IPC. */
  rpc: RemoteCap | undefined;
  flavour!: Flavour;
  /** What each probe of the flavour detection answered, for the log and for errors. */
  readonly probes: string[] = [];
  readonly #done: Promise<void>;
  readonly #beforeShutdown: (() => Promise<void>)[] = [];
  readonly #onProtocolError: ((e: Error) => void) | undefined;

  private constructor(socket: Deno.UnixConn, options: SessionOptions) {
    this.#socket = socket;
    this.#timeoutMs = options.callTimeoutMs ?? 5000;
    this.#onProtocolError = options.onProtocolError;
    this.conn = new RpcConnection({
      write: (p) => socket.write(p),
      close: () => socket.close(),
    }, {
      limits: options.limits,
      onClose: options.onClose,
      onWarning: options.onWarning,
      onProtocolError: (e) => void this.#emergencyShutdown(e),
    });
    this.#done = this.#readLoop();
  }

  /** Connects to the node's socket and performs the handshake. */
  static async open(path: string, options: SessionOptions = {}): Promise<Session> {
    options.signal?.throwIfAborted();
    const socket = await Deno.connect({ transport: "unix", path });
    const session = new Session(socket, options);
    const abort = () => session.close(new DisconnectedError("handshake aborted"));
    options.signal?.addEventListener("abort", abort);
    try {
      await session.#handshake();
    } catch (e) {
      session.close(toError(e));
      await session.closed;
      throw e;
    } finally {
      options.signal?.removeEventListener("abort", abort);
    }
    return session;
  }

  /** The node's Threads this session runs its calls on. */
  get threads(): { read: RemoteCap; control: RemoteCap } {
    return { read: this.#read.thread, control: this.#control.thread };
  }

  /** Resolves when the socket's read side has ended. */
  get closed(): Promise<void> {
    return this.#done;
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        // Read straight into the framing buffer: a 2 MB block is never copied between the socket
        // and the handler that reads a few words of it.
        const n = await this.#socket.read(this.conn.readSpace());
        if (n === null) {
          this.conn.close(new DisconnectedError("the node closed the connection"));
          return;
        }
        this.conn.received(n);
        if (this.conn.closed) return;
      }
    } catch (e) {
      this.conn.close(new DisconnectedError(`read failed: ${errorText(e)}`));
    }
  }

  async #handshake(): Promise<void> {
    const opts = { timeoutMs: this.#timeoutMs };
    this.init = await this.conn.bootstrap(opts);
    // The node answers construct with its own ThreadMap; we keep it only long enough to make a thread.
    const remoteMap = await this.conn.call(
      this.init,
      Init$Client.methods[0],
      (p, caps) => setCapAt(p, 0, caps.add(this.threadMap)),
      (r, caps) => takeRemote(caps, capIndexAt(r, 0), "Init.construct"),
      opts,
    );
    const makeThread = (name: string) =>
      this.conn.call(
        remoteMap,
        ThreadMap$Client.methods[0],
        (p) => p.name = name,
        (r, caps) => takeRemote(caps, capIndexAt(r, 0), "ThreadMap.makeThread"),
        opts,
      );
    try {
      this.#read = { thread: await makeThread(THREAD_NAME), queue: new ThreadQueue() };
      this.#control = { thread: await makeThread(`${THREAD_NAME}-control`), queue: new ThreadQueue() };
      await this.#detect();
      if (this.mining) this.#wait = { thread: await makeThread(`${THREAD_NAME}-wait`), queue: new ThreadQueue() };
    } finally {
      remoteMap.release();
    }
  }

  /**
   * Decides what the node is, once per connection, by probes that read nothing: the Init interface
   * ID is the same in every flavour while its ordinals mean different things (makeChain @4 on the
   * multiprocess branches is makeRpc @4 on stock master), so each capability is proven with one
   * harmless call of its own interface before anything is read through it. Any answer that fits no
   * known flavour is a FlavourError, never a guess.
   */
  async #detect(): Promise<void> {
    this.node = await this.#probeMake("makeNode@5", Init$Client.methods[5]);
    if (this.node) {
      this.chain = await this.#probeMake("makeChain@4", Init$Client.methods[4]);
      if (!this.chain) throw this.#flavourError("the node offers Node but no Chain");
      await this.#probe("Chain.getHeight", this.chain, Chain$Client.methods[1], "a Chain");
      this.tracing = await this.#probeMake("makeTracing@7", Init$Client.methods[7]);
      this.flavour = this.tracing ? "pr-trace" : "pr-ipc";
      return;
    }
    // Stock releases: Mining at @3 (v31+) or @2 (v30), and on master an Rpc at @4.
    const mining = await this.#probeMake("makeMining@3", InitV31$Client.methods[3]);
    if (mining) {
      await this.#probe("Mining.isTestChain", mining, Mining$Client.methods[0], "a Mining interface");
      this.mining = { cap: mining, generation: "v31" };
      this.rpc = await this.#probeMake("makeRpc@4", InitV31$Client.methods[4]);
      if (this.rpc) {
        await this.#probe("Rpc.executeRpc", this.rpc, Rpc$Client.methods[0], "an Rpc interface", (p) => {
          p.request = '{"jsonrpc":"2.0","id":"probe","method":"getblockcount"}';
          p.uri = RPC_URI;
          p.user = RPC_USER;
        });
      }
      this.flavour = this.rpc ? "v32" : "v31";
      return;
    }
    const old = await this.#probeMake("makeMining@2", InitV30$Client.methods[2]);
    if (!old) throw this.#flavourError("the node offers neither Node nor Mining");
    await this.#probe("Mining.isTestChain", old, MiningV30$Client.methods[0], "a Mining interface");
    this.mining = { cap: old, generation: "v30" };
    this.flavour = "v30";
  }

  /**
   * Calls an `Init.make*` method. A method the node does not have answers "unimplemented", which
   * is an answer (undefined); any other failure fits no flavour and is an error.
   */
  async #probeMake<P extends $.Struct & { _initContext(): Context }, R extends $.Struct>(
    what: string,
    method: $.Method<P, R>,
  ): Promise<RemoteCap | undefined> {
    try {
      const cap = await this.callWithContext(
        this.init,
        method,
        undefined,
        (r, caps) => takeRemote(caps, capIndexAt(r, 0), what),
      );
      this.probes.push(`${what}: ok`);
      return cap;
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      if (e.type === "unimplemented") {
        this.probes.push(`${what}: not implemented`);
        return undefined;
      }
      this.probes.push(`${what}: ${e.reason}`);
      throw this.#flavourError(`Init.${what} failed: ${e.reason}`);
    }
  }

  /** One harmless call proving that `cap` really is the interface `method` belongs to. */
  async #probe<P extends $.Struct & { _initContext(): Context }, R extends $.Struct>(
    what: string,
    cap: RemoteCap,
    method: $.Method<P, R>,
    interfaceName: string,
    build?: (params: P) => void,
  ): Promise<void> {
    try {
      await this.callWithContext(cap, method, build, () => undefined);
      this.probes.push(`${what}: ok`);
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      this.probes.push(`${what}: ${e.reason}`);
      throw this.#flavourError(`the object the node returned is not ${interfaceName} (${what} failed: ${e.reason})`);
    }
  }

  #flavourError(what: string): FlavourError {
    return new FlavourError(
      `unsupported IPC flavour: ${what} (probes: ${
        this.probes.join("; ")
      }); supported: multiprocess branches pr/trace and pr/ipc, stock v30, v31 and master/v32`,
    );
  }

  /**
   * Calls a method whose first parameter is a `Proxy.Context`, filling it with our Thread, and
   * serialised with every other call on that Thread.
   */
  callWithContext<P extends $.Struct & { _initContext(): Context }, R extends $.Struct, T>(
    target: RemoteCap,
    method: $.Method<P, R>,
    build: ((params: P, caps: CapTable) => void) | undefined,
    decode: (results: R, caps: ResultCaps) => T,
    options?: SessionCallOptions,
  ): Promise<T> {
    const timeoutMs = options?.timeoutMs ?? this.#timeoutMs;
    const deadline = performance.now() + timeoutMs;
    const lane = options?.lane === "control" ? this.#control : options?.lane === "wait" ? this.#wait : this.#read;
    if (!lane) return Promise.reject(new Error(`this session has no ${options?.lane} Thread`));
    return lane.queue.run(deadline, (remaining) => this.#callOn(lane, target, method, build, decode, remaining));
  }

  #callOn<P extends $.Struct & { _initContext(): Context }, R extends $.Struct, T>(
    lane: Lane,
    target: RemoteCap,
    method: $.Method<P, R>,
    build: ((params: P, caps: CapTable) => void) | undefined,
    decode: (results: R, caps: ResultCaps) => T,
    timeoutMs: number,
  ): Promise<T> {
    return this.conn.call(
      target,
      method,
      (p, caps) => {
        setCapAt(p._initContext(), 0, caps.add(lane.thread));
        build?.(p, caps);
      },
      decode,
      { timeoutMs },
    );
  }

  /**
   * Registers a subscription (a call that passes one of our objects and returns a Handler). The
   * Handler is tracked so that every way this session ends disconnects it first.
   */
  async subscribe<P extends $.Struct & { _initContext(): Context }, R extends $.Struct>(
    target: RemoteCap,
    method: $.Method<P, R>,
    build: (params: P, caps: CapTable) => void,
  ): Promise<RemoteCap> {
    const handler = await this.callWithContext(
      target,
      method,
      build,
      (r, caps) => takeRemote(caps, capIndexAt(r, 0), method.methodName ?? "subscription"),
      { lane: "control" },
    );
    this.subscriptions.add(handler);
    return handler;
  }

  /** Work to finish, while the connection still works, before an orderly shutdown closes it. */
  beforeShutdown(hook: () => Promise<void>): void {
    this.#beforeShutdown.push(hook);
  }

  /** `Handler.disconnect` on a subscription, then release it. */
  async unsubscribe(handler: RemoteCap, options?: CallOptions): Promise<void> {
    this.subscriptions.delete(handler);
    try {
      await this.callWithContext(handler, Handler$Client.methods[1], undefined, () => undefined, {
        ...options,
        lane: "control",
      });
    } finally {
      handler.release();
    }
  }

  /**
   * The orderly end: disconnect every subscription (the node dies if the socket closes with one
   * live), then close. Failures to disconnect are reported, and the socket is closed regardless.
   */
  async shutdown(reason: Error = new DisconnectedError("session closed"), timeoutMs = 2000): Promise<Error[]> {
    const errors: Error[] = [];
    for (const hook of this.#beforeShutdown.splice(0)) {
      await hook().catch((e) => errors.push(toError(e)));
    }
    // A subscribe still in flight would leave a live subscription we do not know of yet: let the
    // control Thread's queue settle first (each call on it is bounded by its timeout).
    if (this.#control) await this.#control.queue.idle();
    for (const h of [...this.subscriptions]) {
      try {
        await this.unsubscribe(h, { timeoutMs });
      } catch (e) {
        errors.push(toError(e));
      }
    }
    await this.conn.flushed();
    this.close(reason);
    await this.closed;
    return errors;
  }

  /**
   * The node sent something we cannot parse, so no answer from it can be read any more. Sending
   * still works: ask it to disconnect every subscription (on the control Thread, bypassing the
   * queue, since no earlier call's Return will ever be seen), give it a moment, then abort.
   */
  async #emergencyShutdown(error: Error): Promise<void> {
    this.#onProtocolError?.(error);
    if (!this.#control) this.subscriptions.clear();
    for (const h of [...this.subscriptions]) {
      this.subscriptions.delete(h);
      this.#callOn(this.#control, h, Handler$Client.methods[1], undefined, () => undefined, EMERGENCY_GRACE_MS)
        .catch(() => {});
    }
    await this.conn.flushed();
    await new Promise((r) => setTimeout(r, EMERGENCY_GRACE_MS));
    this.conn.abort(error);
  }

  /** Closes the connection at once. Use shutdown() unless the connection is already gone. */
  close(reason: Error = new DisconnectedError("session closed")): void {
    this.conn.close(reason);
  }
}

function takeRemote(caps: ResultCaps, index: number, what: string): RemoteCap {
  const cap = caps.cap(index);
  if (!(cap instanceof RemoteCap)) throw new RemoteError(`${what} returned no capability`);
  return cap;
}

export {
  Chain$Client,
  Handler$Client,
  Init$Client,
  Mining$Client,
  MiningV30$Client,
  Node$Client,
  Rpc$Client,
  Tracing$Client,
};
