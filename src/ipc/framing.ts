/**
 * Cap'n Proto stream framing (the segment table) over a byte stream.
 *
 * A frame is `u32 segmentCount-1`, `u32 size` per segment (in words), padding to 8 bytes, then the
 * segments. The decoder accepts any chunking of the stream and refuses oversize or malformed tables
 * before allocating for them, so a hostile or broken peer cannot make us buffer without bound.
 */
import { toError } from "../util/errors.ts";

export interface FrameLimits {
  /** Largest message accepted, segment table included, in bytes. */
  maxMessageBytes: number;
  /** Most segments accepted in one message. */
  maxSegments: number;
  /** Bytes waiting to be written (queued and in flight) beyond which the connection fails. */
  maxQueuedBytes?: number;
  /** A write that makes no progress for this long (the peer is not reading) fails the connection. */
  writeStallMs?: number;
}

export const DEFAULT_FRAME_LIMITS: Required<FrameLimits> = {
  maxMessageBytes: 64 * 1024 * 1024,
  maxSegments: 512,
  // Nothing we send is large (calls, Finishes, callback answers), and calls on a node Thread go one
  // at a time, so even a node that stopped reading never has a fraction of this waiting from us.
  maxQueuedBytes: 8 * 1024 * 1024,
  writeStallMs: 30_000,
};

/** The peer does not read what we send: too much waits, or nothing was written for too long. */
export class WriteStallError extends Error {
  override name = "WriteStallError";
}

export class FramingError extends Error {
  override name = "FramingError";
}

/** A message pre-encoded but for one field, written straight into the writer's own buffer (FrameWriter.sendPatched). */
export interface PatchedFrame {
  readonly length: number;
  /** Writes the message, with `value` in its varying field, at `dst[at, at + length)`. */
  writeInto(dst: Uint8Array, at: number, value: number): void;
}

/** Buffers of ours up to this size are kept for the next write once theirs completes; larger ones are dropped. */
const SPARE_MAX_BYTES = 64 * 1024;

/** Splits a byte stream into whole framed messages. */
export class FrameDecoder {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #need = 0; // total length of the frame being assembled, once its table is known
  #limits: FrameLimits;

  constructor(limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.#limits = limits;
  }

  /** Bytes buffered that do not yet form a whole message. */
  get pending(): number {
    return this.#end - this.#start;
  }

  /**
   * Adds bytes from the stream and calls `onFrame` with each message completed by them. The frame is
   * a view into `chunk` or into the decoder's own buffer, valid only until `onFrame` returns: a
   * callee that keeps it must copy it. (No copy per message: for a 2 MB block that copy, and the
   * fresh allocation behind it, cost more than the node's whole round-trip.) Throws FramingError on
   * a malformed or oversize table.
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    // Fast path: the chunk holds exactly whole frames and nothing is buffered.
    let offset = 0;
    if (this.pending === 0) {
      while (offset < chunk.length) {
        const len = this.#frameLength(chunk, offset, chunk.length - offset);
        if (len === 0 || offset + len > chunk.length) break;
        onFrame(chunk.subarray(offset, offset + len));
        offset += len;
      }
      if (offset === chunk.length) return;
    }
    this.#append(chunk, offset);
    this.#drain(onFrame);
  }

  /**
   * Free space at the end of the buffer, for reading from the socket straight into (no copy): at
   * least `min` bytes, or the rest of the message being assembled if that is more. Valid until the
   * next call on this decoder; report what was read with commit().
   */
  reserve(min = 64 * 1024): Uint8Array {
    const rest = this.#need > 0 ? this.#need - (this.#end - this.#start) : 0;
    this.#makeRoom(Math.max(min, rest));
    return this.#buf.subarray(this.#end);
  }

  /** `n` bytes were read into the view reserve() returned: hands out every completed frame. */
  commit(n: number, onFrame: (frame: Uint8Array) => void): void {
    this.#end += n;
    this.#drain(onFrame);
  }

