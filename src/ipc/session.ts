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
import { Handler$Client } from "../../gen/handler.ts";
import { capIndexAt, setCapAt } from "./capnp.ts";
import { detectFlavour, type NodeInterfaces, ProbeRefused } from "./detect.ts";
import type { FrameLimits } from "./framing.ts";
import { named } from "./methods.ts";
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
import { deadline, Deadlines, delay } from "../util/async.ts";
import { errorText, toError } from "../util/errors.ts";
import type { Flavour } from "../flavour.ts";

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

export { FlavourError } from "./errors.ts";
export type { NodeInterfaces } from "./detect.ts";

const init = {
  construct: named(Init$Client.methods, 0, "construct"),
};
const threadMap = { makeThread: named(ThreadMap$Client.methods, 0, "makeThread") };
const handler = { disconnect: named(Handler$Client.methods, 1, "disconnect") };

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
    const name = call.params(threadMap.makeThread.ParamsClass).name;
    const thread = new LocalThread(name);
    this.threads.push(thread);
    return {
      ctor: ThreadMap_MakeThread$Results,
      write: (r, caps) => setCapAt(r, 0, caps.add(thread)),
    };
  }
}

/**
 * A Thread of the node and the calls on it, one at a time. The node rejects a second call on a
 * Thread still running one ("thread busy"), so the next call waits for the previous call's Return —
 * even when that call's caller has stopped waiting (its timeout), since the node's thread stays busy
 * until it answers. A call whose deadline passes while it waits for its turn is never sent.
 */
class Lane {
  #tail: Promise<unknown> = Promise.resolve();
  /** When the call now on the node's Thread was sent (performance.now()), or undefined. */
  #sentAt: number | undefined;

  constructor(readonly thread: RemoteCap, readonly name: string, readonly deadlines: Deadlines) {}

  run<T>(timeoutMs: number, send: () => Promise<T>): Promise<T> {
    const deadlineAt = performance.now() + timeoutMs;
    const onWire = this.#tail.then(() => {
      if (performance.now() >= deadlineAt) throw new CallTimeoutError(`timed out waiting for the IPC thread`);
      this.#sentAt = performance.now();
      return send().finally(() => this.#sentAt = undefined);
    });
    this.#tail = onWire.catch(() => {});
    // The caller's timeout covers the wait for the lane and the call; the lane itself waits on.
    // One timer for every call of the session (Deadlines), not one per call: a scrape round and
    // the trivial call pay no setTimeout/clearTimeout each.
    return new Promise<T>((resolve, reject) => {
      const entry = this.deadlines.add(Math.max(deadlineAt, performance.now() + 1), () =>
        reject(
          new CallTimeoutError(
            this.#sentAt === undefined ? "timed out waiting for the IPC thread" : `no answer within ${timeoutMs} ms`,
          ),
        ));
      onWire.then((v) => {
        this.deadlines.remove(entry);
        resolve(v);
      }, (e) => {
        this.deadlines.remove(entry);
        reject(e);
      });
    });
  }

  /** How long the call now on the node's Thread has gone unanswered (0 when none). */
  unansweredMs(now: number): number {
    return this.#sentAt === undefined ? 0 : now - this.#sentAt;
  }

  /** Resolves once every call queued so far has been answered (or the connection ended). */
  idle(): Promise<unknown> {
    return this.#tail;
  }
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

/** The Threads a session runs its calls on, made during the handshake. */
interface Lanes {
  read: Lane;
  control: Lane;
  wait?: Lane;
}

export class Session {
  readonly conn: RpcConnection;
  readonly #socket: Deno.UnixConn;
  readonly #timeoutMs: number;
  /** The deadlines of every call on the lanes, on one timer. */
  readonly #deadlines = new Deadlines();
  #lanes: Lanes | undefined;
  #interfaces: NodeInterfaces | undefined;
  #init: RemoteCap | undefined;
  readonly threadMap = new LocalThreadMap();
  /** Live subscription Handlers, disconnected before the socket closes. */
  readonly subscriptions = new Set<RemoteCap>();
  readonly #done: Promise<void>;
  readonly #beforeShutdown: (() => Promise<void>)[] = [];
  /** Subscribe calls not yet answered: shutdown waits for them, so none can go live behind it. */
  readonly #subscribing = new Set<Promise<unknown>>();
  /** Set when shutdown begins: no new subscription may start after that. */
  #closing = false;
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

