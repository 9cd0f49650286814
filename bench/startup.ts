/**
 * Startup time and resident memory of the exporter, as an operator would see them: `main.ts` (of
 * this checkout, or of the tree given as the first argument, e.g. an older release unpacked with
 * `git archive`) spawned with its narrow permissions, no node at the socket; startup is spawn to the
 * first answered `/metrics`, RSS is `VmRSS` 1.5 s later. Prints medians over N runs (default 7).
 *
 *   deno run -A bench/startup.ts [ROOT] [RUNS]
 */
const root = Deno.args[0] ?? new URL("../", import.meta.url).pathname;
const runs = Number(Deno.args[1] ?? 7);
const dir = await Deno.makeTempDir();
const rss: number[] = [], ms: number[] = [];
for (let i = 0; i < runs; i++) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const sock = `${dir}/none-${i}.sock`;
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--cached-only",
      `--allow-read=${sock}`,
      `--allow-write=${sock}`,
      `--allow-net=unix:${sock},127.0.0.1:${port}`,
      `${root}/main.ts`,
      "--metrics-addr",
      `127.0.0.1:${port}`,
      sock,
    ],
    cwd: root,
    stdout: "null",
    stderr: "null",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  for (let tries = 0;; tries++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      await r.body?.cancel();
      break;
    } catch (e) {
      if (tries > 10_000) throw e;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  ms.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 1500));
  const st = await Deno.readTextFile(`/proc/${child.pid}/status`);
  rss.push(Number(/VmRSS:\s+(\d+)/.exec(st)![1]) / 1024);
  child.kill("SIGTERM");
  await child.status;
}
await Deno.remove(dir, { recursive: true });
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(
  `${root}: startup median ${med(ms).toFixed(0)} ms (${ms.map((x) => x.toFixed(0)).join(", ")}); ` +
    `RSS median ${med(rss).toFixed(1)} MiB (${rss.map((x) => x.toFixed(1)).join(", ")})`,
);
