import { assertEquals, assertThrows } from "../../tests/support/assert.ts";
import { bytesAtWire, countJsonArrayObjects, feeRateSatPerVb, headerOf } from "./branch.ts";
import { WireMessage } from "./wire.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

Deno.test("ban-list JSON: counts top-level objects, skipping strings and nesting", () => {
  const one = '{"version":1,"ban_created":1,"banned_until":2,"address":"1.2.3.4/32"}';
  assertEquals(countJsonArrayObjects(utf8("[]\0"), "t"), 0);
  assertEquals(countJsonArrayObjects(utf8(" [ ] "), "t"), 0);
  assertEquals(countJsonArrayObjects(utf8(`[${one}]\0`), "t"), 1);
  assertEquals(countJsonArrayObjects(utf8(`[${one},${one},\n${one}]`), "t"), 3);
  // Brackets, braces, commas and escaped quotes inside strings and nested values count for nothing.
  assertEquals(countJsonArrayObjects(utf8('[{"a":"},{\\"]","b":[{},{}],"c":{"d":[1,2]}},{}]'), "t"), 2);
});

Deno.test("ban-list JSON: anything but an array of objects is refused with the reason", () => {
  for (
    const bad of ["", "{}", "[1]", '["x"]', "[{}", "[{},]", "[,{}]", "[{}{}]", "[{}] x", '[{"a":"]', "[{]}", "null"]
  ) {
    assertThrows(() => countJsonArrayObjects(utf8(bad), "Node.getBanned"), Error, "Node.getBanned");
  }
});

Deno.test("CFeeRate: FeeFrac (fee Int64, size Int32) and the pre-v30 Int64 sat/kvB, as sat/vB", () => {
  const feeFrac = (fee: bigint, size: number) => {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, fee, true);
    v.setInt32(8, size, true);
    return b;
  };
  assertEquals(feeRateSatPerVb(feeFrac(100n, 1000), "t"), 0.1);
  assertEquals(feeRateSatPerVb(feeFrac(0n, 1000), "t"), 0);
  assertEquals(feeRateSatPerVb(feeFrac(2_500_000n, 1000), "t"), 2500);
  // GetFeePerK rounds down to whole sat/kvB: 1001 sat over 3 vB is 333666.666... sat/kvB.
  assertEquals(feeRateSatPerVb(feeFrac(1001n, 3), "t"), 333.666);
  assertEquals(feeRateSatPerVb(feeFrac(-1n, 3), "t"), -0.334); // towards -infinity, as EvaluateFeeDown
  assertEquals(feeRateSatPerVb(feeFrac(0n, 0), "t"), undefined); // CFeeRate{}: no fee rate
  const old = new Uint8Array(8);
  new DataView(old.buffer).setBigInt64(0, 1000n, true);
  assertEquals(feeRateSatPerVb(old, "t"), 1);
  assertThrows(() => feeRateSatPerVb(new Uint8Array(4), "Chain.relayMinFee"), Error, "4-byte fee rate");
});

/** A framed message of `segments` (each a list of 64-bit words as [lo, hi] u32 pairs, or raw bytes). */
function frame(segments: (number[][] | Uint8Array)[]): Uint8Array {
  const bytes = segments.map((seg) => {
    if (seg instanceof Uint8Array) {
      const out = new Uint8Array(Math.ceil(seg.length / 8) * 8);
      out.set(seg);
      return out;
    }
    const out = new Uint8Array(seg.length * 8);
    const dv = new DataView(out.buffer);
    seg.forEach(([lo, hi], i) => {
      dv.setUint32(8 * i, lo >>> 0, true);
      dv.setUint32(8 * i + 4, hi >>> 0, true);
    });
    return out;
  });
  const head = (4 + 4 * segments.length + 7) & ~7;
  const out = new Uint8Array(head + bytes.reduce((n, b) => n + b.length, 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, segments.length - 1, true);
  let at = head;
  bytes.forEach((b, i) => {
    dv.setUint32(4 + 4 * i, b.length / 8, true);
    out.set(b, at);
    at += b.length;
  });
  return out;
}

// Root: a struct of no data and one pointer, at word 1 of segment 0.
const ROOT: number[] = [0, 1 << 16];
const DATA = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const list = (offsetWords: number, count: number) => [((offsetWords << 2) | 1) >>> 0, (count << 3) | 2];

Deno.test("bytesAtWire: a Data in place, through a far pointer and a double-far one; anything else is null", () => {
  const read = (f: Uint8Array, max = 1000) => {
    const w = new WireMessage(f);
    return bytesAtWire(w, w.root()!, 0, max);
  };
  // In place: the list right after the pointer.
  const inPlace = frame([[ROOT, list(0, DATA.length), ...[0, 1, 2].map(() => [0, 0])]]);
  new Uint8Array(inPlace.buffer, 8 + 16).set(DATA);
  assertEquals(read(inPlace), DATA);
  assertEquals(read(inPlace, 4), DATA.subarray(0, 4));
  // Far: a landing pad (a list pointer) at word 0 of segment 1, the bytes after it.
  const padded = new Uint8Array(8 + DATA.length);
  new DataView(padded.buffer).setUint32(0, list(0, DATA.length)[0], true);
  new DataView(padded.buffer).setUint32(4, list(0, DATA.length)[1], true);
  padded.set(DATA, 8);
  assertEquals(read(frame([[ROOT, [2, 1]], padded])), DATA);
  // Double-far: a two-word pad in segment 1 (far to segment 2's word 0, then the list's tag).
  assertEquals(read(frame([[ROOT, [6, 1]], [[2, 2], list(0, DATA.length)], DATA])), DATA);
  // A list running past its segment, a struct list instead of bytes, a far pointer to no segment: null.
  assertEquals(read(frame([[ROOT, list(0, 100)]])), null);
  assertEquals(read(frame([[ROOT, [1, (1 << 3) | 7], [0, 0]]])), null);
  assertEquals(read(frame([[ROOT, [2, 9]]])), null);
});

Deno.test("headerOf: the hash and, from 80 bytes of header on, the parent and the time (display order)", () => {
  const hash = Uint8Array.from({ length: 32 }, (_, i) => i);
  const header = new Uint8Array(81);
  header[4] = 0xab; // the parent's first byte in internal order: its last displayed
  new DataView(header.buffer).setUint32(68, 1795483001, true);
  const h = headerOf(hash, header);
  assertEquals(h.hash.slice(0, 4), "1f1e");
  assertEquals(h.prevHash!.slice(-2), "ab");
  assertEquals(h.time, 1795483001);
  assertEquals(headerOf(hash, header.subarray(0, 79)), { hash: h.hash });
  assertEquals(headerOf(hash, null), { hash: h.hash });
});