  /** Connects to the node's socket, performs the handshake and decides the flavour. */
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

  /** The node's bootstrap capability (`Init`). */
  get init(): RemoteCap {
    if (!this.#init) throw new Error("the session's handshake has not finished");
    return this.#init;
  }

  /** What the node offers (known once `open` has returned). */
  get interfaces(): NodeInterfaces {
    if (!this.#interfaces) throw new Error("the session's handshake has not finished");
    return this.#interfaces;
  }
  get flavour(): Flavour {
    return this.interfaces.flavour;
  }
  get probes(): readonly string[] {
    return this.interfaces.probes;
  }
  get chain(): RemoteCap | undefined {
    return this.interfaces.chain;
  }
  get node(): RemoteCap | undefined {
    return this.interfaces.node;
  }
  get tracing(): RemoteCap | undefined {
    return this.interfaces.tracing;
  }
  get mining(): NodeInterfaces["mining"] {
    return this.interfaces.mining;
  }
  get rpc(): RemoteCap | undefined {
    return this.interfaces.rpc;
  }

  /** The node's Threads this session runs its calls on. */
  get threads(): { read: RemoteCap; control: RemoteCap } {
    const l = this.#lanesOrThrow();
    return { read: l.read.thread, control: l.control.thread };
  }

  /** Resolves when the socket's read side has ended. */
  get closed(): Promise<void> {
    return this.#done;
  }

  /**
   * How long the oldest unanswered call (on the read and control Threads; long-polls excluded)
   * has been waiting for the node: a node that stops answering shows here, while the socket stays
   * open (closing it with a subscription live would kill a node that later resumes).
   */
  unansweredMs(): number {
    const l = this.#lanes;
    if (!l) return 0;
    const now = performance.now();
    return Math.max(l.read.unansweredMs(now), l.control.unansweredMs(now));
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
    } finally {
      // Every call has settled with the connection (its close rejects them): no deadline outlives it.
      this.#deadlines.close();
    }
  }

  async #handshake(): Promise<void> {
    const opts = { timeoutMs: this.#timeoutMs };
    const initCap = this.#init = await this.conn.bootstrap(opts);
    // The node answers construct with its own ThreadMap; we keep it only long enough to make threads.
    const remoteMap = await this.conn.call(
      initCap,
      init.construct,
      (p, caps) => setCapAt(p, 0, caps.add(this.threadMap)),
      (r, caps) => takeRemote(caps, capIndexAt(r, 0), "Init.construct"),
      opts,
    );
    const makeThread = async (name: string) =>
      new Lane(
        await this.conn.call(
          remoteMap,
          threadMap.makeThread,
          (p) => p.name = name,
          (r, caps) => takeRemote(caps, capIndexAt(r, 0), "ThreadMap.makeThread"),
          opts,
        ),
        name,
        this.#deadlines,
      );
    try {
      const read = await makeThread(THREAD_NAME);
      const control = await makeThread(`${THREAD_NAME}-control`);
      this.#lanes = { read, control };
      this.#interfaces = await detectFlavour(this.#prober(initCap), { uri: RPC_URI, user: RPC_USER });
      if (this.#interfaces.mining) this.#lanes.wait = await makeThread(`${THREAD_NAME}-wait`);
    } finally {
      remoteMap.release();
    }
  }

  /** The probes flavour detection makes: each on the read Thread, the node's refusal as ProbeRefused. */
  #prober(initCap: RemoteCap) {
    return {
      make: async (method: $.Method<$.Struct & { _initContext(): Context }, $.Struct>) => {
        try {
          return await this.callWithContext(
            initCap,
            method,
            undefined,
            (r, caps) => takeRemote(caps, capIndexAt(r, 0), method.methodName ?? "Init.make"),
          );
        } catch (e) {
          // A method the node does not have answers "unimplemented": that is an answer.
          if (e instanceof RemoteError && e.type === "unimplemented") return undefined;
          if (e instanceof RemoteError) throw new ProbeRefused(e.reason);
          throw e;
        }
      },
      prove: async (
        cap: RemoteCap,
        method: $.Method<$.Struct & { _initContext(): Context }, $.Struct>,
        build?: (params: $.Struct) => void,
      ) => {
        try {
          await this.callWithContext(cap, method, build, () => undefined);
        } catch (e) {
          if (e instanceof RemoteError) throw new ProbeRefused(e.reason);
          throw e;
        }
      },
    };
  }

  #lanesOrThrow(): Lanes {
    if (!this.#lanes) throw new Error("the session has no Threads yet");
    return this.#lanes;
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
    const lanes = this.#lanes;
    if (!lanes) return Promise.reject(new Error("the session has no Threads yet"));
    const lane = options?.lane === "control" ? lanes.control : options?.lane === "wait" ? lanes.wait : lanes.read;
    if (!lane) return Promise.reject(new Error(`this session has no ${options?.lane} Thread`));
    return lane.run(options?.timeoutMs ?? this.#timeoutMs, () => this.#callOn(lane, target, method, build, decode));
  }

  /** One call on `lane`'s Thread, settled by the node's Return (or the connection's end), never by a timer. */
  #callOn<P extends $.Struct & { _initContext(): Context }, R extends $.Struct, T>(
    lane: Lane,
    target: RemoteCap,
    method: $.Method<P, R>,
    build: ((params: P, caps: CapTable) => void) | undefined,
    decode: (results: R, caps: ResultCaps) => T,
    options?: CallOptions,
  ): Promise<T> {
    // Nothing but the Context to fill: the Call is pre-encoded per method (RpcConnection.callOnThread).
    if (!build) return this.conn.callOnThread(target, method, lane.thread, decode, options);
    return this.conn.call(
      target,
      method,
      (p, caps) => {
        setCapAt(p._initContext(), 0, caps.add(lane.thread));
        build(p, caps);
      },
      decode,
      options,
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
    // A subscription made after shutdown has taken its list would be live at the close: the node
    // dies. So none starts once shutdown has begun.
    if (this.#closing) throw new DisconnectedError("session closing: not subscribing");
    const call = this.callWithContext(
      target,
      method,
      build,
      (r, caps) => takeRemote(caps, capIndexAt(r, 0), method.methodName ?? "subscription"),
      { lane: "control" },
    );
    this.#subscribing.add(call);
    try {
      const h = await call;
      this.subscriptions.add(h);
      return h;
    } finally {
      this.#subscribing.delete(call);
    }
  }

  /** Work to finish, while the connection still works, before an orderly shutdown closes it. */
  beforeShutdown(hook: () => Promise<void>): void {
    this.#beforeShutdown.push(hook);
  }

  /** `Handler.disconnect` on a subscription, then release it. */
  async unsubscribe(h: RemoteCap, options?: CallOptions): Promise<void> {
    this.subscriptions.delete(h);
    try {
      await this.callWithContext(h, handler.disconnect, undefined, () => undefined, { ...options, lane: "control" });
    } finally {
      h.release();
    }
  }

  /**
   * The orderly end: disconnect every subscription (the node dies if the socket closes with one
   * live), then close. Failures to disconnect are reported, and the socket is closed regardless.
   */
  async shutdown(reason: Error = new DisconnectedError("session closed"), timeoutMs = 2000): Promise<Error[]> {
    const errors: Error[] = [];
    this.#closing = true;
    for (const hook of this.#beforeShutdown.splice(0)) {
      await hook().catch((e) => errors.push(toError(e)));
    }
    // A subscribe still in flight would leave a live subscription we do not know of yet: wait for
    // its answer (bounded: a node that never answers is not waited for), then disconnect them all.
    const pending = Promise.allSettled([...this.#subscribing]);
    await deadline(pending, timeoutMs, "subscribing").catch((e) => errors.push(toError(e)));
    for (const h of [...this.subscriptions]) {
      try {
        await this.unsubscribe(h, { timeoutMs });
      } catch (e) {
        errors.push(toError(e));
      }
    }
    await deadline(this.conn.flushed(), timeoutMs, "flushing").catch((e) => errors.push(toError(e)));
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
    const control = this.#lanes?.control;
    if (!control) this.subscriptions.clear();
    for (const h of [...this.subscriptions]) {
      this.subscriptions.delete(h);
      this.#callOn(control!, h, handler.disconnect, undefined, () => undefined).catch(() => {});
    }
    await deadline(this.conn.flushed(), EMERGENCY_GRACE_MS).catch(() => {});
    await delay(EMERGENCY_GRACE_MS);
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
