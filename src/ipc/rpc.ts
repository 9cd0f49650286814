/**
 * A minimal two-party Cap'n Proto RPC endpoint (the client side of Bitcoin Core's IPC socket), on
 * top of capnp-es's serialization.
 *
 * Why our own rather than capnp-es's `Conn`: measured against the real node and the C++ peer, `Conn`
 * ignores Resolve, Release and Disembargo, leaves calls unsettled forever when the socket closes and
 * loses messages in its transport. Every one of those is a leak or a hang for a long-running
 * exporter. What we need is small: calls out with capabilities in their params, calls in on objects
 * we export, exceptions both ways, and exact reference counting so neither side leaks.
 *
 * What is supported: Bootstrap (as client), Call/Return/Finish both ways, capability descriptors
 * senderHosted / senderPromise / receiverHosted / receiverAnswer, Resolve (the capability it
 * carries is kept while we hold the promise, released at once otherwise), Release of our exports,
 * Disembargo senderLoopback (reflected), Abort, Unimplemented. We never make calls on a promise, so
 * no embargo of ours is ever needed; we export no promises, so we never send Resolve.
 *
 * Bounded by what the peer sends: every message read the general way is first checked against the
 * read limits (wire.ts: what it unfolds to, how deep it nests); a message kind we do not implement
 * is answered without being read; what a peer can make us send in bulk is pre-encoded; and the
 * writer fails the connection when the peer stops reading (framing.ts).
 */
import * as $ from "capnp-es";
import {
  type Bootstrap,
  type Call,
  type CapDescriptor,
  CapDescriptor_Which,
  type Disembargo,
  Disembargo_Context_Which,
  type Exception,
  Exception_Type,
  type Finish,
  Message as RpcMessage,
  Message_Which as Which,
  MessageTarget_Which,
  type Payload,
  type Release,
  type Resolve,
  Resolve_Which,
  type Return as RpcReturn,
  Return_Which,
} from "capnp-es/capnp/rpc";
import { capIndexAt } from "./capnp.ts";
import { CallTimeoutError, DisconnectedError, ProtocolError, RemoteError } from "./errors.ts";
import { errorText, toError } from "../util/errors.ts";
import { FrameDecoder, type FrameLimits, FrameWriter, type PatchedFrame, WriteStallError } from "./framing.ts";
import { DEFAULT_READ_LIMITS, type ReadLimits, WireMessage, type WireStruct } from "./wire.ts";

/** A capability hosted by the peer (an entry of our import table). */
export class RemoteCap {
  /** References the peer counts for us: one per descriptor received and kept. */
  refs = 0;
  released = false;
  constructor(readonly conn: RpcConnection, readonly importId: number) {}

  /** Drops every reference we hold; the peer may free the object. Idempotent. */
  release(): void {
    this.conn.releaseImport(this);
  }
}

/** The call being answered, as seen by a LocalServer. */
export interface IncomingCall {
  readonly interfaceId: bigint;
  readonly methodId: number;
  /** The params struct, read as `ctor`. Valid only during `dispatch`. */
  params<T extends $.Struct>(ctor: $.StructCtor<T>): T;
}

/**
 * Results for a call: `undefined` for empty results (answered from a pre-encoded message, the
 * common case for callbacks), or a writer that fills the results struct and may add capabilities.
 */
export type Results = undefined | {
  ctor: $.StructCtor<$.Struct>;
  write(results: $.Struct, caps: CapTable): void;
};

/** An object we export to the peer. */
export interface LocalServer {
  readonly interfaceId: bigint;
  /** Called for each call on this object. Throwing answers the call with an exception. */
  dispatch(call: IncomingCall): Results | Promise<Results>;
  /**
   * Optional fast path for calls with empty results, reading params in place (see wire.ts).
   * Returns true when it handled the call; false sends it through `dispatch`. It must not change
   * any state before it has read everything it needs (a WireError sends the call the slow way).
   */
  fastDispatch?(methodId: number, msg: WireMessage, params: WireStruct | null): boolean;
  /**
   * Optional: called after a call `fastDispatch` handled has been answered (its Return queued
   * first, so the node is not kept waiting for it), while the message is still readable: what is
   * kept of it past this call must be copied. Must not throw (a throw is dropped).
   */
  answered?(methodId: number, msg: WireMessage, params: WireStruct | null): void;
}

/** Collects capabilities for an outgoing message's cap table. */
export class CapTable {
  readonly entries: (RemoteCap | LocalServer | null)[] = [];
  add(cap: RemoteCap | LocalServer | null): number {
    this.entries.push(cap);
    return this.entries.length - 1;
  }
}

/** The capabilities of a received results message, valid during `decode`. */
export interface ResultCaps {
  /** Takes ownership of the capability at cap-table index `i` (-1 gives null). */
  cap(i: number): RemoteCap | LocalServer | null;
}

export interface CallOptions {
  /** Rejects with CallTimeoutError and cancels the question after this many ms. */
  timeoutMs?: number;
}

interface Question {
  resolve(v: unknown): void;
  reject(e: Error): void;
  decode(payload: Payload, caps: ResultCaps): unknown;
  paramExports: number[];
  timer: ReturnType<typeof setTimeout> | undefined;
  abandoned: boolean;
}

interface Export {
  server: LocalServer;
  refs: number;
  /** The server's interface id as two 32-bit words, compared on every incoming call. */
  words: [number, number];
}

