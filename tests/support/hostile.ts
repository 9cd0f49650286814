/**
 * Hostile HTTP clients, for the HTTP server's tests and for measuring it: loopback only, and every
 * loop ends by itself (a count, or an AbortSignal the caller aborts).
 */
import { delay } from "../../src/util/async.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

export interface RawResponse {
  status: number;
  head: string;
  body: Uint8Array;
}

/**
 * Reads HTTP/1.1 responses (Content-Length framed) off a connection. Linear in what it reads, so a
 * client receiving 20,000 pipelined responses does not measure itself.
 */
export class ResponseReader {
  #buf = new Uint8Array(65536);
  #start = 0;
  #end = 0;
  #eof = false;
  /** Bytes read in all. */
  received = 0;

  constructor(readonly conn: Deno.Conn, readonly maxBytes = 64 << 20) {}

  /** The next response, or undefined when the connection ends (or fails) first. */
  async next(): Promise<RawResponse | undefined> {
    for (;;) {
      const parsed = this.#parse();
      if (parsed) return parsed;
      if (this.#eof || !(await this.#fill())) return undefined;
    }
  }

  /** Every response until the connection ends. */
  async all(): Promise<RawResponse[]> {
    const out: RawResponse[] = [];
    for (let r; (r = await this.next());) out.push(r);
    return out;
  }

  #parse(): RawResponse | undefined {
    const b = this.#buf;
    for (let i = this.#start; i + 3 < this.#end; i++) {
      if (b[i] !== 13 || b[i + 1] !== 10 || b[i + 2] !== 13 || b[i + 3] !== 10) continue;
      const head = decoder.decode(b.subarray(this.#start, i));
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(head.slice(0, 80))}`);
      const status = Number(m[1]);
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const bodyless = this.headOnly;
      const bodyEnd = i + 4 + (bodyless ? 0 : len);
      if (bodyEnd > this.#end) return undefined;
      const body = b.slice(i + 4, bodyEnd);
      this.#start = bodyEnd;
      return { status, head, body };
    }
    return undefined;
  }

  /** Set while reading answers to HEAD requests (their Content-Length announces no body here). */
  headOnly = false;

  async #fill(): Promise<boolean> {
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buf.length) {
      const grown = new Uint8Array(this.#buf.length * 2);
      grown.set(this.#buf.subarray(0, this.#end));
      this.#buf = grown;
    }
    let n: number | null;
    try {
      n = await this.conn.read(this.#buf.subarray(this.#end));
    } catch {
      n = null; // reset by the server: the same as an end here
    }
    if (n === null || this.received + n > this.maxBytes) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    this.received += n;
    return true;
  }
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch { /* already closed */ }
}

async function writeQuietly(c: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  try {
    for (let off = 0; off < bytes.length;) off += await c.write(bytes.subarray(off));
    return true;
  } catch {
    return false;
  }
}

/** Sends `request` (all of it, at once) and returns every response until the server closes. */
export async function exchange(port: number, request: string | Uint8Array): Promise<RawResponse[]> {
  const c = await connect(port);
  try {
    const reader = new ResponseReader(c);
    const [, responses] = await Promise.all([
      writeQuietly(c, typeof request === "string" ? encoder.encode(request) : request),
      reader.all(),
    ]);
    return responses;
  } finally {
    closeQuietly(c);
  }
}

/** One well-behaved scrape on its own connection: the status, or 0 if the server closed without answering. */
export async function scrape(port: number, path = "/metrics"): Promise<number> {
  let c: Deno.TcpConn;
  try {
    c = await connect(port);
  } catch {
    return 0;
  }
  try {
    if (
      !await writeQuietly(c, encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`))
    ) {
      return 0;
    }
    return (await new ResponseReader(c).next())?.status ?? 0;
  } finally {
    closeQuietly(c);
  }
}

/** `count` scrapes one after another, `gapMs` apart; how many got each status (0: no answer). */
export async function scrapes(port: number, count: number, gapMs = 0, path = "/metrics"): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const s = await scrape(port, path);
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
    if (gapMs > 0) await delay(gapMs);
  }
  return statuses;
}

export interface Hogs {
  /** Connections opened so far (the first `n`, then one per reopening). */
  readonly opened: number;
  /** Aborts every hog and waits until all their connections are closed. */
  stop(): Promise<void>;
}

/**
 * `n` connections held open the way an attacker would: each is reopened as soon as the server
 * closes it, until stop(). `hold` runs on each connection until it ends (or the signal aborts), and
 * calls `holding()` once the connection holds a slot. Resolves when all `n` first held one.
 */
