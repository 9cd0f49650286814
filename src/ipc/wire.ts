/**
 * A zero-copy reader for the few fields the callback path needs, straight from a framed message.
 *
 * capnp-es copies a message twice while constructing it (the whole buffer, then every segment),
 * which for a blockConnected carrying a 2 MB block costs more than the node's entire round-trip.
 * The node's callbacks need a handful of words (which message, which object and method, one or two
 * params fields), so this reads them in place, bounds-checking every pointer it follows. Anything
 * it does not recognise goes the general (capnp-es) way.
 */

export class WireError extends Error {
  override name = "WireError";
}

/**
 * What reading one message from the peer may cost, as the reference implementation bounds it
 * (capnp's ReaderOptions: a traversal limit and a nesting limit). Every object is charged its size
 * in words each time a pointer reaches it, so a message whose pointers share or overlap their
 * targets (a 360-byte tree that unfolds to 2^20 structs, 600 pointers to one 1 MiB blob) costs what
 * reading it would cost, not what it weighs. A message a Cap'n Proto writer produced unfolds to at
 * most its own size: no writer shares substructure.
 */
export interface ReadLimits {
  /** Words a message may unfold to, per word of its size. */
  traversalFactor: number;
  /** Words any one message may unfold to, whatever its size (capnp's default: 8 Mi words, 64 MiB). */
  maxTraversalWords: number;
  /** Pointers followed from the root to the deepest object (capnp's default: 64). */
  nestingLimit: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  traversalFactor: 4,
  maxTraversalWords: 8 * 1024 * 1024,
  nestingLimit: 64,
};

/** A message that would cost more to read than its limits allow. */
export class ReadLimitError extends WireError {
  override name = "ReadLimitError";
}

/** A struct located in a message: byte offsets of its data and pointer sections within `seg`. */
export interface WireStruct {
  seg: number;
  data: number;
  dataBytes: number;
  ptrs: number;
  ptrCount: number;
}

