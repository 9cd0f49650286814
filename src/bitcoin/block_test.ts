import { assertEquals } from "../../tests/support/assert.ts";
import { BlockCounter, countBlock, TXS_PER_STEP } from "./block.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

/**
 * A real regtest block (pr/trace node, height 111): a segwit coinbase and two P2WPKH spends with 3
 * and 4 outputs. The node's getblockstats of it: txs 3, ins 2, outs 9, total_size 537,
 * total_weight 1494.
 */
const REAL_BLOCK =
  "000000205de9c2fb2cbad6f9a46e68c8a69674ac03724b45fd8b68ed908aa999864dd63f6975b64401f6b7731a2b3a93f0d82825ca5118" +
  "63ff6704d0b9649bc4a8c021cdca2f146bffff7f2000000000030200000000010100000000000000000000000000000000000000000000" +
  "00000000000000000000ffffffff03016f00feffffff023167062a01000000160014fc7250a211deddc70ee5a2738de5f07817351cef00" +
  "00000000000000266a24aa21a9ed6cfb36e83baf404fcb49d230511c1c33472fe717afd18651982c27f0b109c064012000000000000000" +
  "000000000000000000000000000000000000000000000000006e000000020000000001016c9eb45f386275110ae25ae746e738cffa4078" +
  "99ef0da545730ca2540ce911e20000000000fdffffff04f868814a00000000160014e9b55f2aead906fe90c9c48eeaae3995c2f1c760f8" +
  "68814a000000001600142352da7280f1decc3acf1ba84eb945c9fc2b7b54f868814a000000001600149250b9912ee91d6b46e23299459e" +
  "cd6eb8154451f868814a00000000160014de2d91dc0a2580414e9a70f7dfc76af727b69cac0247304402205408bf9c834d536ac761d0c2" +
  "1c51dfa4851de2d8dab7007c4eb529a7cba3fe6302200d2096c2c3ff0b313b5796b02c0259cc138bc997f59c8e00d547ab1fe2624a0901" +
  "21034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa0000000002000000000101d70d0e7cb1025c1673a9" +
  "46fd12bfd896ae6dde03f310d7a361754c2ca07a4a4c0000000000fdffffff03a543576300000000160014e9b55f2aead906fe90c9c48e" +
  "eaae3995c2f1c760a5435763000000001600142352da7280f1decc3acf1ba84eb945c9fc2b7b54a5435763000000001600149250b9912e" +
  "e91d6b46e23299459ecd6eb8154451024730440220349a681802f2ec7c44fb074e3ddcf4151d9f14fb2b53c7a68c8ca313b7f03ed10220" +
  "5441cb725e0f37badcacb1e3d1a5eaeb30737843e9ce26781bc56a5787893d970121034f355bdcb7cc0af728ef3cceb9615d90684bb5b2" +
  "ca5f859ab0f0b704075871aa00000000";
const REAL_STATS = { txs: 3, ins: 2, outs: 9, totalSize: 537, totalWeight: 1494 };

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