export interface Transport {
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

export interface RpcOptions {
  limits?: FrameLimits;
  /** What reading one message may cost (see wire.ts); capnp's defaults unless given. */
  readLimits?: ReadLimits;
  /** Called once when the connection ends, with the reason. */
  onClose?: (reason: Error) => void;
  /** Diagnostics about protocol events worth a log line (unknown ids, late answers, etc.). */
  onWarning?: (message: string) => void;
  /**
   * Called instead of aborting when the peer's input cannot be parsed. Reading stops; sending still
   * works, so the owner can send last calls (Handler.disconnect) before it aborts the connection.
   */
  onProtocolError?: (error: ProtocolError) => void;
}

const MAX_ABORT_REASON = 1024;
/** How long closing waits for queued messages to be written before it closes the socket anyway. */
const CLOSE_FLUSH_MS = 1000;

export class RpcConnection {
  readonly #transport: Transport;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #questions = new Map<number, Question>();
  /** The reader of the message being handled, reused for each (nothing keeps it past its message). */
  readonly #wire = new WireMessage();
  readonly #exports = new Map<number, Export>();
  readonly #exportIds = new Map<LocalServer, number>();
  readonly #imports = new Map<number, RemoteCap>();
  /** Our answers that carried capabilities, kept until Finish for receiverAnswer and release. */
  readonly #answers = new Map<number, (RemoteCap | LocalServer | null)[]>();
  readonly #options: RpcOptions;
  #nextQuestion = 0;
  #nextExport = 0;
  #closed: Error | undefined;
  #readBroken: ProtocolError | undefined;
  #resolves = 0;
  #wordsRead = 0;
  readonly #readLimits: ReadLimits;

