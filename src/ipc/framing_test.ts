import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../tests/support/assert.ts";
import { encodeFrame, FrameDecoder, FrameWriter, FramingError, type PatchedFrame, WriteStallError } from "./framing.ts";

function segment(words: number, fill: number): Uint8Array {
  return new Uint8Array(words * 8).fill(fill);
}

function collect(decoder: FrameDecoder, chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) decoder.push(c, (f) => out.push(f.slice()));
  return out;
}

Deno.test("a three-segment message survives every split point", () => {
  const frame = encodeFrame([segment(1, 1), segment(3, 2), segment(2, 3)]);
  for (let cut = 0; cut <= frame.length; cut++) {
    const frames = collect(new FrameDecoder(), [frame.subarray(0, cut), frame.subarray(cut)]);
    assertEquals(frames.length, 1, `cut at ${cut}`);
    assertEquals(frames[0], frame);
  }
});

Deno.test("byte-at-a-time delivery and many messages per chunk", () => {
  const a = encodeFrame([segment(2, 7)]);
  const b = encodeFrame([segment(1, 8), segment(1, 9)]);
  const both = new Uint8Array([...a, ...b, ...a]);
  const bytewise = collect(new FrameDecoder(), [...both].map((x) => new Uint8Array([x])));
  assertEquals(bytewise, [a, b, a]);
  const decoder = new FrameDecoder();
  assertEquals(collect(decoder, [both]), [a, b, a]);
  assertEquals(decoder.pending, 0);
});

Deno.test("frames are whole and correct while onFrame runs, across buffer reuse", () => {
  const decoder = new FrameDecoder();
  const a = encodeFrame([segment(4, 0xaa)]);
  const b = encodeFrame([segment(4, 0xbb)]);
  const got: Uint8Array[] = [];
  decoder.push(a.subarray(0, 10), (f) => got.push(f.slice()));
  decoder.push(new Uint8Array([...a.subarray(10), ...b.subarray(0, 5)]), (f) => got.push(f.slice()));
  decoder.push(b.subarray(5), (f) => got.push(f.slice()));
  assertEquals(got, [a, b]);
});

Deno.test("a large (8 MiB) message arriving in 64 KiB chunks", () => {
  const frame = encodeFrame([segment(1, 1), segment(1024 * 1024, 5)]);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < frame.length; i += 65536) chunks.push(frame.subarray(i, i + 65536));
  const frames = collect(new FrameDecoder(), chunks);
  assertEquals(frames.length, 1);
  assertEquals(frames[0].length, frame.length);
});

Deno.test("oversize and malformed tables are refused before buffering", () => {
  const limits = { maxMessageBytes: 1024, maxSegments: 4 };
  const tooMany = new Uint8Array(8);
  new DataView(tooMany.buffer).setUint32(0, 9, true);
  assertThrows(() => new FrameDecoder(limits).push(tooMany, () => {}), FramingError, "segments");
  const tooBig = new Uint8Array(8);
  new DataView(tooBig.buffer).setUint32(4, 1000, true);
  assertThrows(() => new FrameDecoder(limits).push(tooBig, () => {}), FramingError, "exceeds");
  // 2^32-1 segments: the count alone is refused, nothing is allocated for it.
  assertThrows(() => new FrameDecoder().push(new Uint8Array([255, 255, 255, 255]), () => {}), FramingError);
  const empty = new Uint8Array(8);
  assertThrows(() => new FrameDecoder().push(empty, () => {}), FramingError, "empty");
});

Deno.test("a truncated message stays pending and produces nothing", () => {
  const frame = encodeFrame([segment(3, 1)]);
  const decoder = new FrameDecoder();
  assertEquals(collect(decoder, [frame.subarray(0, frame.length - 1)]), []);
  assertEquals(decoder.pending, frame.length - 1);
});

