/**
 * A small HTTP/1.1 server for the scrape endpoint, on Deno.listen.
 *
 * Why not Deno.serve: it has no header-read timeout and no connection limit, so a slow client
 * (slowloris) can hold connections open forever. Scrapes are tiny GET requests, so this server takes
 * exactly that, and holds up against clients that are not scrapers:
 *
 * - bounded connections, and at the cap a well-behaved scraper still gets in: an idle keep-alive
 *   connection is closed to make room, else the oldest half-sent request (a slowloris), else the
 *   oldest connection that sent nothing yet, else a stalled response write; only when every slot
 *   is busy in a handler is the newcomer answered 503;
 * - a deadline per phase of a request: reading its head, then its body (if any) and the handler,
 *   then writing the response; and a short idle timeout between keep-alive requests;
 * - a bounded request head, read in time linear in its size however it is dribbled;
 * - strict RFC 9112 parsing; a client's mistake is a 4xx (or 501/505) and a closed connection,
 *   reported (if at all) through `onClientError`, never as a server error;
 * - accept() failing (out of file descriptors) backs off instead of spinning;
 * - every report is rate-bounded per kind and length-bounded.
 *
 * Handlers take the parsed request (`HttpRequest`, which a Fetch Request also is) and answer a
 * Response or a plain `Reply` (the scrape path: no Fetch objects, no copy of a shared body).
 *
 * With `tls`, the same server runs over Deno.listenTls: the handshake happens on the connection's
 * first read, inside the head deadline, so a client that never completes it is bounded like one
 * that never sends a request.
 */
import type { HttpBusy } from "./busy.ts";
import { DEFAULTS } from "../cli/defaults.ts";
import { Backoff, DeadlineError, Deadlines, delay } from "../util/async.ts";
import { errorText } from "../util/errors.ts";

/**
 * What a handler is given: the parts of a Fetch Request it reads (a Request is one). The server
 * passes its parsed request itself: a Request and its Headers built per request were a fifth of
 * the garbage of a scrape answered from the shared render (webidl conversions, a sorted copy of
 * the headers), and garbage made while 50 scrapers wait is garbage promoted (BENCHMARKS.md).
 */
export interface HttpRequest {
  readonly method: string;
  /** Absolute, already checked by `new URL` (parseHead). */
  readonly url: string;
  readonly headers: { get(name: string): string | null };
}

/**
 * What a handler may answer instead of a Response: written as it is, with no Headers object, no
 * body stream and no copy of the body.
 */
export interface Reply {
  status: number;
  /** Header fields; the server writes Content-Length and Connection itself and drops those given. */
  headers: [string, string][];
  /** The body; a HEAD request gets its Content-Length and not the bytes. */
  body: Uint8Array;
  /**
   * The same bytes answer many requests (the shared render's): the whole response, head and body,
   * is kept beside them and written again while the head is the same, not copied per request.
   */
  shared?: boolean;
}

export interface HttpServerOptions {
  hostname: string;
  port: number;
  handler: (req: HttpRequest) => Promise<Response | Reply> | Response | Reply;
  /** Serve HTTPS with this PEM certificate chain and key (web config tls_server_config). */
  tls?: { cert: string; key: string };
  /** Connections served at once; at the cap, idle and slow ones are closed to make room. */
  maxConnections?: number;
  /** Largest request line + headers accepted. */
  maxHeaderBytes?: number;
  /**
   * Time allowed to receive a request's head, from its first byte; for a connection's first
   * request, from the connection's opening.
   */
  headerTimeoutMs?: number;
  /** Time a keep-alive connection may sit idle between requests. */
  idleTimeoutMs?: number;
  /**
   * Time allowed, from the end of the head, to receive any (small, discarded) request body and for
   * the handler to produce its response.
   */
  handlerTimeoutMs?: number;
  /** Time allowed to write a response. */
  writeTimeoutMs?: number;
  /** Pauses after accept() fails (e.g. EMFILE), growing from min to max while it keeps failing. */
  acceptBackoffMinMs?: number;
  acceptBackoffMaxMs?: number;
  /** Each kind of report is passed on at most once per this interval; the rest are counted. */
  reportIntervalMs?: number;
  /**
   * Requests one connection may have answered per second, on average (a burst of twice as many
   * is allowed): beyond it, the next request waits for its turn (paced, not refused), so one
   * client's work per second is bounded whatever its rate. A Prometheus scrapes once per interval.
   */
  requestsPerSecond?: number;
  /** A client being paced: reported once, then at most every 10 minutes with a count. */
  onPaced?: (message: string) => void;
  /** Where the stretches of synchronous HTTP work are measured (busy.ts). */
  busy?: HttpBusy;
  /** Faults on our side: a handler that failed or timed out, accept() failing. */
  onError?: (message: string) => void;
  /**
   * Client mistakes: a malformed or unsupported request, a client too slow to send its request.
   * They are answered (4xx, 501, 505) and the connection closed; nothing is reported unless this is
   * given (a debug line at most: they are the client's problem, and an attacker's to repeat).
   */
  onClientError?: (message: string) => void;
}