  constructor(transport: Transport, options: RpcOptions = {}) {
    this.#transport = transport;
    this.#options = options;
    this.#readLimits = options.readLimits ?? DEFAULT_READ_LIMITS;
    this.#decoder = new FrameDecoder(options.limits);
    this.#writer = new FrameWriter(transport, (e) => {
      // HAZARD: closing the socket while a subscription is live kills a multiprocess node
      // (libmultiprocess#219), and this close does not disconnect them first. It runs only when
      // the write side is already dead (an error) or the node has stopped reading (WriteStallError):
      // then a Handler.disconnect could not reach it either, and keeping the socket open would
      // only let the queue grow (an unreading peer flooding requests grew RSS by 30 MiB/s).
      this.close(new DisconnectedError(e instanceof WriteStallError ? e.message : `write failed: ${e.message}`));
    }, options.limits);
  }

  get closed(): Error | undefined {
    return this.#closed;
  }

  /** Counts for tests and diagnostics. */
  get stats(): {
    questions: number;
    exports: number;
    imports: number;
    answers: number;
    resolves: number;
    /** Words charged against the read limits, over every message read the general way. */
    wordsRead: number;
  } {
    return {
      questions: this.#questions.size,
      exports: this.#exports.size,
      imports: this.#imports.size,
      answers: this.#answers.size,
      resolves: this.#resolves,
      wordsRead: this.#wordsRead,
    };
  }

  /** Feeds bytes read from the socket. A protocol error stops reading (see onProtocolError). */
  receive(chunk: Uint8Array): void {
    if (this.#closed || this.#readBroken) return;
    try {
      this.#decoder.push(chunk, (frame) => this.#handleFrame(frame));
    } catch (e) {
      this.#protocolFailure(e);
    }
  }

  /** Where the next socket read should go (no copy between the socket and message handling). */
  readSpace(): Uint8Array {
    return this.#decoder.reserve();
  }

  /** `n` bytes were read into the view readSpace() returned. */
  received(n: number): void {
    if (this.#closed || this.#readBroken) return;
    try {
      this.#decoder.commit(n, (frame) => this.#handleFrame(frame));
    } catch (e) {
      this.#protocolFailure(e);
    }
  }

  /** Set once the peer's input could not be parsed; nothing more is read. */
  get readBroken(): ProtocolError | undefined {
    return this.#readBroken;
  }

  /** The peer's bootstrap capability. */
  bootstrap(options?: CallOptions): Promise<RemoteCap> {
    return this.#ask((m, qid) => {
      m._initBootstrap().questionId = qid;
      return [];
    }, (payload, caps) => {
      const cap = caps.cap(capIndexAt(payload, 0));
      if (!(cap instanceof RemoteCap)) throw new ProtocolError("bootstrap did not return a remote capability");
      return cap;
    }, options);
  }

  /**
   * Calls `method` on `target`. `build` fills the params struct; `decode` reads the results (and
   * takes any capabilities it keeps) before the message is dropped.
   */
  call<P extends $.Struct, R extends $.Struct, T>(
    target: RemoteCap,
    method: $.Method<P, R>,
    build: ((params: P, caps: CapTable) => void) | undefined,
    decode: (results: R, caps: ResultCaps) => T,
    options?: CallOptions,
  ): Promise<T> {
    if (target.released) return Promise.reject(new DisconnectedError("call on a released capability"));
    return this.#ask(
      (m, qid) => {
        const call = m._initCall();
        call.questionId = qid;
        call.target.importedCap = target.importId;
        call.interfaceId = method.interfaceId;
        call.methodId = method.methodId;
        const payload = call._initParams();
        const params = $.utils.initStructAt(0, method.ParamsClass, payload);
        const caps = new CapTable();
        build?.(params, caps);
        return this.#writeCapTable(payload, caps);
      },
      (payload, caps) => decode($.utils.getStruct(0, method.ResultsClass, payload), caps),
      options,
    );
  }

  /**
   * Calls `method`, whose params are a `Proxy.Context` naming `thread` and nothing else (a getter, a
   * probe), on `target`: the same message `call` builds, but pre-encoded once per method and patched
   * with the question, the target and the Thread (contextCall). No capnp-es message per call: its
   * 4 KiB arena and tree of accessors were a third of our side of the trivial call (issue 21, point 4).
   */
  callOnThread<R extends $.Struct, T>(
    target: RemoteCap,
    method: $.Method<$.Struct & { _initContext(): $.Struct }, R>,
    thread: RemoteCap,
    decode: (results: R, caps: ResultCaps) => T,
    options?: CallOptions,
  ): Promise<T> {
    if (target.released) return Promise.reject(new DisconnectedError("call on a released capability"));
    if (thread.released) return Promise.reject(new DisconnectedError("sending a released capability"));
    if (this.#closed) return Promise.reject(this.#closed);
    const qid = this.#allocQuestion();
    const bytes = contextCall(method).with(qid, target.importId, thread.importId);
    return this.#await(
      qid,
      [],
      (payload, caps) => decode($.utils.getStruct(0, method.ResultsClass, payload), caps),
      options,
      bytes,
    );
  }

  /** True while the peer holds a reference to `server`. */
  isExported(server: LocalServer): boolean {
    return this.#exportIds.has(server);
  }

  releaseImport(cap: RemoteCap): void {
    if (cap.released) return;
    cap.released = true;
    if (this.#imports.get(cap.importId) === cap) this.#imports.delete(cap.importId);
    if (cap.refs > 0 && !this.#closed) this.#sendRelease(cap.importId, cap.refs);
    cap.refs = 0;
  }

  /** Aborts the connection: tells the peer why (best effort), then closes. */
  abort(reason: Error): void {
    if (this.#closed) return;
    try {
      const msg = new $.Message();
      const ex = msg.initRoot(RpcMessage)._initAbort();
      // Our reason, which may quote the peer's: bounded, like everything we send back.
      ex.reason = reason.message.length > MAX_ABORT_REASON
        ? `${reason.message.slice(0, MAX_ABORT_REASON)}…`
        : reason.message;
      this.#send(msg);
    } catch { /* closing anyway */ }
    this.close(reason);
  }

  /** Ends the connection: every pending call is rejected with `reason`; tables are cleared. */
  close(reason: Error = new DisconnectedError("connection closed")): void {
    if (this.#closed) return;
    this.#closed = reason instanceof DisconnectedError || reason instanceof ProtocolError
      ? reason
      : new DisconnectedError(reason.message);
    const err = this.#closed;
    for (const q of this.#questions.values()) {
      if (q.timer !== undefined) clearTimeout(q.timer);
      if (!q.abandoned) q.reject(err);
    }
    this.#questions.clear();
    for (const cap of this.#imports.values()) {
      cap.released = true;
      cap.refs = 0;
    }
    this.#imports.clear();
    this.#exports.clear();
    this.#exportIds.clear();
    this.#answers.clear();
    this.#options.onClose?.(err);
    // Let queued writes (an Abort, final Releases) go out before the socket closes, but never wait
    // on a peer that does not read: the socket closes after CLOSE_FLUSH_MS regardless (at once
    // when writing has failed), so no socket outlives its connection.
    let open = true;
    const closeTransport = () => {
      if (!open) return;
      open = false;
      clearTimeout(timer);
      try {
        this.#transport.close();
      } catch { /* already closed */ }
    };
    const timer = setTimeout(closeTransport, CLOSE_FLUSH_MS);
    if (this.#writer.failed) closeTransport();
    else void this.#writer.flushed().then(closeTransport);
  }

  /** Resolves once everything queued has been written. */
  flushed(): Promise<void> {
    return this.#writer.flushed();
  }

  // ---- questions and exports ----

  #ask<R>(
    fill: (m: RpcMessage, qid: number) => number[],
    decode: (payload: Payload, caps: ResultCaps) => R,
    options: CallOptions | undefined,
  ): Promise<R> {
    if (this.#closed) return Promise.reject(this.#closed);
    const qid = this.#allocQuestion();
    const msg = new $.Message();
    const root = msg.initRoot(RpcMessage);
    let paramExports: number[];
    try {
      paramExports = fill(root, qid);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#await(qid, paramExports, decode, options, encodeMessage(msg));
  }

  /** Registers question `qid` and sends its message, `bytes`: settled by its Return (or the close). */
  #await<R>(
    qid: number,
    paramExports: number[],
    decode: (payload: Payload, caps: ResultCaps) => R,
    options: CallOptions | undefined,
    bytes: Uint8Array,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const q: Question = {
        resolve: resolve as (v: unknown) => void,
        reject,
        decode,
        paramExports,
        timer: undefined,
        abandoned: false,
      };
      if (options?.timeoutMs !== undefined) {
        q.timer = setTimeout(() => this.#timeout(qid, q, options.timeoutMs!), options.timeoutMs);
      }
      this.#questions.set(qid, q);
      this.#sendFrame(bytes);
    });
  }

  #timeout(qid: number, q: Question, ms: number): void {
    q.timer = undefined;
    q.abandoned = true;
    q.reject(new CallTimeoutError(`no answer within ${ms} ms`));
    // Finish before Return asks the peer to cancel; the question stays reserved until its Return.
    this.#sendFinish(qid, true);
  }

  #allocQuestion(): number {
    for (;;) {
      const id = this.#nextQuestion;
      this.#nextQuestion = (this.#nextQuestion + 1) >>> 0;
      if (!this.#questions.has(id)) return id;
    }
  }

  /** Fills a payload's cap table; returns the export ids it references (for releaseParamCaps). */
  #writeCapTable(payload: Payload, caps: CapTable): number[] {
    const exported: number[] = [];
    if (caps.entries.length === 0) return exported;
    const list = payload._initCapTable(caps.entries.length);
    caps.entries.forEach((cap, i) => {
      const d = list.get(i);
      if (cap === null) {
        d.none = true;
      } else if (cap instanceof RemoteCap) {
        if (cap.released) throw new DisconnectedError("sending a released capability");
        d.receiverHosted = cap.importId;
      } else {
        const id = this.#export(cap);
        exported.push(id);
        d.senderHosted = id;
      }
    });
    return exported;
  }

  #export(server: LocalServer): number {
    let id = this.#exportIds.get(server);
    if (id === undefined) {
      do {
        id = this.#nextExport;
        this.#nextExport = (this.#nextExport + 1) >>> 0;
      } while (this.#exports.has(id));
      this.#exports.set(id, { server, refs: 0, words: interfaceWords(server.interfaceId) });
      this.#exportIds.set(server, id);
    }
    this.#exports.get(id)!.refs++;
    return id;
  }

  #unexport(id: number, count: number): void {
    const e = this.#exports.get(id);
    if (!e) {
      this.#options.onWarning?.(`peer released unknown export ${id}`);
      return;
    }
    e.refs -= count;
    if (e.refs <= 0) {
      this.#exports.delete(id);
      this.#exportIds.delete(e.server);
    }
  }

  #protocolFailure(e: unknown): void {
    const err = e instanceof ProtocolError ? e : new ProtocolError(errorText(e));
    this.#readBroken = err;
    if (this.#options.onProtocolError) this.#options.onProtocolError(err);
    else this.abort(err);
  }

  // ---- sending ----

  #send(msg: $.Message): void {
    this.#sendFrame(encodeMessage(msg));
  }

  #sendFrame(frame: Uint8Array): void {
    if (this.#closed && this.#writer.failed) return;
    this.#writer.send(frame);
  }

  /** The empty Return answering question `answerId`, written into the writer's own buffer. */
  #sendEmptyReturn(answerId: number): void {
    if (this.#closed && this.#writer.failed) return;
    this.#writer.sendPatched(EMPTY_RETURN, answerId);
  }

  #sendFinish(questionId: number, releaseResultCaps: boolean): void {
    // One per call we make: pre-encoded, as the empty Return is (no capnp-es message per call), and
    // held for the next message we send in this turn (the next call, usually): one write per call.
    if (this.#closed && this.#writer.failed) return;
    this.#writer.sendLater((releaseResultCaps ? FINISH_RELEASE : FINISH_KEEP).with(questionId));
  }

  #sendRelease(id: number, count: number): void {
    const msg = new $.Message();
    const r = msg.initRoot(RpcMessage)._initRelease();
    r.id = id;
    r.referenceCount = count;
    this.#send(msg);
  }

  #sendException(answerId: number, reason: string, type: "failed" | "unimplemented" = "failed"): void {
    this.#sendFrame(exceptionReturn(answerId, reason, type));
  }

  // ---- receiving ----

  /**
   * One message from the peer. Only the words that say what it is are read before it is checked
   * against the read limits: a message we implement is then read by capnp-es, within a bounded
   * cost; one we do not implement is answered without reading the rest.
   */
  #handleFrame(frame: Uint8Array): void {
    if (this.#readBroken) return;
    let w: WireMessage;
    let which: number;
    try {
      w = this.#wire.reset(frame);
      if (this.#fastCall(w) || this.#fastFinish(w)) return;
      const top = w.root();
      which = top ? w.u16(top, 0) : Which.UNIMPLEMENTED;
    } catch (e) {
      throw new ProtocolError(`undecodable message: ${errorText(e)}`);
    }
    if (!IMPLEMENTED.has(which)) {
      this.#sendUnimplemented(which);
      return;
    }
    let root: RpcMessage;
    try {
      this.#wordsRead += w.checkLimits(this.#readLimits);
      root = new $.Message(frame, false).getRoot(RpcMessage);
    } catch (e) {
      throw new ProtocolError(`${whichName(which)} message refused: ${errorText(e)}`);
    }
    try {
      switch (which) {
        case Which.CALL:
          return this.#onCall(root.call);
        case Which.RETURN:
          return this.#onReturn(root.return);
        case Which.FINISH:
          return this.#onFinish(root.finish);
        case Which.RESOLVE:
          return this.#onResolve(root.resolve);
        case Which.RELEASE:
          return this.#onRelease(root.release);
        case Which.DISEMBARGO:
          return this.#onDisembargo(root.disembargo);
        case Which.ABORT:
          return this.#onAbort(root.abort);
        case Which.UNIMPLEMENTED:
          return this.#onUnimplemented(root.unimplemented);
        case Which.BOOTSTRAP:
          return this.#onBootstrap(root.bootstrap);
      }
    } catch (e) {
      if (e instanceof ProtocolError) throw e;
      throw new ProtocolError(`malformed ${whichName(which)} message: ${errorText(e)}`);
    }
  }

  /**
   * Tells the peer we do not implement a message of kind `which`, as the protocol asks. The echo
   * carries the kind only: copying the peer's message back (as capnp-es would) costs what the
   * message unfolds to and sends the peer's bytes back to it. rpc.capnp allows a partial echo, and
   * rpc.c++ acts on an echoed Resolve only (which we never send back), aborting on anything else.
   */
  #sendUnimplemented(which: number): void {
    this.#options.onWarning?.(`peer sent a ${whichName(which)} message, which this client does not implement`);
    this.#sendFrame(UNIMPLEMENTED_ECHO.with(which));
  }

  /**
   * A call to one of our objects that can answer from its params in place (the node's callbacks):
   * read the few words that say which object and method, let the object count, answer from the
   * pre-encoded Return. Anything unusual returns false and takes the general path.
   */
  /**
   * The node's Finish for a call it made on us that we answered from the pre-encoded empty Return
   * (every callback): nothing is held for it, so it needs no capnp-es decode (one Finish per
   * callback was most of the per-callback garbage: BENCHMARKS.md). A Finish for an answer that holds
   * capabilities goes the slow way (#onFinish releases them).
   */
  #fastFinish(w: WireMessage): boolean {
    try {
      const root = w.root();
      if (!root || w.u16(root, 0) !== Which.FINISH) return false;
      const finish = w.structAt(root, 0);
      if (!finish) return false;
      return !this.#answers.has(w.u32(finish, 0));
    } catch {
      return false;
    }
  }

  #fastCall(w: WireMessage): boolean {
    try {
      const root = w.root();
      if (!root || w.u16(root, 0) !== Which.CALL) return false;
      const call = w.structAt(root, 0);
      if (!call) return false;
      const target = w.structAt(call, 0);
      if (!target || w.u16(target, 4) !== MessageTarget_Which.IMPORTED_CAP) return false;
      const exp = this.#exports.get(w.u32(target, 0));
      const server = exp?.server;
      if (!server?.fastDispatch) return false;
      if (w.u32(call, 8) !== exp!.words[0] || w.u32(call, 12) !== exp!.words[1]) return false;
      const payload = w.structAt(call, 1);
      const params = payload ? w.structAt(payload, 0) : null;
      const methodId = w.u16(call, 4);
      if (!server.fastDispatch(methodId, w, params)) return false;
      this.#sendEmptyReturn(w.u32(call, 0));
      if (server.answered) {
        try {
          server.answered(methodId, w, params);
        } catch { /* the call is answered; what the server keeps of it is its own to report */ }
      }
      return true;
    } catch {
      return false;
    }
  }

  #onCall(call: Call): void {
    const answerId = call.questionId;
    const target = call.target;
    let server: LocalServer | undefined;
    if (target.which() === MessageTarget_Which.IMPORTED_CAP) {
      server = this.#exports.get(target.importedCap)?.server;
    } else {
      const cap = this.#fromAnswer(target.promisedAnswer.questionId, target.promisedAnswer.transform);
      if (cap && !(cap instanceof RemoteCap)) server = cap;
    }
    if (!server) {
      this.#sendFrame(UNKNOWN_CAPABILITY.with(answerId));
      return;
    }
    // Compare the 64-bit interface id as two words: no BigInt on the callback path.
    const lo = $.utils.getUint32(8, call), hi = $.utils.getUint32(12, call);
    const want = interfaceWords(server.interfaceId);
    if (lo !== want[0] || hi !== want[1]) {
      this.#sendException(
        answerId,
        `object does not implement interface 0x${(BigInt(hi) << 32n | BigInt(lo)).toString(16)}`,
        "unimplemented",
      );
      return;
    }
    const methodId = call.methodId;
    const incoming: IncomingCall = {
      interfaceId: server.interfaceId,
      methodId,
      params: (ctor) => $.utils.getStruct(0, ctor, call.params),
    };
    let result: Results | Promise<Results>;
    try {
      result = server.dispatch(incoming);
    } catch (e) {
      this.#sendException(answerId, errorText(e));
      return;
    }
    if (result === undefined) {
      this.#sendEmptyReturn(answerId);
    } else if (result instanceof Promise) {
      result.then(
        (r) => {
          if (!this.#closed) this.#sendResults(answerId, r);
        },
        (e) => {
          if (!this.#closed) this.#sendException(answerId, errorText(e));
        },
      );
    } else {
      this.#sendResults(answerId, result);
    }
  }

  #sendResults(answerId: number, results: Results): void {
    if (results === undefined) {
      this.#sendEmptyReturn(answerId);
      return;
    }
    const msg = new $.Message();
    const ret = msg.initRoot(RpcMessage)._initReturn();
    ret.answerId = answerId;
    ret.releaseParamCaps = true;
    const payload = ret._initResults();
    const content = $.utils.initStructAt(0, results.ctor, payload);
    const caps = new CapTable();
    try {
      results.write(content, caps);
    } catch (e) {
      this.#sendException(answerId, errorText(e));
      return;
    }
    this.#writeCapTable(payload, caps);
    if (caps.entries.length > 0) this.#answers.set(answerId, caps.entries);
    this.#send(msg);
  }

  /** The capability at `transform` within our answer `answerId`, for promisedAnswer/receiverAnswer. */
  #fromAnswer(answerId: number, transform: { length: number }): RemoteCap | LocalServer | null | undefined {
    const caps = this.#answers.get(answerId);
    if (!caps) return undefined;
    // Our results structs hold at most one capability, at the pointer the transform names; the
    // cap table lists them in pointer order, so a single-cap answer resolves directly.
    if (transform.length > 1) return undefined;
    return caps.length === 1 ? caps[0] : undefined;
  }

  #onFinish(finish: Finish): void {
    const answerId = finish.questionId;
    const caps = this.#answers.get(answerId);
    if (!caps) return;
    this.#answers.delete(answerId);
    if (!finish.releaseResultCaps) return;
    for (const cap of caps) {
      if (cap && !(cap instanceof RemoteCap)) {
        const id = this.#exportIds.get(cap);
        if (id !== undefined) this.#unexport(id, 1);
      }
    }
  }

  #onReturn(ret: RpcReturn): void {
    const qid = ret.answerId;
    const q = this.#questions.get(qid);
    if (!q) throw new ProtocolError(`return for unknown question ${qid}`);
    this.#questions.delete(qid);
    if (q.timer !== undefined) clearTimeout(q.timer);
    if (ret.releaseParamCaps) {
      for (const id of q.paramExports) this.#unexport(id, 1);
    }
    const kind = ret.which();
    if (kind === Return_Which.RESULTS) {
      const payload = ret.results;
      const table = this.#readCapTable(payload);
      const taken = new Array<boolean>(table.length).fill(false);
      const results: ResultCaps = {
        cap: (i) => {
          if (i < 0) return null;
          if (i >= table.length) throw new ProtocolError(`capability index ${i} outside the cap table`);
          taken[i] = true;
          return table[i];
        },
      };
      let value: unknown;
      let error: Error | undefined;
      if (!q.abandoned) {
        try {
          value = q.decode(payload, results);
        } catch (e) {
          error = toError(e);
        }
      }
      // Every capability the decoder did not keep is released now, so the peer can free it.
      table.forEach((cap, i) => {
        if (!taken[i] || error || q.abandoned) {
          if (cap instanceof RemoteCap) this.#dropImportRef(cap);
        }
      });
      if (!q.abandoned) this.#sendFinish(qid, false);
      if (q.abandoned) return;
      if (error) q.reject(error);
      else q.resolve(value);
      return;
    }
    if (!q.abandoned) this.#sendFinish(qid, false);
    if (q.abandoned) return;
    switch (kind) {
      case Return_Which.EXCEPTION:
        q.reject(new RemoteError(ret.exception.reason, exceptionType(ret.exception.type)));
        return;
      case Return_Which.CANCELED:
        q.reject(new RemoteError("call canceled", "disconnected"));
        return;
      default:
        q.reject(new ProtocolError(`unsupported return kind ${kind}`));
    }
  }

  /** Maps a received payload's cap table to capabilities, counting each import reference. */
  #readCapTable(payload: Payload): (RemoteCap | LocalServer | null)[] {
    if (!payload._hasCapTable()) return [];
    const list = payload.capTable;
    const out: (RemoteCap | LocalServer | null)[] = [];
    for (let i = 0; i < list.length; i++) out.push(this.#readDescriptor(list.get(i)));
    return out;
  }

  #readDescriptor(d: CapDescriptor): RemoteCap | LocalServer | null {
    switch (d.which()) {
      case CapDescriptor_Which.NONE:
        return null;
      case CapDescriptor_Which.SENDER_HOSTED:
        return this.#importRef(d.senderHosted);
      case CapDescriptor_Which.SENDER_PROMISE:
        return this.#importRef(d.senderPromise);
      case CapDescriptor_Which.RECEIVER_HOSTED: {
        const e = this.#exports.get(d.receiverHosted);
        if (!e) throw new ProtocolError(`receiverHosted names unknown export ${d.receiverHosted}`);
        return e.server;
      }
      case CapDescriptor_Which.RECEIVER_ANSWER: {
        const a = d.receiverAnswer;
        const cap = this.#fromAnswer(a.questionId, a.transform);
        if (cap === undefined) throw new ProtocolError(`receiverAnswer names unknown answer ${a.questionId}`);
        return cap;
      }
      default:
        throw new ProtocolError(`unsupported capability descriptor ${d.which()}`);
    }
  }

  #importRef(id: number): RemoteCap {
    let cap = this.#imports.get(id);
    if (!cap) {
      cap = new RemoteCap(this, id);
      this.#imports.set(id, cap);
    }
    cap.refs++;
    return cap;
  }

  #dropImportRef(cap: RemoteCap): void {
    if (cap.released || cap.refs === 0) return;
    cap.refs--;
    this.#sendRelease(cap.importId, 1);
    if (cap.refs === 0) {
      cap.released = true;
      this.#imports.delete(cap.importId);
    }
  }

  /**
   * We never call a promise, so what it resolved to matters only for reference counting: the
   * reference the Resolve carries is kept while we hold the promise (released with it), and given
   * back at once for a promise we no longer hold (e.g. a callback's Context.thread, released with
   * our Return).
   */
  #onResolve(r: Resolve): void {
    this.#resolves++;
    if (r.which() === Resolve_Which.EXCEPTION) return;
    const promise = this.#imports.get(r.promiseId);
    const resolution = this.#readDescriptor(r.cap);
    if (promise && !promise.released) return;
    if (resolution instanceof RemoteCap) this.#dropImportRef(resolution);
  }

  #onRelease(r: Release): void {
    this.#unexport(r.id, r.referenceCount);
  }

  #onAbort(ex: Exception): void {
    this.close(new DisconnectedError(`peer aborted: ${ex.reason}`));
  }

  /** We are the client: the node's vat has our bootstrap interface for nothing. */
  #onBootstrap(b: Bootstrap): void {
    this.#sendFrame(NO_BOOTSTRAP.with(b.questionId));
  }

  #onDisembargo(d: Disembargo): void {
    const ctx = d.context;
    if (ctx.which() !== Disembargo_Context_Which.SENDER_LOOPBACK) {
      // receiverLoopback answers an embargo of ours; we never start one.
      this.#options.onWarning?.(`ignored disembargo of kind ${ctx.which()}`);
      return;
    }
    // The peer's promise resolved to a capability it hosts; reflect so it can lift its embargo.
    const t = d.target;
    let importId: number | undefined;
    if (t.which() === MessageTarget_Which.PROMISED_ANSWER) {
      const cap = this.#fromAnswer(t.promisedAnswer.questionId, t.promisedAnswer.transform);
      if (cap instanceof RemoteCap) importId = cap.importId;
    }
    // An importedCap target would be a promise we exported, and we export none.
    if (importId === undefined) {
      throw new ProtocolError("disembargo target does not resolve to a capability of the peer");
    }
    const msg = new $.Message();
    const out = msg.initRoot(RpcMessage)._initDisembargo();
    out.target.importedCap = importId;
    out.context.receiverLoopback = ctx.senderLoopback;
    this.#send(msg);
  }

  #onUnimplemented(echo: RpcMessage): void {
    if (echo.which() === Which.CALL) {
      const q = this.#questions.get(echo.call.questionId);
      if (!q) return;
      this.#questions.delete(echo.call.questionId);
      if (q.timer !== undefined) clearTimeout(q.timer);
      for (const id of q.paramExports) this.#unexport(id, 1);
      if (!q.abandoned) q.reject(new RemoteError("peer does not implement calls", "unimplemented"));
      return;
    }
    this.#options.onWarning?.(`peer did not understand our ${whichName(echo.which())} message`);
  }
}

