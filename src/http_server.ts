/**
 * A small HTTP/1.1 server for the scrape endpoint, on Deno.listen.
 *
 * Why not Deno.serve: it has no header-read timeout and no connection limit, so a slow client
 * (slowloris) can hold connections open forever. Scrapes are tiny GET requests, so this server takes
 * exactly that: bounded connections, bounded request head, a deadline to receive it, an idle timeout
 * between keep-alive requests, no request bodies. Handlers are ordinary `Request → Response`.
 */
import { errorText } from "./util/errors.ts";

export interface HttpServerOptions {
  hostname: string;
  port: number;
  handler: (req: Request) => Promise<Response> | Response;
  /** Connections served at once; further ones are closed on accept. */
  maxConnections?: number;
  /** Largest request line + headers accepted. */
  maxHeaderBytes?: number;
  /** Time allowed to receive a request's head once its first byte arrived (or the connection opened). */
  headerTimeoutMs?: number;
  /** Time a keep-alive connection may sit idle between requests. */
  idleTimeoutMs?: number;
  /** Time allowed to write a response. */
  writeTimeoutMs?: number;
  onError?: (message: string) => void;
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

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class HttpServer {
  readonly #listener: Deno.TcpListener;
  readonly #o: Required<Omit<HttpServerOptions, "onError">> & Pick<HttpServerOptions, "onError">;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #accepting: Promise<void>;
  #closing = false;

  constructor(options: HttpServerOptions) {
    this.#o = {
      maxConnections: 64,
      maxHeaderBytes: 8192,
      headerTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
      writeTimeoutMs: 10_000,
      ...options,
    };
    // Throws AddrInUse etc. synchronously, so the caller can report it.
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port, transport: "tcp" });
    this.#accepting = this.#accept();
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  get connections(): number {
    return this.#conns.size;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing || e instanceof Deno.errors.BadResource) return;
        this.#o.onError?.(`accept failed: ${errorText(e)}`);
        continue;
      }
      if (this.#conns.size >= this.#o.maxConnections) {
        // Over the limit: refuse with a tiny response, without reading.
        void this.#refuse(conn);
        continue;
      }
      this.#conns.add(conn);
      void this.#serve(conn).finally(() => {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      });
    }
  }

  async #refuse(conn: Deno.TcpConn): Promise<void> {
    try {
      await withTimeout(
        writeAll(conn, encoder.encode(head(503, "Retry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n"))),
        1000,
      );
    } catch { /* best effort */ }
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const reader = new HeadReader(conn, this.#o.maxHeaderBytes);
    let first = true;
    while (!this.#closing) {
      let req: ParsedRequest | undefined;
      try {
        // The first request must arrive within the header timeout; later ones within the idle timeout
        // (for the first byte) and then the header timeout for the rest of the head.
        req = await reader.next(first ? this.#o.headerTimeoutMs : this.#o.idleTimeoutMs, this.#o.headerTimeoutMs);
      } catch (e) {
        if (e instanceof HttpError) {
          await this.#write(conn, errorResponse(e.status, e.message, true));
        }
        return;
      }
      if (!req) return; // clean EOF
      first = false;
      let response: Response;
      try {
        const url = `http://${req.host ?? "localhost"}${req.target.startsWith("/") ? req.target : "/"}`;
        response = await this.#o.handler(new Request(url, { method: req.method, headers: req.headers }));
      } catch (e) {
        this.#o.onError?.(`handler failed: ${errorText(e)}`);
        response = new Response("Internal Server Error\n", { status: 500 });
      }
      const close = req.close || this.#closing;
      const ok = await this.#write(conn, await serialize(response, req.method === "HEAD", close));
      if (!ok || close) return;
    }
  }

  async #write(conn: Deno.TcpConn, bytes: Uint8Array): Promise<boolean> {
    try {
      await withTimeout(writeAll(conn, bytes), this.#o.writeTimeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  /** Stops accepting, closes idle and in-flight connections, waits for the accept loop to end. */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#accepting;
  }
}

interface ParsedRequest {
  method: string;
  target: string;
  headers: Headers;
  host: string | undefined;
  close: boolean;
  /** A small body (e.g. a stray POST) is read and discarded so the method gets its 405. */
  bodyLength: number;
}

const MAX_DISCARDED_BODY = 65536;

/** Reads request heads off a connection, with limits and deadlines. */
class HeadReader {
  #buf = new Uint8Array(0);
  constructor(readonly conn: Deno.TcpConn, readonly max: number) {}

  async next(firstByteMs: number, headMs: number): Promise<ParsedRequest | undefined> {
    let deadline = performance.now() + firstByteMs;
    let started = this.#buf.length > 0;
    if (started) deadline = performance.now() + headMs;
    for (;;) {
      const end = findHeadEnd(this.#buf);
      if (end > this.max) throw new HttpError(431, "request head too large");
      if (end >= 0) {
        const headText = new TextDecoder().decode(this.#buf.subarray(0, end));
        this.#buf = this.#buf.slice(end + 4);
        const req = parseHead(headText);
        await this.#discard(req.bodyLength, deadline + headMs);
        return req;
      }
      if (this.#buf.length > this.max) throw new HttpError(431, "request head too large");
      const chunk = new Uint8Array(4096);
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new HttpError(408, "request head not received in time");
      let n: number | null;
      try {
        n = await withTimeout(this.conn.read(chunk), remaining);
      } catch (e) {
        if (e instanceof TimeoutError) {
          if (!started) throw new HttpError(0, "idle");
          throw new HttpError(408, "request head not received in time");
        }
        return undefined;
      }
      if (n === null) {
        if (this.#buf.length > 0) throw new HttpError(400, "connection closed mid-request");
        return undefined;
      }
      if (!started) {
        started = true;
        deadline = performance.now() + headMs;
      }
      const next = new Uint8Array(this.#buf.length + n);
      next.set(this.#buf);
      next.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = next;
    }
  }

  async #discard(n: number, deadline: number): Promise<void> {
    while (this.#buf.length < n) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new HttpError(408, "request body not received in time");
      const chunk = new Uint8Array(Math.min(65536, n - this.#buf.length));
      let got: number | null;
      try {
        got = await withTimeout(this.conn.read(chunk), remaining);
      } catch {
        throw new HttpError(408, "request body not received in time");
      }
      if (got === null) throw new HttpError(400, "connection closed mid-body");
      const next = new Uint8Array(this.#buf.length + got);
      next.set(this.#buf);
      next.set(chunk.subarray(0, got), this.#buf.length);
      this.#buf = next;
    }
    this.#buf = this.#buf.slice(n);
  }
}

function findHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function parseHead(text: string): ParsedRequest {
  const lines = text.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0]);
  if (!m) {
    if (/^\S+ \S+ HTTP\/\d/.test(lines[0])) throw new HttpError(505, "HTTP version not supported");
    throw new HttpError(400, "malformed request line");
  }
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpError(400, "malformed header line");
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      throw new HttpError(400, "invalid header");
    }
  }
  // Scrapes carry no body; refusing bodies keeps request size bounded by the head limit.
  if (headers.has("transfer-encoding")) throw new HttpError(501, "chunked request bodies are not accepted");
  const lengthText = headers.get("content-length") ?? "0";
  if (!/^\d{1,9}$/.test(lengthText.trim())) throw new HttpError(400, "invalid Content-Length");
  const bodyLength = Number(lengthText);
  if (bodyLength > MAX_DISCARDED_BODY) throw new HttpError(413, "request body too large");
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  const close = m[3] === "1.0" ? !connection.includes("keep-alive") : connection.includes("close");
  const host = headers.get("host") ?? undefined;
  return {
    method: m[1],
    target: m[2],
    headers,
    host: host && /^[\w.\-:\[\]]+$/.test(host) ? host : undefined,
    close,
    bodyLength,
  };
}

function head(status: number, extra: string): string {
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Status"}\r\n${extra}\r\n`;
}

function errorResponse(status: number, message: string, close: boolean): Uint8Array {
  if (status === 0) return new Uint8Array(0);
  const body = `${STATUS_TEXT[status] ?? "Error"}: ${message}\n`;
  return encoder.encode(
    head(
      status,
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${encoder.encode(body).length}\r\n${
        close ? "Connection: close\r\n" : ""
      }`,
    ) + body,
  );
}

async function serialize(res: Response, headOnly: boolean, close: boolean): Promise<Uint8Array> {
  const body = new Uint8Array(await res.arrayBuffer());
  let extra = "";
  res.headers.forEach((v, k) => {
    if (k !== "content-length" && k !== "connection") extra += `${k}: ${v}\r\n`;
  });
  const length = res.headers.get("content-length") ?? String(body.length);
  extra += `Content-Length: ${length}\r\n`;
  if (close) extra += "Connection: close\r\n";
  const h = encoder.encode(head(res.status, extra));
  if (headOnly || body.length === 0) return h;
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

class TimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => t = setTimeout(() => reject(new TimeoutError()), ms)),
  ]).finally(() => clearTimeout(t));
}
