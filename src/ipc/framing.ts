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
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxMessageBytes: 64 * 1024 * 1024,
  maxSegments: 512,
};

export class FramingError extends Error {
  override name = "FramingError";
}

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
 * one write. A write error fails every queued message and all later ones; nothing throws later.
 */
export class FrameWriter {
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #error: Error | undefined;
  #idle: (() => void)[] = [];
  #writer: { write(p: Uint8Array): Promise<number> };
  #onError: (e: Error) => void;

  constructor(writer: { write(p: Uint8Array): Promise<number> }, onError: (e: Error) => void) {
    this.#writer = writer;
    this.#onError = onError;
  }

  /** Bytes accepted but not yet written: a measure of backpressure. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get failed(): Error | undefined {
    return this.#error;
  }

  /** Queues one framed message. Returns false if the connection already failed. */
  send(frame: Uint8Array): boolean {
    if (this.#error) return false;
    this.#queue.push(frame);
    this.#queuedBytes += frame.byteLength;
    if (!this.#writing) void this.#drain();
    return true;
  }

  /** Resolves once everything queued so far has been written (or the connection failed). */
  flushed(): Promise<void> {
    if (!this.#writing || this.#error) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        let chunk: Uint8Array;
        if (this.#queue.length === 1) {
          chunk = this.#queue[0];
        } else {
          chunk = new Uint8Array(this.#queuedBytes);
          let at = 0;
          for (const f of this.#queue) {
            chunk.set(f, at);
            at += f.byteLength;
          }
        }
        this.#queue = [];
        this.#queuedBytes = 0;
        let off = 0;
        while (off < chunk.length) off += await this.#writer.write(chunk.subarray(off));
      }
    } catch (e) {
      this.#error = toError(e);
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#onError(this.#error);
    } finally {
      this.#writing = false;
      for (const r of this.#idle.splice(0)) r();
    }
  }
}