function encodeMessage(msg: $.Message): Uint8Array {
  // capnp-es's toArrayBuffer writes the stream framing (segment table) itself.
  return new Uint8Array(msg.toArrayBuffer());
}

function exceptionReturn(answerId: number, reason: string, type: "failed" | "unimplemented"): Uint8Array {
  const msg = new $.Message();
  const ret = msg.initRoot(RpcMessage)._initReturn();
  ret.answerId = answerId;
  ret.releaseParamCaps = true;
  const ex = ret._initException();
  ex.reason = reason;
  if (type === "unimplemented") ex.type = Exception_Type.UNIMPLEMENTED;
  return encodeMessage(msg);
}

/** A message that is the same bytes every time but for one 16- or 32-bit field. */
interface Template extends PatchedFrame {
  with(value: number): Uint8Array;
}

/**
 * Encodes a message once and patches the field that varies: sending it costs one small copy and no
 * capnp-es work (capnp-es allocates a 4 KiB arena per message built). Used for what we send most
 * (the empty Return that answers a callback) and for what a peer can make us send as fast as it
 * sends requests (so a flood costs us its own size in garbage, not 4 KiB per request).
 */
function template(bytes: 2 | 4, encode: (value: number) => Uint8Array): Template {
  const a = encode(0);
  const b = encode(bytes === 4 ? 0xffffffff : 0xffff);
  const offset = a.findIndex((x, i) => x !== b[i]);
  if (a.length !== b.length || offset < 0 || a.subarray(offset + bytes).some((x, i) => x !== b[offset + bytes + i])) {
    throw new Error("could not locate the varying field in an encoded message");
  }
  // Little-endian bytes written one by one: no DataView per message sent.
  const writeInto = bytes === 2
    ? (dst: Uint8Array, at: number, value: number) => {
      dst.set(a, at);
      dst[at + offset] = value & 0xff;
      dst[at + offset + 1] = (value >>> 8) & 0xff;
    }
    : (dst: Uint8Array, at: number, value: number) => {
      dst.set(a, at);
      dst[at + offset] = value & 0xff;
      dst[at + offset + 1] = (value >>> 8) & 0xff;
      dst[at + offset + 2] = (value >>> 16) & 0xff;
      dst[at + offset + 3] = (value >>> 24) & 0xff;
    };
  return {
    length: a.length,
    writeInto,
    with(value: number): Uint8Array {
      const out = new Uint8Array(a.length);
      writeInto(out, 0, value);
      return out;
    },
  };
}

