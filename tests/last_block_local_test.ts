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

const H = (n: number) => ("a" + n.toString(16)).padStart(64, "0");

/** A real regtest block (pr/trace node): its getblockstats says txs 3, ins 2, outs 9, total_size 537, total_weight 1494. */
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