  #drain(onFrame: (frame: Uint8Array) => void): void {
    for (;;) {
      const avail = this.#end - this.#start;
      if (this.#need === 0) {
        this.#need = this.#frameLength(this.#buf, this.#start, avail);
        if (this.#need === 0) return;
      }
      if (avail < this.#need) return;
      const frame = this.#buf.subarray(this.#start, this.#start + this.#need);
      this.#start += this.#need;
      this.#need = 0;
      onFrame(frame);
      if (this.#start === this.#end) this.#start = this.#end = 0;
    }
  }

  /** Length of the frame at `at`, or 0 if its table is not complete yet. */
  #frameLength(buf: Uint8Array, at: number, avail: number): number {
    if (avail < 4) return 0;
    const view = new DataView(buf.buffer, buf.byteOffset + at, avail);
    const segments = view.getUint32(0, true) + 1;
    if (segments > this.#limits.maxSegments) {
      throw new FramingError(`message has ${segments} segments, more than the limit of ${this.#limits.maxSegments}`);
    }
    const tableBytes = (4 + 4 * segments + 7) & ~7;
    if (avail < 4 + 4 * segments) return 0;
    let words = 0;
    for (let i = 0; i < segments; i++) words += view.getUint32(4 + 4 * i, true);
    const total = tableBytes + words * 8;
    if (total > this.#limits.maxMessageBytes) {
      throw new FramingError(`message of ${total} bytes exceeds the limit of ${this.#limits.maxMessageBytes}`);
    }
    if (words === 0) throw new FramingError("message with an empty first segment");
    return total;
  }

  #append(chunk: Uint8Array, from: number): void {
    const len = chunk.length - from;
    this.#makeRoom(len);
    this.#buf.set(chunk.subarray(from), this.#end);
    this.#end += len;
  }

  /** Makes `len` bytes free after #end: compacting, or growing (the buffer is kept for reuse). */
  #makeRoom(len: number): void {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end + len > this.#buf.length) {
      const live = this.#end - this.#start;
      if (live + len <= this.#buf.length / 2) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        let size = this.#buf.length * 2;
        while (size < live + len) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = live;
    }
  }
}

/** Prepends the stream framing to a message's segments. */
export function encodeFrame(segments: readonly Uint8Array[]): Uint8Array {
  const tableBytes = (4 + 4 * segments.length + 7) & ~7;
  let total = tableBytes;
  for (const s of segments) total += s.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, segments.length - 1, true);
  let at = tableBytes;
  segments.forEach((s, i) => {
    view.setUint32(4 + 4 * i, s.byteLength / 8, true);
    out.set(s, at);
    at += s.byteLength;
  });
  return out;
}

/**
 * Writes messages to a connection in order, coalescing those queued while a write is in flight into
 * one write (they are copied into one buffer as they come, so what waits costs its bytes and no
 * more). A write error fails every queued message and all later ones; nothing throws later.
 *
 * Bounded: a peer that stops reading while we keep writing (it floods requests and never reads the
 * answers) would make the queue grow without end, so the connection fails once more than
 * `maxQueuedBytes` wait, or once a write has made no progress for `writeStallMs` while more waits
 * behind it. The stall watch is armed only while messages queue behind a write in flight: the
 * callback path (one answer per call, each written before the next call comes) never arms it.
 */
export class FrameWriter {
  /** Messages waiting behind the write in flight, back to back in `#queue[0..#queuedBytes)`. */
  #queue: Uint8Array | undefined;
  #queuedBytes = 0;
  /** Bytes of the write in flight not yet written. */
  #inFlight = 0;
  #writing = false;
  /** The chunk being written and how much of it is written. */
  #chunk: Uint8Array | undefined;
  #written = 0;
  /**
   * The buffer of ours `#chunk` views (a taken queue, or where sendPatched wrote), reused once its
   * write completes; undefined while a caller's frame is written.
   */
  #chunkBuf: Uint8Array | undefined;
  /** A buffer of ours no write is using: the next queue, or the next patched frame's. */
  #spare: Uint8Array | undefined;
  #error: Error | undefined;
  #idle: (() => void)[] = [];
  /** Writes completed so far: the stall watch compares it across its window. */
  #progress = 0;
  #watch: ReturnType<typeof setTimeout> | undefined;
  #writer: { write(p: Uint8Array): Promise<number> };
  /**
   * Messages that need not go out at once (a Finish for a call's Return), held until the next
   * message, which carries them in its write, or the end of this turn of the event loop.
   */
  #later: Uint8Array[] = [];
  /**
   * Sends what is held at the end of the turn. One timer, re-armed with Node's `refresh()` (Deno's
   * setTimeout returns a Node Timeout): a setTimeout and clearTimeout per call are two ops, ~2 µs of
   * a ~60 µs trivial call. Taking what is held leaves it armed; it then fires and finds nothing.
   */
  #laterTimer: ReturnType<typeof setTimeout> | undefined;
  #laterArmed = false;
  #onError: (e: Error) => void;
  #maxQueuedBytes: number;
  #stallMs: number;