/** A message that is the same bytes every time but for three 32-bit fields. */
interface Template3 {
  with(a: number, b: number, c: number): Uint8Array;
}

/**
 * Encodes a message with each of its three varying 32-bit fields set in turn, finds where each one
 * is, and checks that nothing else changed: `with` then copies the bytes and writes the three.
 */
function template3(encode: (a: number, b: number, c: number) => Uint8Array): Template3 {
  const base = encode(0, 0, 0);
  const variants = [encode(0xffffffff, 0, 0), encode(0, 0xffffffff, 0), encode(0, 0, 0xffffffff)];
  const offsets = variants.map((v) => {
    const at = base.findIndex((x, i) => x !== v[i]);
    const same = v.length === base.length && at >= 0 && v.every((x, i) => (i >= at && i < at + 4) || x === base[i]);
    if (!same) throw new Error("could not locate a varying field in an encoded message");
    return at;
  });
  const [oa, ob, oc] = offsets;
  const put = (out: Uint8Array, at: number, value: number) => {
    out[at] = value & 0xff;
    out[at + 1] = (value >>> 8) & 0xff;
    out[at + 2] = (value >>> 16) & 0xff;
    out[at + 3] = (value >>> 24) & 0xff;
  };
  return {
    with(a: number, b: number, c: number): Uint8Array {
      const out = base.slice();
      put(out, oa, a);
      put(out, ob, b);
      put(out, oc, c);
      return out;
    },
  };
}

