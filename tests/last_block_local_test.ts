/**
 * last_block on the flavours whose blockConnected carries the serialized block (issue 21): the
 * block's transactions, size, weight, inputs and outputs are counted from what the node pushed, and
 * getblockstats is asked only for what needs the undo data. The peer answers getblockstats with its
 * recorded answer whatever the filter (txs 9, outs 10, ins 8, total_size 1528, total_weight 3496,
 * utxo_increase 2), so values that differ from it can only come from the pushed block.
 */
import { assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { scrapeUntil, waitFor } from "./support/wait.ts";
import { fixtureLine } from "./support/exposition.ts";
import { BLOCK_COPY_INTERVAL_MS } from "../src/collectors/chain.ts";
import { REAL_BLOCK } from "./support/blocks.ts";

const H = (n: number) => ("a" + n.toString(16)).padStart(64, "0");

async function calls(peer: TestPeer, key: string): Promise<number> {
  const st = await peer.status();
  const kv = st.calls.split(",").find((c) => c.slice(0, c.lastIndexOf(":")) === key);
  return kv ? Number(kv.slice(kv.lastIndexOf(":") + 1)) : 0;
}

function chainInfo(blocks: number, bestblockhash: string): string {
  const c = JSON.parse(fixtureLine("rpc/getblockchaininfo.json"));
  return JSON.stringify({ ...c, blocks, headers: blocks, initialblockdownload: false, bestblockhash });
}

for (const flavour of ["pr-trace", "branch-notrace", "chain5-node", "chain5", "pr-ipc"]) {
  Deno.test(`${flavour}: last_block counts the pushed block itself; getblockstats only for fees, subsidy and UTXO sizes; no getbestblockhash`, async () => {
    // pr-trace is the peer's default flavour.
    const peer = await TestPeer.start(flavour === "pr-trace" ? {} : { flavour });
    await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
    await peer.ok(`rpc getblockchaininfo ${chainInfo(105, H(105))}`);
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      await exp.waitLog(/subscribed to chain notifications/);
      await waitFor("the read at connect", async () => await calls(peer, "rpc.getchaintxstats") >= 1 || undefined);
      // Outside IBD (read at connect), so the block is kept.
      await waitFor("the IBD read", async () => await calls(peer, "rpc.getblockchaininfo") >= 1 || undefined);
      const best0 = await calls(peer, "rpc.getbestblockhash");
      const stats0 = await calls(peer, "rpc.getblockstats");
      await peer.ok(`set tip 106 ${H(106)} ${H(105)}`);
      await peer.ok(`fire blockConnected 106 ${H(106)} 0 hex:${REAL_BLOCK}`);
      await peer.ok("fire updatedBlockTip");
      await waitFor("the settled read", async () => await calls(peer, "rpc.getchaintxstats") >= 2 || undefined);
      const s = samples(
        await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_last_block_transactions") !== "9", "the read"),
      );
      // From the pushed block (the node's getblockstats of it says the same).
      assertEquals(s.get("bitcoin_last_block_transactions"), "3");
      assertEquals(s.get("bitcoin_last_block_inputs"), "2");
      assertEquals(s.get("bitcoin_last_block_outputs"), "9");
      assertEquals(s.get("bitcoin_last_block_size_bytes"), "537");
      assertEquals(s.get("bitcoin_last_block_weight"), "1494");
      assertEquals(s.get("bitcoin_last_block_utxo_increase"), "7");
      // From getblockstats (the recorded answer): what needs the undo data.
      assertEquals(s.get("bitcoin_last_block_fees_satoshis"), "1881000");
      assertEquals(s.get("bitcoin_last_block_utxo_increase_spendable"), "1");
      assertEquals(s.get("bitcoin_last_block_subsidy_satoshis"), "5000000000");
      assertEquals(s.get(`bitcoind_ipc_exporter_collector_success{collector="last_block"}`), "1");
      assertEquals(await calls(peer, "rpc.getblockstats") - stats0, 1);
      // The tip's hash came with blockConnected.
      assertEquals(await calls(peer, "rpc.getbestblockhash"), best0);

      // A block that does not parse (a header and no transactions): everything from getblockstats.
      // (Past the one block copied per BLOCK_COPY_INTERVAL_MS, so this one is copied and parsed.)
      await new Promise((r) => setTimeout(r, BLOCK_COPY_INTERVAL_MS));
      await peer.ok(`set tip 107 ${H(107)} ${H(106)}`);
      await peer.ok(`fire blockConnected 107 ${H(107)} 0 hex:${REAL_BLOCK.slice(0, 160)}00`);
      await peer.ok("fire updatedBlockTip");
      const t = samples(
        await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_last_block_transactions") === "9", "the read"),
      );
      assertEquals(t.get("bitcoin_last_block_size_bytes"), "1528");
      assertEquals(t.get("bitcoin_last_block_utxo_increase"), "2");
    } finally {
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
      assertEquals(await peer.stop(), 0);
    }
  });
}