/** Counters, for tests and measurements. */
export interface HttpServerStats {
  /** Bytes examined looking for the end of request heads (about one per byte received). */
  headBytesScanned: number;
  /** Request bytes received (heads and discarded bodies). */
  bytesReceived: number;
  /** Reads that brought request bytes. */
  reads: number;
  /** Connections closed to make room for a new one at the cap, by the phase they were in. */
  evicted: { idle: number; read: number; write: number };
  /** Connections answered 503 (or closed at once) because every slot was busy. */
  refused: number;
  /** accept() failures (each followed by a pause). */
  acceptFailures: number;
  /** Requests that waited for their connection's share (#pace). */
  paced: number;
}

const encoder = new TextEncoder();
const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};
/** Longest message passed to onError/onClientError (they quote error texts we do not control). */
const MAX_REPORT_CHARS = 300;

/** A client's mistake: answered with `status` and the connection closed. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The server is shutting down: the request is dropped. */
class StoppingError extends Error {}

/**
 * Passes reports on at most once per interval per kind, counting the rest into the next one. The
 * kinds are a fixed, small set (a status code, "accept", "handler"), so the map stays small.
 */
export class ReportThrottle {
  readonly #kinds = new Map<string, { at: number; suppressed: number }>();
  constructor(readonly intervalMs: number, readonly sink: ((message: string) => void) | undefined) {}

  report(kind: string, message: string): void {
    if (!this.sink) return;
    const now = performance.now();
    const k = this.#kinds.get(kind);
    if (k && now - k.at < this.intervalMs) {
      k.suppressed++;
      return;
    }
    const text = message.length > MAX_REPORT_CHARS ? `${message.slice(0, MAX_REPORT_CHARS)}…` : message;
    const more = k?.suppressed
      ? ` (and ${k.suppressed} more like it in the last ${Math.round((now - k.at) / 1000)} s)`
      : "";
    this.#kinds.set(kind, { at: now, suppressed: 0 });
    this.sink(text + more);
  }
}

type Phase = "idle" | "read" | "handler" | "write";

class Connection {
  phase: Phase = "read";
  /** When the current phase began. */
  since = performance.now();
  /** In the read phase: part of the request has arrived (a scraper's head arrives whole). */
  partial = false;
  closed = false;
  /** Requests this connection may still make now (src/http/server.ts #pace), and when last refilled. */
  tokens: number;
  refilled = performance.now();
  constructor(readonly conn: Deno.Conn, rate: number) {
    this.tokens = 2 * rate;
  }

  enter(phase: Phase, partial = false): void {
    this.phase = phase;
    this.since = performance.now();
    this.partial = partial;
  }

  /**
   * Which connection makes room at the cap, lowest first (oldest first among equals): idle
   * keep-alive connections (closing them is allowed at any time); requests arriving piecemeal (a
   * slowloris; a scraper's head comes in one piece); connections that sent nothing yet (a scraper
   * just connected is among them: it goes only after every older one); stalled writes. A request in
   * its handler is never cut: its time is bounded by handlerTimeoutMs and it is not the client's doing.
   */
  get evictionRank(): number {
    if (this.phase === "read") return this.partial ? 1 : 2;
    return { idle: 0, write: 3, handler: Infinity }[this.phase];
  }