/**
 * The Call of `method` on import `target` as question `qid`, its params a Context whose `thread` is
 * the capability `thread` imported from the peer: built as RpcConnection.call builds it (the Context
 * first, its thread the cap table's only entry, receiver-hosted).
 */
export function encodeContextCall(
  method: $.Method<$.Struct & { _initContext(): $.Struct }, $.Struct>,
  qid: number,
  target: number,
  thread: number,
): Uint8Array {
  const msg = new $.Message();
  const call = msg.initRoot(RpcMessage)._initCall();
  call.questionId = qid;
  call.target.importedCap = target;
  call.interfaceId = method.interfaceId;
  call.methodId = method.methodId;
  const payload = call._initParams();
  const params = $.utils.initStructAt(0, method.ParamsClass, payload);
  $.utils.setInterfacePointer(0, $.utils.getPointer(0, params._initContext()));
  payload._initCapTable(1).get(0).receiverHosted = thread;
  return encodeMessage(msg);
}

/** Each context-only method's Call, pre-encoded on its first use. */
const contextCalls = new WeakMap<object, Template3>();
function contextCall(method: $.Method<$.Struct & { _initContext(): $.Struct }, $.Struct>): Template3 {
  let t = contextCalls.get(method);
  if (!t) contextCalls.set(method, t = template3((q, target, thread) => encodeContextCall(method, q, target, thread)));
  return t;
}