async function hogs(
  port: number,
  n: number,
  hold: (c: Deno.TcpConn, signal: AbortSignal, holding: () => void) => Promise<void>,
): Promise<Hogs> {
  const ac = new AbortController();
  let opened = 0, held = 0;
  let allHeld!: () => void;
  const ready = new Promise<void>((r) => allHeld = r);
  const one = async () => {
    let counted = false;
    const holding = () => {
      if (!counted && (counted = true) && ++held === n) allHeld();
    };
    while (!ac.signal.aborted) {
      let c: Deno.TcpConn;
      try {
        c = await connect(port);
      } catch {
        await delay(5, ac.signal);
        continue;
      }
      opened++;
      const onAbort = () => closeQuietly(c);
      ac.signal.addEventListener("abort", onAbort, { once: true });
      try {
        await hold(c, ac.signal, holding);
      } finally {
        ac.signal.removeEventListener("abort", onAbort);
        closeQuietly(c);
      }
      // Reopened at once, as an attacker would; the pause only keeps a refused hog from spinning.
      await delay(1, ac.signal);
    }
  };
  const all = Promise.all(Array.from({ length: n }, one));
  const stop = async () => {
    ac.abort();
    await all;
  };
  // A server that never lets all n in would leave us waiting forever: the caller bounds it.
  await ready;
  return {
    get opened() {
      return opened;
    },
    stop,
  };
}

/**
 * Idle keep-alive hogs: each connection sends one request, reads its response, then sits idle on
 * the open connection until the server closes it. Resolves once all `n` got their first response.
 */
export function idleKeepAliveHogs(port: number, n: number, path = "/metrics"): Promise<Hogs> {
  return hogs(port, n, async (c, _signal, holding) => {
    const reader = new ResponseReader(c);
    if (!await writeQuietly(c, encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`))) return;
    if (await reader.next()) holding();
    await reader.all(); // idle until the server closes the connection
  });
}

/**
 * Slowloris hogs: each connection sends a request line and then one header line every `stepMs`,
 * never finishing its head. Resolves once all `n` have sent their first bytes.
 */
export function slowlorisHogs(port: number, n: number, stepMs: number): Promise<Hogs> {
  return hogs(port, n, async (c, signal, holding) => {
    if (!await writeQuietly(c, encoder.encode("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"))) return;
    holding();
    // The server may close the connection at any time; a read in parallel notices.
    let closed = false;
    const reading = new ResponseReader(c).all().then(() => closed = true);
    for (let i = 0; !closed && !signal.aborted; i++) {
      await delay(stepMs, signal);
      if (closed || signal.aborted) break;
      if (!await writeQuietly(c, encoder.encode(`X-${i % 1000}: y\r\n`))) break;
    }
    closeQuietly(c);
    await reading;
  });
}

/**
 * Slow readers: each connection pipelines `request` `burst` times, then every `stepMs` reads one
 * byte of the responses and sends the request once more, so the server's writes stall on a full
 * socket. (The sends are how it notices the server closed it: data the server already handed the
 * kernel still arrives after a close.) Resolves once all `n` have sent their burst.
 */
export function slowReaderHogs(port: number, n: number, request: string, burst: number, stepMs: number): Promise<Hogs> {
  return hogs(port, n, async (c, signal, holding) => {
    if (!await writeQuietly(c, encoder.encode(request.repeat(burst)))) return;
    holding();
    const one = new Uint8Array(1);
    while (!signal.aborted) {
      await delay(stepMs, signal);
      try {
        if (await c.read(one) === null) return;
      } catch {
        return; // closed by the server (or by stop())
      }
      if (!await writeQuietly(c, encoder.encode(request))) return;
    }
  });
}

/** A valid request head of at most `bytes` bytes (padded with header lines). */
export function paddedHead(bytes: number): Uint8Array {
  let text = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (let i = 0;; i++) {
    const line = `X-${i}: ${"a".repeat(40)}\r\n`;
    if (text.length + line.length + 2 > bytes) break;
    text += line;
  }
  return encoder.encode(text + "\r\n");
}

/**
 * `conns` connections each send `head`, `chunkBytes` at a time, one chunk per connection per round
 * with `pauseMs` between rounds (so the server reads many small pieces). Returns each connection's
 * response status (0: none).
 */
export async function dribbleHeads(
  port: number,
  conns: number,
  head: Uint8Array,
  chunkBytes: number,
  pauseMs = 1,
): Promise<number[]> {
  const cs = await Promise.all(Array.from({ length: conns }, () => connect(port)));
  const answers = cs.map((c) => new ResponseReader(c).next());
  try {
    for (let off = 0; off < head.length; off += chunkBytes) {
      await Promise.all(cs.map((c) => writeQuietly(c, head.subarray(off, off + chunkBytes))));
      if (pauseMs > 0) await delay(pauseMs);
    }
    return (await Promise.all(answers)).map((r) => r?.status ?? 0);
  } finally {
    cs.forEach(closeQuietly);
    await Promise.all(answers);
  }
}

/**
 * `total` copies of `request` pipelined, as many per connection as the server answers; a new
 * connection whenever the server closes one. Returns how many responses of each status came back
 * and how many connections it took.
 */
export async function pipelineMany(
  port: number,
  request: string,
  total: number,
): Promise<{ statuses: Map<number, number>; connections: number }> {
  const statuses = new Map<number, number>();
  let answered = 0, connections = 0;
  while (answered < total) {
    connections++;
    const want = total - answered;
    const c = await connect(port);
    const reader = new ResponseReader(c);
    const writing = writeQuietly(c, encoder.encode(request.repeat(want)));
    let got = 0;
    for (let r; got < want && (r = await reader.next());) {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      got++;
    }
    closeQuietly(c);
    await writing;
    if (got === 0) statuses.set(0, (statuses.get(0) ?? 0) + 1);
    answered += Math.max(got, 1);
  }
  return { statuses, connections };
}
