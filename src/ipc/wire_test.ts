import { assertEquals, assertThrows } from "../../tests/support/assert.ts";
import { encodeFrame } from "./framing.ts";
import { WireError, WireMessage } from "./wire.ts";

/** A root struct of `dataWords` data words and one pointer to a struct of one data word holding `v`. */
function message(v: number, extraSegments: number): Uint8Array {
  const seg = new Uint8Array(32);
  const dv = new DataView(seg.buffer);
  // Root pointer at word 0: struct, offset 0, 1 data word, 1 pointer.
  dv.setUint32(0, 0, true);
  dv.setUint32(4, 1 | (1 << 16), true);
  dv.setUint32(8, 7, true); // the root's data word
  // Root's pointer (word 2): struct at word 3 (offset 0), 1 data word, no pointers.
  dv.setUint32(16, 0, true);
  dv.setUint32(20, 1, true);
  dv.setUint32(24, v, true);
  return encodeFrame([seg, ...Array.from({ length: extraSegments }, () => new Uint8Array(8))]);
}

Deno.test("WireMessage: one reader reset across messages reads each as a fresh one does, after a bad one too", () => {
  const w = new WireMessage();
  for (const [v, extra] of [[11, 0], [22, 2], [33, 1]]) {
    const frame = message(v, extra);
    const fresh = new WireMessage(frame);
    w.reset(frame);
    assertEquals([w.words, w.views.length], [fresh.words, fresh.views.length]);
    const root = w.root()!;
    assertEquals(w.u32(root, 0), 7);
    assertEquals(w.u32(w.structAt(root, 0)!, 0), v);
    // A truncated table or segment is refused, and the reader stays usable.
    assertThrows(() => w.reset(frame.subarray(0, 6)), WireError);
    assertThrows(() => w.reset(frame.subarray(0, frame.length - 8)), WireError);
  }
  assertThrows(() => new WireMessage(new Uint8Array([0xff, 0xff, 0xff, 0xff])), WireError, "segment table");
});
