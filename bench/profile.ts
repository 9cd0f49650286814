/**
 * `deno run -A bench/profile.ts [N]`: profiles the exporter (Deno's --cpu-prof) while the peer fires N
 * UTXO callbacks and 10 clients scrape /metrics in a loop, then prints where its CPU time went.
 */
import { TestPeer } from "../tests/support/peer.ts";
import { ExporterProc } from "../tests/support/exporter.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

const n = Number(Deno.args[0] ?? 20000);
const dir = await Deno.makeTempDir({ prefix: "exporter-prof-" });
const peer = await TestPeer.start();
await peer.ok("set isInitialBlockDownload 0");
const exp = ExporterProc.start({ socketPath: peer.socketPath, denoFlags: ["--cpu-prof", `--cpu-prof-dir=${dir}`] });
await exp.waitLog(/subscribed to UTXO cache trace/);
const stop = { done: false };
const scrapers = Promise.all(Array.from({ length: 10 }, async () => {
  while (!stop.done) await (await fetch(exp.url())).text();
}));
console.log(await peer.ok(`repeat ${n} fire utxoAdd 5000000000 800000 1 0`, 600_000));
stop.done = true;
await scrapers;
await exp.stop();
await peer.stop();

const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"))!.name;
const prof = JSON.parse(await Deno.readTextFile(`${dir}/${file}`)) as {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
};
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const self = new Map<string, number>();
let total = 0;
prof.samples.forEach((id, i) => {
  const cf = byId.get(id)!.callFrame;
  const key = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").pop()}:${cf.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + prof.timeDeltas[i]);
  total += prof.timeDeltas[i];
});
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`);
}
await Deno.remove(dir, { recursive: true });
