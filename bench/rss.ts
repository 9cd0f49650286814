/**
 * `deno run -A bench/rss.ts [extra deno flags]`: the exporter's RSS every 50,000 UTXO callbacks, to
 * tell a leak (growing without end) from heap sizing (a step while V8 warms up, then flat).
 */
import { TestPeer } from "../tests/support/peer.ts";
import { ExporterProc } from "../tests/support/exporter.ts";

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) / 1024;
const peer = await TestPeer.start();
await peer.ok("set isInitialBlockDownload 0");
const exp = ExporterProc.start({ scrapeFloor: null, socketPath: peer.socketPath, denoFlags: Deno.args });
await exp.waitLog(/subscribed to UTXO cache trace/);
const samples = [rssMiB(exp.child.pid).toFixed(1)];
const rounds = Number(Deno.env.get("RSS_ROUNDS") ?? "6");
for (let i = 0; i < rounds; i++) {
  await peer.ok("repeat 50000 fire utxoAdd 5000000000 800000 1 0", 600_000);
  samples.push(rssMiB(exp.child.pid).toFixed(1));
}
console.log(`RSS MiB every 50k callbacks: ${samples.join(" ")}`);
await exp.stop();
await peer.stop();