  constructor(
    writer: { write(p: Uint8Array): Promise<number> },
    onError: (e: Error) => void,
    limits: FrameLimits = DEFAULT_FRAME_LIMITS,
  ) {
    this.#writer = writer;
    this.#onError = onError;
    this.#maxQueuedBytes = limits.maxQueuedBytes ?? DEFAULT_FRAME_LIMITS.maxQueuedBytes;
    this.#stallMs = limits.writeStallMs ?? DEFAULT_FRAME_LIMITS.writeStallMs;
  }

  /** Bytes accepted but not yet written (queued and in flight): a measure of backpressure. */
  get pendingBytes(): number {
    return this.#queuedBytes + this.#inFlight;
  }

  get failed(): Error | undefined {
    return this.#error;
  }

  /**
   * Queues a message that may wait for the next one (sent in the same write) or, at the latest,
   * for a zero-delay timer: a call loop then writes once per call (its Finish with the next Call,
   * as libcapnp's writev does), not twice. Never used for a callback's answer (the node waits).
   */
  sendLater(frame: Uint8Array): boolean {
    if (this.#error) return false;
    this.#later.push(frame);
    if (!this.#laterArmed) {
      this.#laterArmed = true;
      const t = this.#laterTimer as { refresh?: () => unknown } | undefined;
      if (typeof t?.refresh === "function") t.refresh();
      else {
        this.#laterTimer = setTimeout(() => {
          this.#laterArmed = false;
          this.#sendHeld();
        }, 0);
      }
    }
    return true;
  }

  /** Stops the end-of-turn timer (nothing is held, or the writer failed). */
  #stopLater(): void {
    if (this.#laterTimer !== undefined) clearTimeout(this.#laterTimer);
    this.#laterTimer = undefined;
    this.#laterArmed = false;
  }

  /** Sends what sendLater holds, alone. */
  #sendHeld(): void {
    if (this.#later.length === 0) return;
    const held = this.#takeHeld([]);
    this.send(held);
  }

  /** The held messages followed by `frames`, as one buffer; nothing is held after it. */
  #takeHeld(frames: Uint8Array[]): Uint8Array {
    const all = [...this.#later, ...frames];
    this.#later = [];
    if (all.length === 1) return all[0];
    const out = new Uint8Array(all.reduce((n, f) => n + f.byteLength, 0));
    let off = 0;
    for (const f of all) {
      out.set(f, off);
      off += f.byteLength;
    }
    return out;
  }

  /** Queues one framed message. Returns false if the connection already failed (or fails now). */
  send(frame: Uint8Array): boolean {
    if (this.#error) return false;
    if (this.#later.length > 0) frame = this.#takeHeld([frame]); // in order, in one write
    if (!this.#writing) {
      void this.#drain(frame);
      return true;
    }
    // Behind a write still in flight: the peer reads slower than we write, or not at all.
    if (!this.#roomBehind(frame.byteLength)) return false;
    this.#enqueue(frame);
    if (this.#watch === undefined) this.#arm();
    return true;
  }

  /**
   * Queues a message given as a pre-encoded frame and the value of its varying field (the empty
   * Return that answers each callback): written into a buffer of ours, the queue or a spare one,
   * with no allocation once the connection has run a while. Otherwise as `send`.
   */
  sendPatched(frame: PatchedFrame, value: number): boolean {
    if (this.#error) return false;
    if (this.#later.length > 0) {
      const bytes = new Uint8Array(frame.length);
      frame.writeInto(bytes, 0, value);
      return this.send(bytes); // with what is held, in order
    }
    if (!this.#writing) {
      const buf = this.#takeSpare(frame.length);
      frame.writeInto(buf, 0, value);
      this.#writing = true;
      this.#chunkBuf = buf;
      this.#startChunk(buf.subarray(0, frame.length));
      return true;
    }
    if (!this.#roomBehind(frame.length)) return false;
    frame.writeInto(this.#reserveQueue(frame.length), this.#queuedBytes, value);
    this.#queuedBytes += frame.length;
    if (this.#watch === undefined) this.#arm();
    return true;
  }

  /** Whether `bytes` more may wait behind the write in flight; fails the connection if not. */
  #roomBehind(bytes: number): boolean {
    if (this.pendingBytes + bytes <= this.#maxQueuedBytes) return true;
    this.#fail(
      new WriteStallError(
        `the node is not reading what we send: ${
          mib(this.pendingBytes)
        } waiting to be written, more than the limit of ${mib(this.#maxQueuedBytes)}`,
      ),
    );
    return false;
  }

  /** The spare buffer if it holds `size` bytes, else a new one (at least 4 KiB). */
  #takeSpare(size: number): Uint8Array {
    const spare = this.#spare;
    if (spare && spare.length >= size) {
      this.#spare = undefined;
      return spare;
    }
    let n = 4096;
    while (n < size) n *= 2;
    return new Uint8Array(n);
  }

  /** The queue, with room for `bytes` more after what it holds. */
  #reserveQueue(bytes: number): Uint8Array {
    const need = this.#queuedBytes + bytes;
    if (!this.#queue) this.#queue = this.#takeSpare(need);
    else if (need > this.#queue.length) {
      let size = this.#queue.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#queue.subarray(0, this.#queuedBytes));
      this.#queue = next;
    }
    return this.#queue;
  }

  #enqueue(frame: Uint8Array): void {
    this.#reserveQueue(frame.byteLength).set(frame, this.#queuedBytes);
    this.#queuedBytes += frame.byteLength;
  }

  /** Resolves once everything queued so far has been written (or the connection failed). */
  flushed(): Promise<void> {
    this.#sendHeld();
    this.#stopLater();
    if (!this.#writing || this.#error) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Fails the connection if no write completes within the next `writeStallMs`. */
  #arm(): void {
    const seen = this.#progress;
    this.#watch = setTimeout(() => {
      this.#watch = undefined;
      if (!this.#writing || this.#error) return;
      if (this.#progress !== seen) return this.#arm();
      this.#fail(
        new WriteStallError(
          `the node has not read what we send for ${this.#stallMs / 1000} s (${
            mib(this.pendingBytes)
          } waiting to be written)`,
        ),
      );
    }, this.#stallMs);
  }

  /** What queued behind the write just finished, as the next write (its buffer back once written). */
  #takeQueue(): Uint8Array | undefined {
    if (!this.#queue || this.#queuedBytes === 0) return undefined;
    const chunk = this.#queue.subarray(0, this.#queuedBytes);
    this.#chunkBuf = this.#queue;
    this.#queue = undefined;
    this.#queuedBytes = 0;
    return chunk;
  }

  #fail(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    this.#queue = undefined;
    this.#queuedBytes = 0;
    this.#later = [];
    this.#stopLater();
    if (this.#watch !== undefined) clearTimeout(this.#watch);
    this.#watch = undefined;
    for (const r of this.#idle.splice(0)) r();
    this.#onError(e);
  }

  /**
   * Writes `first`, then whatever queued behind it, until nothing waits. Written with callbacks, not
   * as an async function: one answer per callback goes through here, and an async function's
   * promise and suspended frame were a fifth of a callback's garbage (bench, sampling heap profile).
   */
  #drain(first: Uint8Array): void {
    this.#writing = true;
    this.#chunkBuf = undefined; // the caller's bytes
    this.#startChunk(first);
  }

  #startChunk(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#written = 0;
    this.#inFlight = chunk.length;
    this.#writeRest();
  }

  #writeRest(): void {
    const chunk = this.#chunk!;
    let p: Promise<number>;
    try {
      p = this.#writer.write(this.#written === 0 ? chunk : chunk.subarray(this.#written));
    } catch (e) {
      return this.#writeFailed(e);
    }
    p.then(this.#onWritten, this.#onWriteError);
  }

  readonly #onWritten = (n: number): void => {
    this.#progress++;
    if (this.#error) return this.#endDrain(); // failed while this write was in flight
    this.#written += n;
    const chunk = this.#chunk!;
    if (this.#written < chunk.length) {
      this.#inFlight = chunk.length - this.#written;
      return this.#writeRest();
    }
    // Written whole: its buffer, if ours, is free again (the larger of the two is kept, within a bound).
    const done = this.#chunkBuf;
    this.#chunkBuf = undefined;
    if (done && done.length <= SPARE_MAX_BYTES && done.length > (this.#spare?.length ?? 0)) this.#spare = done;
    const next = this.#takeQueue();
    if (next) return this.#startChunk(next);
    this.#endDrain();
  };

  readonly #onWriteError = (e: unknown): void => this.#writeFailed(e);

  #writeFailed(e: unknown): void {
    this.#fail(toError(e));
    this.#endDrain();
  }

  #endDrain(): void {
    this.#writing = false;
    this.#inFlight = 0;
    this.#chunk = undefined;
    this.#chunkBuf = undefined;
    if (this.#watch !== undefined) clearTimeout(this.#watch);
    this.#watch = undefined;
    if (this.#idle.length > 0) { for (const r of this.#idle.splice(0)) r(); }
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