/** The Return for a call with empty results (every callback's answer). */
const EMPTY_RETURN = template(4, (id) => {
  const msg = new $.Message();
  const ret = msg.initRoot(RpcMessage)._initReturn();
  ret.answerId = id;
  ret.releaseParamCaps = true;
  ret._initResults();
  return encodeMessage(msg);
});
/** Finish for a question of ours, by whether the peer is to release the results' capabilities. */
const finishTemplate = (release: boolean) =>
  template(4, (id) => {
    const msg = new $.Message();
    const f = msg.initRoot(RpcMessage)._initFinish();
    f.questionId = id;
    f.releaseResultCaps = release;
    return encodeMessage(msg);
  });
const FINISH_RELEASE = finishTemplate(true);
const FINISH_KEEP = finishTemplate(false);
const NO_BOOTSTRAP = template(4, (id) => exceptionReturn(id, "this vat offers no bootstrap interface", "failed"));
const UNKNOWN_CAPABILITY = template(4, (id) => exceptionReturn(id, "call on an unknown capability", "failed"));
/** Unimplemented, echoing the kind of message only (see #sendUnimplemented). */
const UNIMPLEMENTED_ECHO = template(2, (which) => {
  const msg = new $.Message();
  const echo = msg.initRoot(RpcMessage)._initUnimplemented();
  $.utils.setUint16(0, which, echo);
  return encodeMessage(msg);
});