  close(): void {
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

export class HttpServer {
  readonly #listener: Deno.Listener;
  readonly #o:
    & Required<Omit<HttpServerOptions, "onError" | "onClientError" | "onPaced" | "tls" | "busy">>
    & Pick<HttpServerOptions, "busy">;
  readonly #errors: ReportThrottle;
  readonly #clientErrors: ReportThrottle;
  readonly #paced: ReportThrottle;
  readonly #conns = new Set<Connection>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #refusing = new Set<Deno.Conn>();
  readonly #stopping = new AbortController();
  /**
   * Every per-request deadline (head, idle, body, handler, write) and pacing wait, on one timer: a
   * setTimeout and clearTimeout each were ~7 kB of garbage and two ops per request.
   */
  readonly #deadlines = new Deadlines();
  readonly #stats: HttpServerStats = {
    headBytesScanned: 0,
    bytesReceived: 0,
    reads: 0,
    evicted: { idle: 0, read: 0, write: 0 },
    refused: 0,
    acceptFailures: 0,
    paced: 0,
  };
  readonly #accepting: Promise<void>;

  constructor(options: HttpServerOptions) {
    const o = options;
    this.#o = {
      hostname: o.hostname,
      port: o.port,
      handler: o.handler,
      maxConnections: o.maxConnections ?? DEFAULTS.httpMaxConnections,
      maxHeaderBytes: o.maxHeaderBytes ?? DEFAULTS.httpMaxHeaderBytes,
      headerTimeoutMs: o.headerTimeoutMs ?? DEFAULTS.httpHeaderTimeoutMs,
      idleTimeoutMs: o.idleTimeoutMs ?? DEFAULTS.httpIdleTimeoutMs,
      handlerTimeoutMs: o.handlerTimeoutMs ?? DEFAULTS.httpHandlerTimeoutMs,
      writeTimeoutMs: o.writeTimeoutMs ?? DEFAULTS.httpWriteTimeoutMs,
      acceptBackoffMinMs: o.acceptBackoffMinMs ?? DEFAULTS.httpAcceptBackoffMinMs,
      acceptBackoffMaxMs: o.acceptBackoffMaxMs ?? DEFAULTS.httpAcceptBackoffMaxMs,
      reportIntervalMs: o.reportIntervalMs ?? DEFAULTS.httpReportIntervalMs,
      requestsPerSecond: o.requestsPerSecond ?? DEFAULTS.httpRequestsPerSecond,
      busy: o.busy,
    };
    this.#errors = new ReportThrottle(this.#o.reportIntervalMs, options.onError);
    this.#clientErrors = new ReportThrottle(this.#o.reportIntervalMs, options.onClientError);
    this.#paced = new ReportThrottle(600_000, options.onPaced);
    // Throws AddrInUse etc. synchronously, so the caller can report it.
    this.#listener = options.tls
      ? Deno.listenTls({ hostname: options.hostname, port: options.port, transport: "tcp", ...options.tls })
      : Deno.listen({ hostname: options.hostname, port: options.port, transport: "tcp" });
    this.#accepting = this.#accept();
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  get connections(): number {
    return this.#conns.size;
  }

  get stats(): Readonly<HttpServerStats> {
    return { ...this.#stats, evicted: { ...this.#stats.evicted } };
  }

  get #closing(): boolean {
    return this.#stopping.signal.aborted;
  }

  async #accept(): Promise<void> {
    const backoff = new Backoff({ minMs: this.#o.acceptBackoffMinMs, maxMs: this.#o.acceptBackoffMaxMs });
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing || e instanceof Deno.errors.BadResource) return;
        // Out of file descriptors (EMFILE/ENFILE) or the like: the connection stays queued, so
        // trying again at once fails again at once — a busy core and a report per try. Pause,
        // longer while it lasts, and report at the throttled rate.
        this.#stats.acceptFailures++;
        const wait = Math.round(backoff.next());
        this.#errors.report("accept", `accept failed: ${errorText(e)}; retrying in ${wait} ms`);
        await delay(wait, this.#stopping.signal);
        continue;
      }
      backoff.reset();
      this.#admit(conn);
    }
  }