/** A little-endian u32 at `at` of `b` (the segment table, read without a DataView). */
function u32le(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

export class WireMessage {
  /** One view per segment. */
  readonly views: DataView[] = [];
  #words = 0;
  #budget = 0;
  #limits: ReadLimits = DEFAULT_READ_LIMITS;

  /** `frame` is one framed message; it is read in place and must not change while in use. */
  constructor(frame?: Uint8Array) {
    if (frame) this.reset(frame);
  }

  /**
   * Reads `frame` from now on, as a new WireMessage(frame) would. A connection keeps one and resets
   * it per message (each message is read to the end before the next): per message it then costs
   * only its segments' views.
   */
  reset(frame: Uint8Array): this {
    const views = this.views;
    this.#words = 0;
    if (frame.byteLength < 4) {
      views.length = 0;
      throw new WireError("message shorter than its segment table");
    }
    const count = u32le(frame, 0) + 1;
    let at = (4 + 4 * count + 7) & ~7;
    if (4 + 4 * count > frame.byteLength) {
      views.length = 0;
      throw new WireError("segment table beyond the end of the message");
    }
    // Shortened, never emptied and refilled: the array keeps its storage (most messages have one
    // segment), and a pointer to a segment past `count` finds none.
    if (views.length > count) views.length = count;
    for (let i = 0; i < count; i++) {
      const len = u32le(frame, 4 + 4 * i) * 8;
      if (at + len > frame.byteLength) {
        views.length = 0;
        throw new WireError("segment beyond the end of the message");
      }
      views[i] = new DataView(frame.buffer, frame.byteOffset + at, len);
      this.#words += len / 8;
      at += len;
    }
    return this;
  }

  /** The message's size in words (segments only). */
  get words(): number {
    return this.#words;
  }

  /**
   * Checks the whole message against `limits` before anything reads it: follows every pointer from
   * the root, as a reader that reads everything would, charging each object its words each time it
   * is reached, and checks every pointer lands inside its segment. Returns the words charged (at
   * most the budget, so the walk's own work is linear in the message's size). Throws
   * ReadLimitError when the message unfolds beyond its budget or nests too deep, WireError when a
   * pointer is malformed.
   */
  checkLimits(limits: ReadLimits = DEFAULT_READ_LIMITS): number {
    const budget = Math.min(limits.maxTraversalWords, Math.max(1, limits.traversalFactor * this.words));
    this.#budget = budget;
    this.#limits = limits;
    this.#walk(0, 0, limits.nestingLimit);
    return budget - this.#budget;
  }

  #charge(words: number): void {
    this.#budget -= words;
    if (this.#budget < 0) {
      const l = this.#limits;
      throw new ReadLimitError(
        `message of ${this.words} words unfolds to more than ${
          Math.min(l.maxTraversalWords, l.traversalFactor * this.words)
        } words (traversal limit: ${l.traversalFactor} x its size, at most ${l.maxTraversalWords})`,
      );
    }
  }

  /** Visits the pointer at byte `at` of segment `seg` and everything it reaches. */
  #walk(seg: number, at: number, nesting: number): void {
    const v = this.views[seg];
    if (!v || at < 0 || at + 8 > v.byteLength) throw new WireError("pointer outside its segment");
    let lo = v.getUint32(at, true);
    let hi = v.getUint32(at + 4, true);
    if (lo === 0 && hi === 0) return;
    if ((lo & 3) === 3) {
      if (lo !== 3) throw new WireError("unknown kind of pointer");
      return; // a capability: an index into the cap table, no content
    }
    if (nesting <= 0) {
      throw new ReadLimitError(`message nests deeper than ${this.#limits.nestingLimit} pointers (nesting limit)`);
    }
    // Where the content starts (segment, byte offset); lo/hi end up as the tag describing it.
    let cseg = seg, content: number;
    if ((lo & 3) === 2) {
      const padSeg = hi, padAt = (lo >>> 3) * 8, double = (lo & 4) !== 0;
      const pv = this.views[padSeg];
      if (!pv || padAt + (double ? 16 : 8) > pv.byteLength) throw new WireError("far pointer landing pad out of range");
      const padLo = pv.getUint32(padAt, true), padHi = pv.getUint32(padAt + 4, true);
      if (!double) {
        if ((padLo & 3) === 2) throw new WireError("far pointer lands on another far pointer");
        if ((padLo & 3) === 3) throw new WireError("far pointer lands on a capability");
        lo = padLo;
        hi = padHi;
        cseg = padSeg;
        content = padAt + 8 + (lo >> 2) * 8;
      } else {
        if ((padLo & 7) !== 2) throw new WireError("malformed double-far landing pad");
        cseg = padHi;
        content = (padLo >>> 3) * 8;
        lo = pv.getUint32(padAt + 8, true);
        hi = pv.getUint32(padAt + 12, true);
        if ((lo & 3) > 1) throw new WireError("double-far tag is not a struct or list");
      }
    } else {
      content = at + 8 + (lo >> 2) * 8;
    }
    const cv = this.views[cseg];
    if (!cv) throw new WireError("pointer to a segment that does not exist");
    if ((lo & 3) === 0) {
      const dataWords = hi & 0xffff, ptrCount = hi >>> 16;
      if (content < 0 || content + (dataWords + ptrCount) * 8 > cv.byteLength) {
        throw new WireError("struct outside its segment");
      }
      this.#charge(dataWords + ptrCount);
      const ptrs = content + dataWords * 8;
      for (let i = 0; i < ptrCount; i++) this.#walk(cseg, ptrs + 8 * i, nesting - 1);
      return;
    }
    const size = hi & 7, count = hi >>> 3;
    if (size === 7) {
      // Composite: `count` words of elements after a tag word saying how many and how big.
      if (content < 0 || content + 8 + count * 8 > cv.byteLength) throw new WireError("list outside its segment");
      const tagLo = cv.getUint32(content, true), tagHi = cv.getUint32(content + 4, true);
      if ((tagLo & 3) !== 0) throw new WireError("composite list tag is not a struct");
      const elements = tagLo >>> 2, dataWords = tagHi & 0xffff, ptrCount = tagHi >>> 16;
      const perElement = dataWords + ptrCount;
      if (elements * perElement > count) throw new WireError("composite list elements overrun the list");
      // Elements of no size cost nothing to store but something to visit: charged one word each.
      this.#charge(perElement === 0 ? elements : count);
      for (let e = 0; e < elements; e++) {
        const ptrs = content + 8 + e * perElement * 8 + dataWords * 8;
        for (let i = 0; i < ptrCount; i++) this.#walk(cseg, ptrs + 8 * i, nesting - 1);
      }
      return;
    }
    const bits = LIST_ELEMENT_BITS[size];
    const words = Math.ceil((count * bits) / 64);
    if (content < 0 || content + words * 8 > cv.byteLength) throw new WireError("list outside its segment");
    this.#charge(size === 0 ? count : words);
    if (size === 6) { for (let i = 0; i < count; i++) this.#walk(cseg, content + 8 * i, nesting - 1); }
  }

  root(): WireStruct | null {
    return this.#follow(0, 0, 0);
  }

  /** The struct that pointer `index` of `s` points to, or null for a null pointer. */
  structAt(s: WireStruct, index: number): WireStruct | null {
    if (index >= s.ptrCount) return null;
    return this.#follow(s.seg, s.ptrs + 8 * index, 0);
  }

  #follow(seg: number, at: number, depth: number): WireStruct | null {
    const v = this.views[seg];
    if (!v || at + 8 > v.byteLength) throw new WireError("pointer outside its segment");
    const lo = v.getUint32(at, true);
    const hi = v.getUint32(at + 4, true);
    if (lo === 0 && hi === 0) return null;
    const kind = lo & 3;
    if (kind === 2) {
      // Far pointer: a landing pad in another segment (one word, or two for a double-far).
      if (depth > 0) throw new WireError("far pointer chain");
      const padSeg = hi;
      const padAt = (lo >>> 3) * 8;
      if ((lo & 4) === 0) return this.#follow(padSeg, padAt, depth + 1);
      const pv = this.views[padSeg];
      if (!pv || padAt + 16 > pv.byteLength) throw new WireError("double-far landing pad out of range");
      const farLo = pv.getUint32(padAt, true);
      const targetSeg = pv.getUint32(padAt + 4, true);
      if ((farLo & 7) !== 2) throw new WireError("malformed double-far landing pad");
      const tagLo = pv.getUint32(padAt + 8, true);
      const tagHi = pv.getUint32(padAt + 12, true);
      if ((tagLo & 3) !== 0) throw new WireError("double-far tag is not a struct");
      return this.#struct(targetSeg, (farLo >>> 3) * 8, tagHi);
    }
    if (kind !== 0) throw new WireError("expected a struct pointer");
    const offsetWords = lo >> 2; // signed 30-bit
    return this.#struct(seg, at + 8 + offsetWords * 8, hi);
  }

  #struct(seg: number, data: number, sizes: number): WireStruct {
    const dataBytes = (sizes & 0xffff) * 8;
    const ptrCount = sizes >>> 16;
    const v = this.views[seg];
    if (!v || data < 0 || data + dataBytes + ptrCount * 8 > v.byteLength) {
      throw new WireError("struct outside its segment");
    }
    return { seg, data, dataBytes, ptrs: data + dataBytes, ptrCount };
  }

  // Field reads: a field beyond a struct's data section reads as zero (the schema's default),
  // which is how Cap'n Proto lets old and new struct layouts interoperate.
  u16(s: WireStruct, byte: number): number {
    return byte + 2 <= s.dataBytes ? this.views[s.seg].getUint16(s.data + byte, true) : 0;
  }
  u32(s: WireStruct, byte: number): number {
    return byte + 4 <= s.dataBytes ? this.views[s.seg].getUint32(s.data + byte, true) : 0;
  }
  i32(s: WireStruct, byte: number): number {
    return byte + 4 <= s.dataBytes ? this.views[s.seg].getInt32(s.data + byte, true) : 0;
  }
  /** An Int64 as a Number: exact for |v| < 2^53 (every satoshi amount). */
  i64(s: WireStruct, byte: number): number {
    if (byte + 8 > s.dataBytes) return 0;
    const v = this.views[s.seg];
    return v.getInt32(s.data + byte + 4, true) * 4294967296 + v.getUint32(s.data + byte, true);
  }
}

/** Bits per element by list element size code (void, bit, byte, 2, 4, 8 bytes, pointer). */
const LIST_ELEMENT_BITS = [0, 1, 8, 16, 32, 64, 64];