Deno.test("random bytes never crash, hang or over-allocate the decoder", () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const limits = { maxMessageBytes: 1 << 20, maxSegments: 64 };
  for (let i = 0; i < 3000; i++) {
    const decoder = new FrameDecoder(limits);
    const bytes = new Uint8Array(Math.floor(rand() * 200)).map(() => Math.floor(rand() * 256));
    try {
      decoder.push(bytes, (f) => assert(f.length <= limits.maxMessageBytes));
    } catch (e) {
      assert(e instanceof FramingError, `unexpected ${e}`);
    }
    assert(decoder.pending <= bytes.length);
  }
});

Deno.test("FrameWriter coalesces queued frames and fails cleanly after a write error", async () => {
  const writes: number[] = [];
  let fail = false;
  const errors: Error[] = [];
  const w = new FrameWriter({
    write: async (p) => {
      await new Promise((r) => setTimeout(r, 1));
      if (fail) throw new Error("broken pipe");
      writes.push(p.length);
      return p.length;
    },
  }, (e) => errors.push(e));
  for (let i = 0; i < 5; i++) w.send(new Uint8Array(8));
  await w.flushed();
  assertEquals(writes.reduce((a, b) => a + b, 0), 40);
  assert(writes.length < 5, `expected coalescing, got ${writes.length} writes`);
  fail = true;
  w.send(new Uint8Array(8));
  await w.flushed();
  assertEquals(errors.length, 1);
  assertEquals(w.send(new Uint8Array(8)), false);
});

/** A writer whose peer reads nothing: every write stays pending until `release()`. */
function unreadPeer() {
  const pending: (() => void)[] = [];
  return {
    writer: {
      write: (p: Uint8Array) => new Promise<number>((resolve) => pending.push(() => resolve(p.length))),
    },
    release: () => pending.splice(0).forEach((r) => r()),
  };
}

Deno.test("FrameWriter: a peer that does not read fails the connection past the queue limit, memory freed", async () => {
  const peer = unreadPeer();
  const errors: Error[] = [];
  const w = new FrameWriter(peer.writer, (e) => errors.push(e), {
    maxMessageBytes: 1 << 20,
    maxSegments: 8,
    maxQueuedBytes: 64 * 1024,
    writeStallMs: 60_000,
  });
  let accepted = 0;
  for (let i = 0; i < 1000 && w.send(new Uint8Array(1024)); i++) accepted++;
  // The first write is in flight; the rest queue until more than 64 KiB wait.
  assertEquals(accepted, 64);
  assertEquals(errors.length, 1);
  assert(errors[0] instanceof WriteStallError);
  assert(errors[0].message.includes("not reading"), errors[0].message);
  assertEquals(w.pendingBytes, 1024, "the queue is dropped; only the write in flight remains");
  assertEquals(w.send(new Uint8Array(8)), false);
  await w.flushed(); // resolves at once: the connection failed
  peer.release();
});

Deno.test("FrameWriter: no write progress for writeStallMs while more waits fails the connection", async () => {
  const peer = unreadPeer();
  const errors: Error[] = [];
  const w = new FrameWriter(peer.writer, (e) => errors.push(e), {
    maxMessageBytes: 1 << 20,
    maxSegments: 8,
    writeStallMs: 50,
  });
  w.send(new Uint8Array(8)); // in flight, never read
  w.send(new Uint8Array(8)); // waits behind it: the watch is armed
  await w.flushed();
  assertEquals(errors.length, 1);
  assert(errors[0] instanceof WriteStallError);
  assertStringIncludes(errors[0].message, "has not read what we send for 0.05 s");
  peer.release();
});