  #admit(conn: Deno.Conn): void {
    if (this.#conns.size >= this.#o.maxConnections && !this.#evictOne()) {
      this.#refuse(conn);
      return;
    }
    const c = new Connection(conn, this.#o.requestsPerSecond);
    this.#conns.add(c);
    this.#track(
      this.#serve(c)
        .catch((e) => this.#errors.report("internal", `connection failed: ${errorText(e)}`))
        .finally(() => {
          this.#conns.delete(c);
          c.close();
        }),
    );
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /** Closes the connection that can best give up its slot; false if none can. */
  #evictOne(): boolean {
    let victim: Connection | undefined;
    for (const c of this.#conns) {
      const rank = c.evictionRank;
      if (rank === Infinity) continue;
      if (!victim || rank < victim.evictionRank || (rank === victim.evictionRank && c.since < victim.since)) {
        victim = c;
      }
    }
    if (!victim) return false;
    // Its pending read or write fails at once and its task ends; the slot is free from now.
    this.#conns.delete(victim);
    victim.close();
    this.#stats.evicted[victim.phase as "idle" | "read" | "write"]++;
    return true;
  }

  /** Every slot is busy in a handler: a 503 without reading, or just a close when refusals pile up. */
  #refuse(conn: Deno.Conn): void {
    this.#stats.refused++;
    const close = () => {
      this.#refusing.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    };
    // A flood of refusals must not hold a descriptor each for the write timeout.
    if (this.#refusing.size >= this.#o.maxConnections) return close();
    this.#refusing.add(conn);
    const bytes = encoder.encode(head(503, "Retry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n"));
    this.#track(
      this.#deadlines.within(writeAll(conn, bytes), Math.min(1000, this.#o.writeTimeoutMs)).then(close, close),
    );
  }

  async #serve(c: Connection): Promise<void> {
    const reader = new RequestReader(c, this.#o, this.#stats, this.addr, this.#deadlines);
    for (let first = true; !this.#closing && !c.closed; first = false) {
      let req: ParsedRequest | undefined;
      try {
        req = await reader.next(first);
      } catch (e) {
        return await this.#clientError(c, e);
      }
      if (!req) return; // the client went away, or stayed idle too long
      if (!await this.#pace(c)) return;
      const until = performance.now() + this.#o.handlerTimeoutMs;
      try {
        await reader.discardBody(req.bodyLength, until); // still "read": a slow body can be evicted
      } catch (e) {
        return await this.#clientError(c, e);
      }
      if (c.closed || this.#closing) return;
      c.enter("handler");
      const { bytes, keepAlive } = await this.#respond(req, until);
      if (c.closed || this.#closing) return;
      c.enter("write");
      if (!await this.#write(c, bytes) || !keepAlive) return;
    }
  }

  /**
   * One connection's share: a token bucket of `requestsPerSecond`, burst twice that. Without a
   * token the request waits (as an idle connection: the first to go at the connection cap), so a
   * client looping on /metrics gets its answers at the share's rate and costs no more. False when
   * the connection closed or the server stopped meanwhile.
   */
  async #pace(c: Connection): Promise<boolean> {
    const rate = this.#o.requestsPerSecond;
    const now = performance.now();
    c.tokens = Math.min(2 * rate, c.tokens + (now - c.refilled) * rate / 1000);
    c.refilled = now;
    if (c.tokens >= 1) {
      c.tokens--;
      return true;
    }
    this.#stats.paced++;
    this.#paced.report(
      "paced",
      `a client at ${remote(c.conn)} asks more than ${rate} requests per second on one connection: ` +
        `its answers are paced to that rate`,
    );
    c.enter("idle");
    await this.#deadlines.sleep((1 - c.tokens) * 1000 / rate, this.#stopping.signal);
    c.tokens = 0;
    c.refilled = performance.now();
    return !c.closed && !this.#closing;
  }

  /** Answers a client's mistake (the connection closes after it); reported only to onClientError. */
  async #clientError(c: Connection, e: unknown): Promise<void> {
    if (!(e instanceof HttpError)) throw e;
    if (c.closed || this.#closing) return;
    this.#clientErrors.report(String(e.status), `${e.status} to ${remote(c.conn)}: ${e.message}`);
    c.enter("write");
    await this.#write(c, errorResponse(e.status, e.message));
  }

  /** Runs the handler within its deadline; a fault is a 500/503 on our side, reported. */
  async #respond(req: ParsedRequest, until: number): Promise<{ bytes: Uint8Array; keepAlive: boolean }> {
    const start = performance.now();
    const keepAlive = !req.close && !this.#closing;
    try {
      const produced = (async () => {
        const res = await this.#o.handler(req);
        return { res, body: res instanceof Response ? new Uint8Array(await res.arrayBuffer()) : res.body };
      })();
      // The handler ran up to its first wait inside the call above.
      this.#o.busy?.since("handler", start);
      const { res, body } = await this.#deadlines.within(
        untilAborted(produced, this.#stopping.signal),
        Math.max(0, until - performance.now()),
        "handler",
      );
      const ka = keepAlive && !this.#closing;
      const at = performance.now();
      const bytes = serialize(res, body, req.method === "HEAD", ka, ka && req.announceKeepAlive);
      this.#o.busy?.since("serialize", at);
      return { bytes, keepAlive: ka };
    } catch (e) {
      if (e instanceof StoppingError) return { bytes: new Uint8Array(0), keepAlive: false };
      if (e instanceof DeadlineError) {
        this.#errors.report(
          "handler timeout",
          `handler did not answer ${req.method} within ${this.#o.handlerTimeoutMs} ms`,
        );
        return { bytes: errorResponse(503, "the handler did not answer in time"), keepAlive: false };
      }
      this.#errors.report("handler", `handler failed: ${errorText(e)}`);
      const bytes = serialize(
        new Response(null, { headers: { "Content-Type": "text/plain; charset=utf-8" } }),
        encoder.encode("Internal Server Error\n"),
        req.method === "HEAD",
        keepAlive,
        keepAlive && req.announceKeepAlive,
        500,
      );
      return { bytes, keepAlive };
    }
  }

