/**
 * Just enough transaction parsing for debug logs: the txid (double SHA-256 of the serialization
 * without witness data), displayed byte-reversed as Bitcoin Core does. Never on the normal hot path.
 *
 * The bytes come from the node and are parsed as untrusted: every read is checked against the end
 * of the buffer and every count against the bytes left (each input takes at least 41 bytes, each
 * output 9, each witness item 1), so a malformed transaction costs at most one pass over its own
 * bytes and ends in `undefined`, never a loop (a 19-byte transaction claiming 2^64 inputs once spun
 * here forever, with the event loop and SIGTERM blocked behind it).
 */
import { sha256 } from "./sha256.ts";

/** Two hex digits per byte value: a table lookup per byte (blockConnected reads two hashes per block). */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export function displayHash(bytes: Uint8Array): string {
  let s = "";
  for (let i = bytes.length - 1; i >= 0; i--) s += HEX[bytes[i]];
  return s;
}

function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

/** The txid of a serialized transaction, or undefined if it does not parse as one. */
export function txid(tx: Uint8Array): string | undefined {
  const body = withoutWitness(tx);
  return body === undefined ? undefined : displayHash(sha256d(body));
}

/** Bitcoin Core's MAX_SIZE: the largest CompactSize it accepts. */
const MAX_SIZE = 0x02000000;
const MIN_INPUT_BYTES = 32 + 4 + 1 + 4; // outpoint, empty script, sequence
const MIN_OUTPUT_BYTES = 8 + 1; // value, empty script

class Malformed extends Error {}

class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get left(): number {
    return this.bytes.length - this.at;
  }

  skip(n: number): void {
    if (n > this.left) throw new Malformed();
    this.at += n;
  }

  byte(): number {
    if (this.left < 1) throw new Malformed();
    return this.bytes[this.at++];
  }

  /** A CompactSize, canonical and at most MAX_SIZE, as Core reads it. */
  compactSize(): number {
    const first = this.byte();
    if (first < 0xfd) return first;
    const n = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    if (n > this.left) throw new Malformed();
    let v = 0;
    for (let i = 0; i < n; i++) v += this.bytes[this.at + i] * 2 ** (8 * i);
    this.at += n;
    if (v < (n === 2 ? 0xfd : n === 4 ? 0x10000 : 0x100000000) || v > MAX_SIZE) throw new Malformed();
    return v;
  }

  /** A count of items that each take at least `minBytes`: more than the bytes left can hold is malformed. */
  count(minBytes: number): number {
    const n = this.compactSize();
    if (n * minBytes > this.left) throw new Malformed();
    return n;
  }
}

/**
 * The transaction without its witness (version, inputs, outputs, lock time), or undefined if the
 * bytes are not exactly one transaction. Follows Core's UnserializeTransaction.
 */
export function withoutWitness(tx: Uint8Array): Uint8Array | undefined {
  try {
    const r = new Reader(tx);
    r.skip(4); // version
    let bodyStart = r.at;
    let nIn = r.count(MIN_INPUT_BYTES);
    let flags = 0;
    if (nIn === 0) {
      // Empty input list: the segwit marker; the flags byte follows.
      flags = r.byte();
      if (flags !== 0) {
        bodyStart = r.at;
        nIn = r.count(MIN_INPUT_BYTES);
      }
    }
    for (let i = 0; i < nIn; i++) {
      r.skip(36); // outpoint
      r.skip(r.count(1)); // scriptSig
      r.skip(4); // sequence
    }
    // With flags 0 after an empty input list, Core reads no outputs: the 0x00 was the whole body.
    const nOut = nIn === 0 && flags === 0 ? 0 : r.count(MIN_OUTPUT_BYTES);
    for (let i = 0; i < nOut; i++) {
      r.skip(8); // value
      r.skip(r.count(1)); // scriptPubKey
    }
    const bodyEnd = r.at;
    if (flags !== 0) {
      if (flags !== 1) return undefined; // unknown optional data
      let anyWitness = false;
      for (let i = 0; i < nIn; i++) {
        const items = r.count(1);
        for (let j = 0; j < items; j++) {
          const len = r.count(1);
          r.skip(len);
        }
        if (items > 0) anyWitness = true;
      }
      if (!anyWitness) return undefined; // Core: "Superfluous witness record"
    }
    r.skip(4); // lock time
    if (r.left !== 0) return undefined;
    if (flags === 0) return tx;
    const out = new Uint8Array(4 + (bodyEnd - bodyStart) + 4);
    out.set(tx.subarray(0, 4), 0);
    out.set(tx.subarray(bodyStart, bodyEnd), 4);
    out.set(tx.subarray(tx.length - 4), 4 + bodyEnd - bodyStart);
    return out;
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}
