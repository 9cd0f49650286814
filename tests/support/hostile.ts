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

// ---- Hostile Cap'n Proto: frames a real node never sends, and a node that never reads ----

/**
 * Builds Cap'n Proto messages word by word, for shapes no schema-driven writer produces: pointers
 * that share or overlap their targets, far-pointer chains, nesting deeper than any reader allows.
 * Offsets are in words from the start of a segment.
 */
export class RawMessage {
  readonly segments: number[][] = [[]];

  /** Appends `n` zero words to segment `seg`; returns the offset of the first. */
  alloc(n: number, seg = 0): number {
    while (this.segments.length <= seg) this.segments.push([]);
    const s = this.segments[seg];
    const at = s.length / 2;
    for (let i = 0; i < 2 * n; i++) s.push(0);
    return at;
  }

  #set(seg: number, at: number, lo: number, hi: number): void {
    this.segments[seg][2 * at] = lo >>> 0;
    this.segments[seg][2 * at + 1] = hi >>> 0;
  }

  /** The low 32 bits of word `at` (a struct's first data word, e.g. a union discriminant). */
  setData32(seg: number, at: number, value: number): void {
    this.segments[seg][2 * at] = value >>> 0;
  }

  /** A struct pointer at `at` to the struct at `target` (same segment). */
  structPtr(seg: number, at: number, target: number, dataWords: number, ptrCount: number): void {
    this.#set(seg, at, ((target - at - 1) << 2) | 0, dataWords | (ptrCount << 16));
  }

  /** A list pointer at `at` to `target`: element size code (0 void … 7 composite), element count (or words). */
  listPtr(seg: number, at: number, target: number, sizeCode: number, count: number): void {
    this.#set(seg, at, ((target - at - 1) << 2) | 1, sizeCode | (count << 3));
  }

  /** A single-far pointer at `at` to the landing pad at word `pad` of segment `padSeg`. */
  farPtr(seg: number, at: number, padSeg: number, pad: number): void {
    this.#set(seg, at, (pad << 3) | 2, padSeg);
  }

  /** The message with the stream framing (segment table), as on the socket. */
  frame(): Uint8Array {
    const n = this.segments.length;
    const table = (4 + 4 * n + 7) & ~7;
    const words = this.segments.reduce((s, seg) => s + seg.length / 2, 0);
    const out = new Uint8Array(table + 8 * words);
    const v = new DataView(out.buffer);
    v.setUint32(0, n - 1, true);
    let at = table;
    this.segments.forEach((seg, i) => {
      v.setUint32(4 + 4 * i, seg.length / 2, true);
      for (const x of seg) {
        v.setUint32(at, x, true);
        at += 4;
      }
    });
    return out;
  }
}

/**
 * An RPC Message (one data word: the union discriminant `which`; one pointer) whose pointer is
 * filled by `body(msg, ptrAt)`. Returns the built message.
 */
export function rpcMessage(which: number, body: (m: RawMessage, ptrAt: number) => void): RawMessage {
  const m = new RawMessage();
  const root = m.alloc(1);
  const s = m.alloc(2);
  m.structPtr(0, root, s, 1, 1);
  m.setData32(0, s, which);
  body(m, s + 1);
  return m;
}

/** `obsoleteSave`, a message type no implementation answers but with Unimplemented. */
export const OBSOLETE_SAVE = 7;

/**
 * A doubling pointer tree: `depth` structs, each with two pointers to the next, so a reader that
 * follows every pointer visits 2^depth structs. Depth 20 is about 360 bytes.
 */
export function pointerTree(which: number, depth: number): Uint8Array {
  return rpcMessage(which, (m, ptr) => {
    let prev = ptr;
    let prevIsRoot = true;
    for (let i = 0; i < depth; i++) {
      const node = m.alloc(2);
      if (prevIsRoot) m.structPtr(0, prev, node, 0, 2);
      else {
        m.structPtr(0, prev, node, 0, 2);
        m.structPtr(0, prev + 1, node, 0, 2);
      }
      prev = node;
      prevIsRoot = false;
    }
  }).frame();
}

/** The same doubling tree across segments: every level in a segment of its own, reached by far pointers. */
export function farPointerTree(which: number, depth: number): Uint8Array {
  return rpcMessage(which, (m, ptr) => {
    let from: [number, number][] = [[0, ptr]];
    for (let i = 1; i <= depth; i++) {
      const pad = m.alloc(1, i);
      const node = m.alloc(2, i);
      m.structPtr(i, pad, node, 0, 2);
      for (const [seg, at] of from) m.farPtr(seg, at, i, pad);
      from = [[i, node], [i, node + 1]];
    }
  }).frame();
}

/** A chain of `depth` nested structs, one pointer each: nesting far deeper than any reader allows. */
export function deepChain(which: number, depth: number): Uint8Array {
  return rpcMessage(which, (m, ptr) => {
    let prev = ptr;
    for (let i = 0; i < depth; i++) {
      const node = m.alloc(1);
      m.structPtr(0, prev, node, 0, 1);
      prev = node;
    }
  }).frame();
}

/**
 * List amplification: a frame of about `frameBytes` holding one blob (a byte list filling the rest)
 * and `pointers` pointers to it, so a reader that follows each copies `pointers` × the blob.
 * With 600 pointers and 1 MiB: 600 MiB from 1 MiB received.
 */