  async #write(c: Connection, bytes: Uint8Array): Promise<boolean> {
    if (bytes.length === 0) return false;
    try {
      await this.#deadlines.within(writeAll(c.conn, bytes), this.#o.writeTimeoutMs, "write");
      return true;
    } catch {
      return false; // too slow, reset, or closed under us: the connection ends either way
    }
  }

  /** Stops accepting, closes every connection (cutting short any handler), waits until all are done. */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#stopping.abort();
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) c.close();
    for (const conn of this.#refusing) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await this.#accepting;
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
    this.#deadlines.close();
  }
}

function remote(conn: Deno.Conn): string {
  const a = conn.remoteAddr as Deno.NetAddr;
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/** Settles like `p`, or rejects with StoppingError once `signal` aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(new StoppingError());
    const onAbort = () => reject(new StoppingError());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * A request's header fields by lower-cased name, read as `Headers.get` reads them (repeated fields
 * joined with ", "). parseHead has checked every name (a token) and value (no control characters)
 * as `Headers.append` would.
 */
class RequestHeaders {
  readonly #fields = new Map<string, string>();
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const had = this.#fields.get(key);
    this.#fields.set(key, had === undefined ? value : `${had}, ${value}`);
  }
  get(name: string): string | null {
    return this.#fields.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.#fields.has(name.toLowerCase());
  }
}

interface ParsedRequest extends HttpRequest {
  readonly headers: RequestHeaders;
  /** Close after the response (HTTP/1.1 `Connection: close`, or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** HTTP/1.0 with `Connection: keep-alive`: honoured, so it must be announced in the response. */
  announceKeepAlive: boolean;
  /** A small body (e.g. a stray POST) is read and discarded so the method gets its 405. */
  bodyLength: number;
}

const MAX_DISCARDED_BODY = 65536;

/**
 * Reads requests off a connection into one fixed buffer (the head limit plus its blank line), with
 * the head deadline and the idle timeout. Each received byte is examined about once while looking
 * for the end of the head, however small the pieces it arrives in: the scan resumes where the last
 * one stopped (less the three bytes a CRLFCRLF split across reads may need), and bytes are read
 * straight into the buffer, never re-copied per read.
 */
class RequestReader {
  readonly #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** Where the search for the end of the head resumes. */
  #scanned = 0;

