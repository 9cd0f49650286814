/**
 * The bench's block mix (bench/block_mix.ts) through the peer's `script` command: a block's callbacks
 * in the node's order reach the exporter in full and in order, as its counters and the UTXO events
 * per block show.
 */
import { assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { blockScript, MAINNET_BLOCK, recordedRegtestBlock, scaled } from "../bench/block_mix.ts";

Deno.test("block mix: the mainnet-sized script has the block's coins, conflicts, blockConnected with its data, then the tip", () => {
  const s = blockScript(MAINNET_BLOCK);
  const count = (p: string) => s.filter((l) => l.startsWith(p + " ")).length;
  assertEquals(count("utxoSpend"), MAINNET_BLOCK.spends);
  assertEquals(count("utxoAdd"), MAINNET_BLOCK.adds);
  assertEquals(count("txRemoved"), MAINNET_BLOCK.conflicts);
  assertEquals(s[0].endsWith(" 1"), true, "the coinbase's coin comes first");
  assertEquals(s.at(-2)!.startsWith("blockConnected 800000 "), true);
  assertEquals(s.at(-2)!.endsWith(` 0 ${MAINNET_BLOCK.blockBytes}`), true);
  assertEquals(s.at(-1), "updatedBlockTip");
  const small = blockScript(scaled(MAINNET_BLOCK, 0.01));
  assertEquals(small.filter((l) => l.startsWith("utxoAdd ")).length, 90);
});

Deno.test("block mix: `script` replays the recorded block's callbacks in order, every round, and reports per round", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  const file = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    await exp.waitLog(/connected to/);
    await Deno.writeTextFile(file, ["# regtest block 108", ...recordedRegtestBlock(), ""].join("\n"));
    const r = await peer.ok(`script 3 ${file}`, 60_000);
    assertEquals([r.n, r.callbacks, r.cb_n], ["3", "7", "21"]);
    const s = samples(await exp.scrape());
    assertEquals(s.get("bitcoin_utxo_cache_add_total"), "9");
    assertEquals(s.get("bitcoin_utxo_cache_spend_total"), "6");
    assertEquals(s.get("bitcoin_utxo_cache_add_value_total"), String(3 * (5001100000 + 4999000000 + 4999900000)));
    assertEquals(s.get("bitcoin_blocks_connected_total"), "3");
    assertEquals(s.get("bitcoin_block_height"), "108");
    assertEquals(s.get("bitcoin_tip_updates_total"), "3");
    // In order: each blockConnected closes the span of exactly its own block's five coins.
    const h = "bitcoind_ipc_exporter_utxo_trace_events_per_block";
    assertEquals([s.get(`${h}_count`), s.get(`${h}_sum`), s.get(`${h}_bucket{le="0"}`)], ["3", "15", "0"]);
    assertEquals((await peer.cmd(`script 1 ${file}.missing`)).startsWith("err cannot read script"), true);
  } finally {
    await Deno.remove(file);
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});
