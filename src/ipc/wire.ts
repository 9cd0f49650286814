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

/** A struct located in a message: byte offsets of its data and pointer sections within `seg`. */
export interface WireStruct {
  seg: number;
  data: number;
  dataBytes: number;
  ptrs: number;
  ptrCount: number;
}

export class WireMessage {
  readonly views: DataView[] = [];

  /** `frame` is one framed message; it is read in place and must not change while in use. */
  constructor(frame: Uint8Array) {
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const count = dv.getUint32(0, true) + 1;
    let at = (4 + 4 * count + 7) & ~7;
    for (let i = 0; i < count; i++) {
      const len = dv.getUint32(4 + 4 * i, true) * 8;
      if (at + len > frame.byteLength) throw new WireError("segment beyond the end of the message");
      this.views.push(new DataView(frame.buffer, frame.byteOffset + at, len));
      at += len;
    }
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