  constructor(
    readonly c: Connection,
    readonly o:
      & Required<Pick<HttpServerOptions, "maxHeaderBytes" | "headerTimeoutMs" | "idleTimeoutMs">>
      & Pick<HttpServerOptions, "busy">,
    readonly stats: HttpServerStats,
    readonly local: Deno.NetAddr,
    readonly deadlines: Deadlines,
  ) {
    this.#buf = new Uint8Array(o.maxHeaderBytes + 4);
  }

  /**
   * The next request, or undefined when the client closed or stayed idle past its timeout (nothing
   * to answer). Throws HttpError for a request to answer with an error.
   */
  async next(first: boolean): Promise<ParsedRequest | undefined> {
    this.#compact();
    let until: number;
    if (this.#end > 0) {
      // The next request is already here (pipelined).
      this.c.enter("read", true);
      until = performance.now() + this.o.headerTimeoutMs;
    } else if (first) {
      // A new connection is reading its first request from the moment it opened.
      until = this.c.since + this.o.headerTimeoutMs;
    } else {
      // Between keep-alive requests the connection is idle: the first to go at the cap.
      this.c.enter("idle");
      const got = await this.#read(performance.now() + this.o.idleTimeoutMs);
      if (got !== "data") return undefined; // idle too long, or closed: nothing to answer
      this.c.enter("read", true);
      until = performance.now() + this.o.headerTimeoutMs;
    }
    // The stretch since the bytes arrived (or since the last wait) is the parse's.
    let since = performance.now();
    for (;;) {
      const end = this.#findHeadEnd();
      if (end >= 0) {
        if (end === this.#start) {
          // RFC 9112 §2.2: empty lines before a request line are ignored.
          this.#start = this.#scanned = end + 4;
          continue;
        }
        if (end - this.#start > this.o.maxHeaderBytes) throw new HttpError(431, "request head too large");
        const head = latin1(this.#buf.subarray(this.#start, end));
        this.#start = this.#scanned = end + 4;
        const parsed = parseHead(head, this.local);
        this.o.busy?.since("parse", since);
        return parsed;
      }
      if (this.#end === this.#buf.length) {
        if (this.#start === 0) throw new HttpError(431, "request head too large");
        this.#compact();
      }
      if (this.#end > this.#start) this.o.busy?.since("parse", since); // a partial head was scanned
      const got = await this.#read(until);
      since = performance.now();
      if (got === "closed") {
        // A client that half-closed after part of a request can still read our answer.
        if (this.#end > this.#start) throw new HttpError(400, "connection closed mid-request");
        return undefined;
      }
      if (got === "timeout") {
        // A connection that never sent a byte is closed without a word; one that started is told.
        if (first && this.#end === 0 && this.#start === 0) return undefined;
        throw new HttpError(408, "request head not received in time");
      }
    }
  }

  #compact(): void {
    if (this.#start === 0) return;
    this.#buf.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#scanned = Math.max(0, this.#scanned - this.#start);
    this.#start = 0;
  }

  /** The index of the CRLFCRLF ending the head, or -1; scans only bytes not scanned before. */
  #findHeadEnd(): number {
    const b = this.#buf.subarray(0, this.#end);
    const from = Math.max(this.#start, this.#scanned - 3);
    for (let i = b.indexOf(13, from); i >= 0 && i + 3 < b.length; i = b.indexOf(13, i + 1)) {
      if (b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) {
        this.stats.headBytesScanned += i + 4 - from;
        this.#scanned = i + 4;
        return i;
      }
    }
    this.stats.headBytesScanned += Math.max(0, this.#end - from);
    this.#scanned = this.#end;
    return -1;
  }

  /** Reads into the buffer's free end. */
  async #read(until: number): Promise<"data" | "closed" | "timeout"> {
    const remaining = until - performance.now();
    if (remaining <= 0) return "timeout";
    let n: number | null;
    try {
      // After a timeout the read stays pending into this buffer; the connection is then closed,
      // never read again, so nothing can land in a buffer still in use.
      n = await this.deadlines.within(this.c.conn.read(this.#buf.subarray(this.#end)), remaining, "read");
    } catch (e) {
      if (e instanceof DeadlineError) return "timeout";
      return "closed"; // reset, or closed under us (eviction, shutdown)
    }
    if (n === null) return "closed";
    this.#end += n;
    this.stats.bytesReceived += n;
    this.stats.reads++;
    this.c.partial = true;
    return "data";
  }

  /** Reads and drops a body of `n` bytes (at most MAX_DISCARDED_BODY) by `until`. */
  async discardBody(n: number, until: number): Promise<void> {
    const buffered = Math.min(n, this.#end - this.#start);
    this.#start += buffered;
    this.#scanned = this.#start;
    let left = n - buffered;
    if (left === 0) return;
    const scratch = new Uint8Array(Math.min(left, 16384));
    while (left > 0) {
      const remaining = until - performance.now();
      if (remaining <= 0) throw new HttpError(408, "request body not received in time");
      let got: number | null;
      try {
        // Never more than the body: what follows it is the next request.
        got = await this.deadlines.within(
          this.c.conn.read(scratch.subarray(0, Math.min(left, scratch.length))),
          remaining,
        );
      } catch (e) {
        if (e instanceof DeadlineError) throw new HttpError(408, "request body not received in time");
        got = null;
      }
      if (got === null) throw new HttpError(400, "connection closed mid-body");
      left -= got;
      this.stats.bytesReceived += got;
      this.stats.reads++;
    }
  }
}

/** Bytes as ISO-8859-1 text: every byte one character, so nothing is replaced before it is checked. */
function latin1(b: Uint8Array): string {
  let s = "";
  // apply, not spread: a spread walks the array through an iterator, ~40 bytes of garbage per byte.
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value: visible characters, spaces, tabs and obs-text; no other control characters. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * The methods handed to the handler (which answers 405 to all but GET and HEAD). Others are 501:
 * methods are case-sensitive (RFC 9110 §9.1), so `get` is not GET; and CONNECT, TRACE and TRACK are
 * refused by the Fetch API's Request outright, besides being nothing a scrape endpoint serves.
 */
const HANDLED_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
/** uri-host [":" port] (RFC 9110 §7.2): an IPv6 literal or a registered name / IPv4, port up to 65535. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]+)(?::(\d{0,5}))?$/;

/** Parses a request head (RFC 9112 §2–§6); throws HttpError for what must be refused. */
function parseHead(text: string, local: Deno.NetAddr): ParsedRequest {
  const lines = text.split("\r\n");
  let i = 0;
  while (lines[i] === "") i++; // the odd empty line before the request line (§2.2)
  const parts = lines[i].split(" ");
  if (parts.length !== 3) throw new HttpError(400, "malformed request line");
  const [method, target, version] = parts;
  const v = /^HTTP\/(\d)\.(\d)$/.exec(version);
  if (!TOKEN.test(method) || !v) throw new HttpError(400, "malformed request line");
  if (v[1] !== "1") throw new HttpError(505, "only HTTP/1.x is served");
  const http10 = v[2] === "0"; // 1.2 and later minor versions are served as 1.1 (§2.3)
  if (!HANDLED_METHODS.has(method)) throw new HttpError(501, `method ${clip(method, 20)} not implemented`);

  const headers = new RequestHeaders();
  const hosts: string[] = [];
  const lengths: string[] = [];
  for (const line of lines.slice(i + 1)) {
    // §5.2: obsolete line folding is refused, not unfolded.
    if (line[0] === " " || line[0] === "\t") throw new HttpError(400, "obsolete line folding in the header");
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    // §5.1: no whitespace between the field name and the colon.
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpError(400, "malformed header line");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) throw new HttpError(400, `invalid value in header ${clip(name, 40)}`);
    headers.append(name, value);
    const lower = name.toLowerCase();
    if (lower === "host") hosts.push(value);
    else if (lower === "content-length") lengths.push(value);
  }

  // §3.2: exactly one valid Host in HTTP/1.1 (HTTP/1.0 may leave it out).
  if (hosts.length > 1) throw new HttpError(400, "more than one Host header");
  if (hosts.length === 0 && !http10) throw new HttpError(400, "no Host header");
  let authority = hosts[0] ??
    (local.hostname.includes(":") ? `[${local.hostname}]:${local.port}` : `${local.hostname}:${local.port}`);
  let path: string;
  if (target.startsWith("/")) {
    path = target;
  } else if (/^http:\/\//i.test(target)) {
    // absolute-form (§3.2.2): its authority stands in for Host.
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      throw new HttpError(400, "invalid request target");
    }
    authority = u.host;
    path = u.pathname + u.search;
  } else {
    throw new HttpError(400, "invalid request target");
  }
  // Every byte of the target must be a visible ASCII character.
  if (!/^[\x21-\x7e]+$/.test(path)) throw new HttpError(400, "invalid request target");
  const hostMatch = HOST.exec(authority);
  if (!hostMatch || (hostMatch[1] && Number(hostMatch[1]) > 65535)) throw new HttpError(400, "invalid Host");
  let url: string;
  try {
    url = new URL(`http://${authority}${path}`).href;
  } catch {
    throw new HttpError(400, "invalid Host or request target");
  }

  // Scrapes carry no body; refusing bodies keeps request size bounded by the head limit.
  if (headers.has("transfer-encoding")) {
    // §6.3: both framings at once is a smuggling attempt, not a choice to make.
    if (lengths.length > 0) throw new HttpError(400, "both Transfer-Encoding and Content-Length");
    throw new HttpError(501, "chunked request bodies are not accepted");
  }
  if (lengths.some((l) => l !== lengths[0]) || (lengths.length > 0 && !/^\d{1,9}$/.test(lengths[0]))) {
    throw new HttpError(400, "invalid Content-Length");
  }
  const bodyLength = lengths.length > 0 ? Number(lengths[0]) : 0;
  if (bodyLength > MAX_DISCARDED_BODY) throw new HttpError(413, "request body too large");

  const connection = (headers.get("connection") ?? "").toLowerCase().split(",").map((t) => t.trim());
  const close = connection.includes("close") || (http10 && !connection.includes("keep-alive"));
  return { method, url, headers, close, announceKeepAlive: http10 && !close, bodyLength };
}

function clip(s: string, n: number): string {
  return JSON.stringify(s.length > n ? `${s.slice(0, n)}…` : s);
}

function head(status: number, extra: string): string {
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Status"}\r\n${extra}\r\n`;
}

/** An error response; the connection is closed after it. */
function errorResponse(status: number, message: string): Uint8Array {
  const body = `${STATUS_TEXT[status] ?? "Error"}: ${message}\n`;
  return encoder.encode(
    head(
      status,
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${
        encoder.encode(body).length
      }\r\nConnection: close\r\n`,
    ) + body,
  );
}

/** Hop-by-hop and framing headers are ours to write, not the handler's. */
const OWN_HEADERS = new Set(["content-length", "connection", "keep-alive", "transfer-encoding"]);

/** The last whole response made with a shared body (Reply.shared), by body: its head and bytes. */
const composed = new WeakMap<Uint8Array, { head: string; bytes: Uint8Array }>();

function serialize(
  res: Response | Reply,
  body: Uint8Array,
  headOnly: boolean,
  keepAlive: boolean,
  announceKeepAlive: boolean,
  status = res.status,
): Uint8Array {
  let extra = "";
  let length = String(body.length);
  if (res instanceof Response) {
    res.headers.forEach((v, k) => {
      if (!OWN_HEADERS.has(k)) extra += `${k}: ${v}\r\n`;
    });
    if (headOnly) length = res.headers.get("content-length") ?? length;
  } else {
    // Lower-cased as a Response's Headers would write them.
    for (const [k, v] of res.headers) {
      const name = k.toLowerCase();
      if (!OWN_HEADERS.has(name)) extra += `${name}: ${v}\r\n`;
    }
  }
  extra += `Content-Length: ${length}\r\n`;
  if (!keepAlive) extra += "Connection: close\r\n";
  else if (announceKeepAlive) extra += "Connection: keep-alive\r\n";
  const text = head(status, extra);
  if (headOnly || body.length === 0) return encoder.encode(text);
  const shared = !(res instanceof Response) && res.shared === true;
  if (shared) {
    const kept = composed.get(body);
    if (kept?.head === text) return kept.bytes;
  }
  const h = encoder.encode(text);
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  if (shared) composed.set(body, { head: text, bytes: out });
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