Deno.test("FrameWriter: a slow reader that keeps making progress is not failed", async () => {
  const errors: Error[] = [];
  let written = 0;
  const w = new FrameWriter(
    {
      write: async (p) => {
        await new Promise((r) => setTimeout(r, 20));
        const n = Math.min(p.length, 16); // a few bytes at a time
        written += n;
        return n;
      },
    },
    (e) => errors.push(e),
    { maxMessageBytes: 1 << 20, maxSegments: 8, writeStallMs: 300 },
  );
  // 48 writes 20 ms apart: about 1 s in all, three stall windows, progress in every one.
  for (let i = 0; i < 12; i++) w.send(new Uint8Array(64));
  await w.flushed();
  assertEquals(errors, []);
  assertEquals(written, 768);
});

Deno.test("reserve/commit: reading straight into the buffer, any split, frames whole", () => {
  const a = encodeFrame([segment(3, 1)]);
  const big = encodeFrame([segment(1, 2), segment(40_000, 3)]);
  const stream = new Uint8Array([...a, ...big, ...a]);
  for (const step of [1, 7, 100, 4096, 65536, stream.length]) {
    const decoder = new FrameDecoder();
    const got: Uint8Array[] = [];
    for (let at = 0; at < stream.length;) {
      const space = decoder.reserve(16);
      const n = Math.min(step, space.length, stream.length - at);
      space.set(stream.subarray(at, at + n));
      at += n;
      decoder.commit(n, (f) => got.push(f.slice()));
    }
    assertEquals(got, [a, big, a], `step ${step}`);
  }
});

/** A frame of `n` bytes, the same but for a 32-bit little-endian field at `offset` (as rpc.ts's templates). */
function patched(n: number, offset: number): PatchedFrame & { with(v: number): Uint8Array } {
  const base = Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
  const writeInto = (dst: Uint8Array, at: number, v: number) => {
    dst.set(base, at);
    new DataView(dst.buffer, dst.byteOffset).setUint32(at + offset, v, true);
  };
  return {
    length: n,
    writeInto,
    with: (v) => {
      const out = new Uint8Array(n);
      writeInto(out, 0, v);
      return out;
    },
  };
}

Deno.test("FrameWriter: sendPatched, send and sendLater in any interleaving, partial and late writes: the bytes in order", async () => {
  let seed = 12345;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  for (let round = 0; round < 8; round++) {
    const out: number[] = [];
    const expected: number[] = [];
    const w = new FrameWriter({
      write: async (p) => {
        if (rand(16) === 0) await new Promise((r) => setTimeout(r, 0));
        else if (rand(2)) await null;
        const k = 1 + rand(p.length);
        out.push(...p.subarray(0, k)); // copied now: the writer may reuse its buffer once this resolves
        return k;
      },
    }, (e) => {
      throw e;
    });
    const t = patched(24 + rand(8), 4 + rand(8));
    for (let i = 0; i < 200; i++) {
      const what = rand(6);
      if (what < 3) {
        const v = rand(0xffffffff);
        w.sendPatched(t, v);
        expected.push(...t.with(v));
      } else if (what < 5) {
        const f = Uint8Array.from({ length: 1 + rand(40) }, () => rand(256));
        w.send(f);
        expected.push(...f);
      } else {
        const f = Uint8Array.from({ length: 1 + rand(10) }, () => rand(256));
        w.sendLater(f);
        expected.push(...f);
      }
      if (rand(32) === 0) await new Promise((r) => setTimeout(r, 0));
      else if (rand(4) === 0) await null;
    }
    await w.flushed();
    assertEquals(out, expected, `round ${round}`);
  }
});

Deno.test("FrameWriter: sendPatched writes each answer from a buffer of its own, reused once written", async () => {
  const buffers = new Set<ArrayBufferLike>();
  const w = new FrameWriter({
    write: (p) => {
      buffers.add(p.buffer);
      return Promise.resolve(p.length);
    },
  }, () => {});
  const t = patched(32, 8);
  for (let i = 0; i < 100; i++) {
    w.sendPatched(t, i);
    await w.flushed();
  }
  assertEquals(buffers.size, 1, "one buffer for a hundred answers, each written before the next");
});
