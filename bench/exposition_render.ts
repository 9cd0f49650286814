/**
 * Render time of the exposition: the families of a saved scrape (FILE, e.g. `curl -s
 * http://127.0.0.1:9332/metrics > scrape.txt`; histograms left out) registered in the
 * MetricsRegistry of this checkout (or of ROOT), rendered once (templates made) and then 5,000
 * times with changing values.
 *
 *   deno run -A bench/exposition_render.ts FILE [ROOT]
 */
const file = Deno.args[0];
const root = Deno.args[1] ?? new URL("../", import.meta.url).pathname;
const { MetricsRegistry } = await import(`${root}/src/registry.ts`);
type S = { labels?: Record<string, string>; value: number };
const fams: { name: string; help: string; type: string; samples: S[] }[] = [];
for (const line of (await Deno.readTextFile(file)).split("\n")) {
  let m;
  if ((m = /^# HELP (\S+) (.*)$/.exec(line))) fams.push({ name: m[1], help: m[2], type: "gauge", samples: [] });
  else if ((m = /^# TYPE (\S+) (\S+)$/.exec(line))) fams.at(-1)!.type = m[2];
  else if (line && !line.startsWith("#") && fams.at(-1)!.type !== "histogram") {
    const sp = line.lastIndexOf(" ");
    const key = line.slice(0, sp);
    const lm = /\{(.*)\}$/.exec(key);
    const labels: Record<string, string> = {};
    for (const kv of lm?.[1].match(/\w+="[^"]*"/g) ?? []) {
      const i = kv.indexOf("=");
      labels[kv.slice(0, i)] = kv.slice(i + 2, -1);
    }
    fams.at(-1)!.samples.push({ labels: lm ? labels : undefined, value: Number(line.slice(sp + 1)) });
  }
}
const r = new MetricsRegistry();
let tick = 0;
for (const f of fams.filter((f) => f.type !== "histogram")) {
  r.add({
    name: f.name,
    help: f.help,
    type: f.type,
    read: () => f.samples.map((s) => ({ ...s, value: s.value + tick })),
  });
}
let t = performance.now();
const first = await r.render();
const firstMs = performance.now() - t;
const n = 5000;
t = performance.now();
for (let i = 0; i < n; i++) {
  tick = i;
  await r.render();
}
console.log(
  `${root}: ${fams.length} families, ${first.length} B: first render ${firstMs.toFixed(2)} ms, then ${
    ((performance.now() - t) / n * 1000).toFixed(1)
  } µs a render`,
);
