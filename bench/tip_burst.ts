/**
 * 300 blocks back to back through the C++ peer, as a node mining them in one go
 * (`generatetoaddress`): what per-tip reads the exporter sends the node during the burst and
 * within 3 s after it. On a branch (`--flavour branch`, the default) each block is
 * blockConnected (631 bytes of data, the recorded regtest block's size) then updatedBlockTip,
 * each sent once the previous is answered; on v32 (`--flavour v32`) each block is a new tip
 * (`set tips`) 5 ms after the previous, as the long-poll sees a node mining. The peer answers JSON-RPC
 * at once, so this counts the reads a real node would serve while connecting blocks (each
 * getblockstats reads a block and its undo data from disk), not their cost to it.
 *
 *   deno run --allow-all bench/tip_burst.ts [--flavour branch|v32] [--root DIR]
 *
 * `--root` runs another checkout's exporter (e.g. the commit before a change) against this peer.
 */
import { TestPeer } from "../tests/support/peer.ts";

const arg = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const flavour = arg("--flavour") ?? "branch";
const root = arg("--root") ?? new URL("..", import.meta.url).pathname;
const { ExporterProc } = await import(`${root}/tests/support/exporter.ts`);
const BLOCKS = 300;
const H = (n: number) => ("c" + n.toString(16)).padStart(64, "0");
const KEYS = [
  "rpc.getblockstats",
  "rpc.getchaintxstats",
  "rpc.getbestblockhash",
  "rpc.getblockchaininfo",
  "rpc.getblockheader",
];

async function counts(peer: TestPeer): Promise<Record<string, number>> {
  const st = await peer.status();
  return Object.fromEntries(
    st.calls.split(",").map((kv) => [kv.slice(0, kv.lastIndexOf(":")), Number(kv.slice(kv.lastIndexOf(":") + 1))]),
  );
}

const peer = await TestPeer.start(flavour === "branch" ? {} : { flavour: "master" });
if (flavour !== "branch") await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
const exp = ExporterProc.start({ scrapeFloor: null, socketPath: peer.socketPath });
try {
  await exp.waitLog(flavour === "branch" ? /subscribed to chain notifications/ : /watching the chain tip/);
  await new Promise((r) => setTimeout(r, 1500)); // the reads at connect
  const c0 = await counts(peer);
  const t0 = performance.now();
  let rttUs = 0;
  for (let h = 106; h < 106 + BLOCKS; h++) {
    if (flavour === "branch") {
      rttUs += Number((await peer.ok(`fire blockConnected ${h} ${H(h)} 0 631`)).rtt_us);
      rttUs += Number((await peer.ok("fire updatedBlockTip")).rtt_us);
    } else {
      await peer.ok(`set tips ${h} ${H(h)}:${H(h - 1)}:${1795483001 + h}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const wallMs = performance.now() - t0;
  const during = await counts(peer);
  await new Promise((r) => setTimeout(r, 3000));
  const after = await counts(peer);
  const d = (c: Record<string, number>) => Object.fromEntries(KEYS.map((k) => [k, (c[k] ?? 0) - (c0[k] ?? 0)]));
  console.log(JSON.stringify({
    root,
    flavour,
    blocks: BLOCKS,
    wall_ms: Math.round(wallMs),
    ...(flavour === "branch" ? { callback_rtt_sum_ms: Math.round(rttUs / 1000) } : {}),
    reads_during: d(during),
    reads_within_3s_after: d(after),
  }));
} finally {
  await exp.stop("SIGTERM");
  await peer.stop();
}