function interfaceWords(id: bigint): [number, number] {
  return [Number(id & 0xffffffffn), Number(id >> 32n)];
}

/** The message kinds this client reads; any other is answered Unimplemented unread. */
const IMPLEMENTED: ReadonlySet<number> = new Set([
  Which.UNIMPLEMENTED,
  Which.ABORT,
  Which.CALL,
  Which.RETURN,
  Which.FINISH,
  Which.RESOLVE,
  Which.RELEASE,
  Which.BOOTSTRAP,
  Which.DISEMBARGO,
]);

/** `Exception_Type` names as RemoteError types: "failed", "overloaded", "disconnected", "unimplemented". */
const EXCEPTION_TYPES = enumNames(Exception_Type, (k) => k.toLowerCase());
/** `Message_Which` names as in rpc.capnp: "call", "obsoleteSave", … */
const MESSAGE_NAMES = enumNames(Which, (k) => k.toLowerCase().replace(/_(.)/g, (_, c: string) => c.toUpperCase()));

function enumNames(e: Record<string, number>, name: (key: string) => string): Map<number, string> {
  return new Map(Object.entries(e).map(([k, v]) => [v, name(k)]));
}

function exceptionType(t: number): string {
  return EXCEPTION_TYPES.get(t) ?? "failed";
}

function whichName(which: number): string {
  return MESSAGE_NAMES.get(which) ?? `#${which}`;
}