export function sharedBlob(which: number, pointers: number, frameBytes: number): Uint8Array {
  return rpcMessage(which, (m, ptr) => {
    const s = m.alloc(pointers);
    m.structPtr(0, ptr, s, 0, pointers);
    const used = 3 + pointers + 1; // root, Message, the struct, this frame's table word
    const blobWords = Math.max(1, (frameBytes >> 3) - used);
    const blob = m.alloc(blobWords);
    for (let i = 0; i < pointers; i++) m.listPtr(0, s + i, blob, 2, blobWords * 8);
  }).frame();
}

/** A list of `pointers` pointers (element size 6) all to one blob: the same amplification, through a list. */
export function sharedBlobList(which: number, pointers: number, frameBytes: number): Uint8Array {
  return rpcMessage(which, (m, ptr) => {
    const l = m.alloc(pointers);
    m.listPtr(0, ptr, l, 6, pointers);
    const blobWords = Math.max(1, (frameBytes >> 3) - (4 + pointers));
    const blob = m.alloc(blobWords);
    for (let i = 0; i < pointers; i++) m.listPtr(0, l + i, blob, 2, blobWords * 8);
  }).frame();
}

/** An Abort whose reason is a text of `bytes` bytes (a single read: linear, however large). */
export function hugeTextAbort(bytes: number): Uint8Array {
  return rpcMessage(1, /* abort */ (m, ptr) => {
    const ex = m.alloc(2); // Exception: data 1, pointers 1 (reason)
    m.structPtr(0, ptr, ex, 1, 1);
    const words = (bytes + 1 + 7) >> 3;
    const text = m.alloc(words);
    m.listPtr(0, ex + 1, text, 2, bytes + 1);
    for (let i = 0; i < bytes; i++) {
      const seg = m.segments[0];
      const byte = text * 8 + i;
      seg[byte >> 2] |= 0x41 << (8 * (byte & 3));
    }
  }).frame();
}

/** Capnp messages, framed as on the socket, as hex for the test peer's `garbage` command. */
export function hex(frame: Uint8Array): string {
  return Array.from(frame, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A Bootstrap request, framed: `count` of them back to back. */
export function bootstraps(count: number): Uint8Array {
  const m = rpcMessage(8, /* bootstrap */ (m, ptr) => {
    const b = m.alloc(1); // Bootstrap: questionId, no pointers
    m.structPtr(0, ptr, b, 1, 0);
    m.setData32(0, b, 0x7fff_0000);
  }).frame();
  const out = new Uint8Array(m.length * count);
  for (let i = 0; i < count; i++) out.set(m, i * m.length);
  return out;
}

export interface FloodingNode {
  readonly path: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections the client closed (our writes to them failed), and ms from accept to that close. */
  readonly closed: number[];
  /** Bytes written to all connections. */
  readonly written: number;
  stop(): Promise<void>;
}

/**
 * A "node" on a Unix socket that floods every client with Bootstrap requests and never reads a
 * byte: the client's answers pile up unread. Each connection ends only when the client closes it
 * (our write then fails) or at stop().
 */
export function floodingNode(path: string): FloodingNode {
  const listener = Deno.listen({ transport: "unix", path });
  const conns = new Set<Deno.UnixConn>();
  const closed: number[] = [];
  let accepted = 0, written = 0, stopping = false;
  const chunk = bootstraps(2048);
  const flood = async (c: Deno.UnixConn) => {
    const t0 = performance.now();
    try {
      for (;;) {
        for (let off = 0; off < chunk.length;) {
          const n = await c.write(chunk.subarray(off));
          off += n;
          written += n;
        }
      }
    } catch {
      if (!stopping) closed.push(performance.now() - t0);
    } finally {
      conns.delete(c);
      closeQuietly(c);
    }
  };
  const floods: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) {
        accepted++;
        conns.add(c);
        floods.push(flood(c));
      }
    } catch { /* listener closed */ }
  })();
  return {
    path,
    get accepted() {
      return accepted;
    },
    closed,
    get written() {
      return written;
    },
    async stop() {
      stopping = true;
      listener.close();
      for (const c of conns) closeQuietly(c);
      await accepting;
      await Promise.all(floods);
    },
  };
}

/** RSS in MiB and CPU seconds (user + system) of a process, from /proc; NaN once it is gone. */
export function procStats(pid: number): { rssMiB: number; cpuSeconds: number } {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return { rssMiB: m ? Number(m[1]) / 1024 : NaN, cpuSeconds: (Number(stat[11]) + Number(stat[12])) / 100 };
  } catch {
    return { rssMiB: NaN, cpuSeconds: NaN };
  }
}

/** Samples a process's RSS every `everyMs` until stopped; reports the peak. */
export function rssPeak(pid: number, everyMs = 50): { stop(): Promise<number> } {
  let peak = procStats(pid).rssMiB || 0;
  const ac = new AbortController();
  const sampling = (async () => {
    while (!ac.signal.aborted) {
      peak = Math.max(peak, procStats(pid).rssMiB || 0);
      await delay(everyMs, ac.signal).catch(() => {});
    }
  })();
  return {
    async stop() {
      ac.abort();
      await sampling;
      return peak;
    },
  };
}
