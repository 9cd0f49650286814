import { assertEquals } from "../../tests/support/assert.ts";
import { BlockCounter, countBlock, TXS_PER_STEP } from "./block.ts";
import { REAL_BLOCK, REAL_STATS } from "../../tests/support/blocks.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

/** The genesis coinbase (legacy: no witness), as a transaction of known size. */
const GENESIS_TX = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d" +
  "0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e6420" +
  "6261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e039" +
  "09a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";
const HEADER = "00".repeat(80);
const compact = (n: number) =>
  n < 0xfd
    ? n.toString(16).padStart(2, "0")
    : "fd" + (n & 0xff).toString(16).padStart(2, "0") + (n >> 8).toString(16).padStart(2, "0");

Deno.test("a real block's counts are the node's getblockstats txs, ins, outs, total_size and total_weight", () => {
  assertEquals(new BlockCounter(hex(REAL_BLOCK)).step(Infinity), REAL_STATS);
});

Deno.test("legacy transactions weigh 4 x their size; the coinbase counts in txs and outs only", () => {
  // Coinbase + two copies of a 204-byte legacy transaction (1 input, 1 output each).
  const block = hex(HEADER + "03" + GENESIS_TX + GENESIS_TX + GENESIS_TX);
  assertEquals(new BlockCounter(block).step(Infinity), { txs: 3, ins: 2, outs: 3, totalSize: 408, totalWeight: 1632 });
});

Deno.test("a big block is parsed a bounded number of transactions per step", async () => {
  const n = 2 * TXS_PER_STEP + 1;
  const block = hex(HEADER + compact(n) + GENESIS_TX.repeat(n));
  const counter = new BlockCounter(block);
  assertEquals(counter.step(TXS_PER_STEP), false);
  assertEquals(counter.step(TXS_PER_STEP), false);
  assertEquals(counter.step(TXS_PER_STEP), {
    txs: n,
    ins: n - 1,
    outs: n,
    totalSize: 204 * (n - 1),
    totalWeight: 816 * (n - 1),
  });
  assertEquals((await countBlock(block))?.txs, n);
});

Deno.test("bytes that are not a block give undefined, never a throw or a loop", async () => {
  const real = hex(REAL_BLOCK);
  for (
    const bad of [
      new Uint8Array(0),
      real.subarray(0, 80), // header only
      real.subarray(0, real.length - 1), // truncated
      Uint8Array.from([...real, 0]), // a byte after the last transaction
      hex(HEADER + "00"), // no coinbase
      hex(HEADER + "ffffffffffffffffff"), // a count of 2^64-1
      hex(HEADER + "02" + GENESIS_TX), // fewer transactions than counted
    ]
  ) {
    assertEquals(new BlockCounter(bad).step(Infinity), undefined);
    assertEquals(await countBlock(bad), undefined);
  }
  // Every truncation of the real block fails cleanly.
  for (let i = 0; i < real.length; i++) assertEquals(new BlockCounter(real.subarray(0, i)).step(Infinity), undefined);
});
