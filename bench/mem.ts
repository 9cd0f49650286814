/**
 * Where the exporter's memory goes, and what V8's flags do to it.
 *
 *   deno run -A bench/mem.ts               the breakdown: RSS and V8 heap of a bare `deno run`, then
 *                                           with capnp-es, the generated schema modules,
 *                                           the exporter's whole module graph, the exporter connected,
 *                                           and after callbacks with a scrape a second; then a bare
 *                                           exporter (bench/bare_exporter.ts) under the same load
 *   deno run -A bench/mem.ts --flags [N]   each candidate V8 flag set: steady RSS, callback p50/p99 and
 *                                           CPU per callback over N UTXO callbacks (default 300,000)
 *                                           with a scrape a second
 *
 * Each step is a fresh process; RSS from /proc (VmRSS), the heap from Deno.memoryUsage() inside it.
 */
import { TestPeer } from "../tests/support/peer.ts";
import { ExporterProc, freePort } from "../tests/support/exporter.ts";

const root = new URL("../", import.meta.url).pathname;
const MiB = 1024 * 1024;
const f1 = (x: number) => x.toFixed(1);

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) / 1024;
/** "RSS (anonymous + file-backed)": the file-backed part is the deno binary's pages, shared and reclaimable. */
function rssParts(status: string): string {
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]) / 1024;
  return `${f1(kb("VmRSS"))} (${f1(kb("RssAnon"))} + ${f1(kb("RssFile"))})`;
}
const rssOf = (pid: number) => rssParts(Deno.readTextFileSync(`/proc/${pid}/status`));

/** The generated modules the exporter's src/ipc imports (each pulls in what it imports). */
const GEN = [
  "gen/mp/proxy.ts",
  "gen/init.ts",
  "gen/chain.ts",
  "gen/node.ts",
  "gen/tracing.ts",
  "gen/handler.ts",
  "gen/mining.ts",
  "gen/rpc.ts",
  "gen/common.ts",
  "gen/chain5/init.ts",
  "gen/chain5/chain.ts",
  "gen/v30/init.ts",
  "gen/v30/mining.ts",
  "gen/v31/init.ts",
  "gen/v31/mining.ts",
  "gen/v32/init.ts",
];

/** Runs a script importing `imports`, and reads its RSS and heap once it has settled. */
async function importStep(
  name: string,
  imports: string[],
  flags: string[] = [],
  env: Record<string, string> = {},
): Promise<string> {
  const dir = `${root}bench/.mem-tmp`;
  await Deno.mkdir(dir, { recursive: true });
  const file = `${dir}/step.ts`;
  const lines = imports.map((m) =>
    `import ${JSON.stringify(m.startsWith("gen/") || m.startsWith("src/") ? `../../${m}` : m)};`
  );
  await Deno.writeTextFile(
    file,
    `${lines.join("\n")}
await new Promise((r) => setTimeout(r, 1500));
const m = Deno.memoryUsage();
console.log(JSON.stringify({ ...m, status: Deno.readTextFileSync("/proc/self/status") }));
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", ...flags, file],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const m = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  return `| ${name} | ${rssParts(m.status)} | ${f1(m.heapUsed / MiB)} / ${f1(m.heapTotal / MiB)} | ${
    f1(m.external / MiB)
  } |`;
}

/** Runs `step` now and then a second after each run ends, until the returned function is called (which waits for the last run). */
function everySecond(step: () => Promise<void>): () => Promise<void> {
  let done = false;
  const loop = (async () => {
    while (!done) {
      await step();
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return () => {
    done = true;
    return loop;
  };
}

/** The bare exporter at the end of the run: its /proc status, and Deno.memoryUsage() as it reports it. */
interface BareReport {
  answered: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  status: string;
}

/**
 * Runs bench/bare_exporter.ts for `messages` round trips with a scrape a second (this process plays the node
 * and the scraper), then closes its socket.
 */
async function runBareExporter(
  messages: number,
  flags: string[],
  env: Record<string, string>,
): Promise<BareReport> {
  const dir = await Deno.makeTempDir({ prefix: "bare-exporter-" });
  const socketPath = `${dir}/node.sock`;
  const port = freePort();
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      ...flags,
      "--allow-net",
      `--allow-read=${socketPath}`,
      `--allow-write=${socketPath}`,
      new URL("bare_exporter.ts", import.meta.url).pathname,
      socketPath,
      String(port),
    ],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = child.output();
  const exitedFirst = output.then((o) =>
    Promise.reject(new Error(`the bare exporter exited (code ${o.code}) before it connected`))
  );
  exitedFirst.catch(() => {}); // read only by the race below; it rejects at every exit
  try {
    const conn = await Promise.race([listener.accept(), exitedFirst]);
    const stopScraping = everySecond(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      if (r.status !== 200) throw new Error(`bare exporter answered ${r.status}`);
      await r.arrayBuffer();
    });
    const frame = new Uint8Array(64);
    const answer = new Uint8Array(16);
    for (let i = 0; i < messages; i++) {
      for (let at = 0; at < frame.length;) at += await conn.write(frame.subarray(at));
      for (let got = 0; got < answer.length;) {
        const n = await conn.read(answer.subarray(got));
        if (n === null) throw new Error("the bare exporter closed the socket");
        got += n;
      }
    }
    await stopScraping();
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    conn.close();
    const out = new TextDecoder().decode((await output).stdout).trim();
    if (!out.startsWith("{")) throw new Error(`the bare exporter printed no report: ${out}`);
    const report: BareReport = { ...JSON.parse(out), status };
    if (report.answered !== messages) throw new Error(`the bare exporter answered ${report.answered} of ${messages}`);
    return report;
  } finally {
    try {
      child.kill();
    } catch {
      // already gone
    }
    await output;
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The bare exporter after `calls` round trips with a scrape a second: its row. */
async function bareExporterStep(calls: number, flags: string[], env: Record<string, string>): Promise<string> {
  const r = await runBareExporter(calls, flags, env);
  return `| a bare exporter (bench/bare_exporter.ts), ${calls} round trips, a scrape a second | ${
    rssParts(r.status)
  } | ${f1(r.heapUsed / MiB)} / ${f1(r.heapTotal / MiB)} | ${f1(r.external / MiB)} |`;
}

/** The exporter (the launcher's flags or `flags`), connected to the peer: RSS and heap idle, then under callbacks and scrapes. */
async function exporterSteps(
  peer: TestPeer,
  flags: string[],
  calls: number,
  env: Record<string, string>,
): Promise<string[]> {
  await peer.ok("set isInitialBlockDownload 0");
  const exp = ExporterProc.start({
    scrapeFloor: null,
    socketPath: peer.socketPath,
    denoFlags: [...flags, `--preload=${root}bench/heap_report.ts`],
    env,
  });
  const heap = () => {
    const l = exp.lines.filter((x) => x.startsWith("heapmon ")).pop() ?? "";
    const g = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(l)?.[1] ?? NaN) / MiB;
    return `${f1(g("heap_used"))} / ${f1(g("heap_total"))} | ${f1(g("external"))}`;
  };
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    await new Promise((r) => setTimeout(r, 1500));
    const rows = [`| exporter connected, idle | ${rssOf(exp.child.pid)} | ${heap()} |`];
    await exp.scrape();
    await new Promise((r) => setTimeout(r, 600));
    rows.push(`| + one scrape | ${rssOf(exp.child.pid)} | ${heap()} |`);
    const stopScraping = everySecond(async () => {
      await exp.scrape();
    });
    await peer.ok(`repeat ${calls} fire utxoAdd 5000000000 800000 1 0`, 600_000);
    await stopScraping();
    await new Promise((r) => setTimeout(r, 600));
    rows.push(`| + ${calls} UTXO callbacks, a scrape a second | ${rssOf(exp.child.pid)} | ${heap()} |`);
    return rows;
  } finally {
    await exp.stop();
    await peer.waitStatus((s) => s.connected === "0");
  }
}

/** Candidate V8 flag sets (and allocator settings) for the launcher. */
interface Candidate {
  flags: string[];
  env?: Record<string, string>;
}
const SEMI1_OLD64 = "--v8-flags=--max-semi-space-size=1,--max-old-space-size=64";
const CANDIDATES: Candidate[] = [
  { flags: [] },
  { flags: ["--v8-flags=--max-semi-space-size=1"] },
  { flags: ["--v8-flags=--max-semi-space-size=2"] },
  { flags: [SEMI1_OLD64] },
  { flags: ["--v8-flags=--max-semi-space-size=1,--single-threaded-gc"] },
  { flags: ["--v8-flags=--max-semi-space-size=1,--optimize-for-size"] },
  { flags: ["--v8-flags=--max-semi-space-size=1,--lite-mode"] },
  { flags: ["--v8-flags=--max-semi-space-size=1,--max-old-space-size=64,--single-threaded"] },
  { flags: [SEMI1_OLD64], env: { MALLOC_ARENA_MAX: "2" } },
  { flags: [SEMI1_OLD64], env: { MALLOC_ARENA_MAX: "1", MALLOC_TRIM_THRESHOLD_: "131072" } },
  { flags: ["--v8-flags=--max-semi-space-size=1"], env: { MALLOC_ARENA_MAX: "1" } },
  { flags: ["--v8-flags=--max-semi-space-size=1"], env: { MALLOC_ARENA_MAX: "2" } },
  { flags: ["--v8-flags=--max-semi-space-size=4"] },
];
/** MEM_CANDIDATES=0,1,10 runs only those (indexes into CANDIDATES). */
const only = Deno.env.get("MEM_CANDIDATES")?.split(",").map(Number);

/** Per flag set: RSS every second while `calls` UTXO callbacks arrive with a scrape a second; p50/p99; CPU. */
async function flagRow(peer: TestPeer, c: Candidate, calls: number): Promise<string> {
  await peer.ok("set isInitialBlockDownload 0");
  const exp = ExporterProc.start({ scrapeFloor: null, socketPath: peer.socketPath, denoFlags: c.flags, env: c.env });
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    const pid = exp.child.pid;
    const cpu = () => {
      const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const x = s.slice(s.lastIndexOf(")") + 2).split(" ");
      return (Number(x[11]) + Number(x[12])) / 100;
    };
    const idle = rssMiB(pid);
    const rss: number[] = [];
    const stopScraping = everySecond(async () => {
      await exp.scrape();
      rss.push(rssMiB(pid));
    });
    const c0 = cpu();
    const r = await peer.ok(`repeat ${calls} fire utxoAdd 5000000000 800000 1 0`, 600_000);
    const c1 = cpu();
    await stopScraping();
    const steady = rss.slice(Math.floor(rss.length / 2));
    const env = Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v} `).join("");
    return `| \`${env}${c.flags.join(" ") || "(none)"}\` | ${f1(idle)} | ${f1(Math.min(...steady))}–${
      f1(Math.max(...steady))
    } | ${rssOf(pid)} | ${r.p50_us} / ${r.p99_us} | ${f1((c1 - c0) / calls * 1e6)} |`;
  } finally {
    await exp.stop();
    await peer.waitStatus((s) => s.connected === "0");
  }
}

/** The breakdown's table rows (Markdown): each module layer alone, then the exporter idle, scraped, under callbacks. */
export async function memoryBreakdown(
  peer: TestPeer,
  flags: string[],
  calls: number,
  env: Record<string, string> = {},
): Promise<string[]> {
  const v8 = flags.filter((a) => a.startsWith("--v8-flags"));
  return [
    "| step | RSS MiB (anonymous + file) | V8 heap used / total MiB | external MiB |",
    "|---|---|---|---|",
    await importStep("bare `deno run` (an empty script)", [], v8, env),
    await importStep("+ capnp-es", ["capnp-es"], v8, env),
    await importStep("+ capnp-es + every generated schema module", ["capnp-es", ...GEN], v8, env),
    await importStep("the exporter's module graph (src/app.ts, not started)", ["src/app.ts"], v8, env),
    ...await exporterSteps(peer, flags, calls, env),
    await bareExporterStep(calls, v8, env),
  ];
}

if (import.meta.main) {
  const peer = await TestPeer.start();
  try {
    if (Deno.args.includes("--flags")) {
      const calls = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 300_000);
      console.log(
        `| flags | RSS idle MiB | RSS steady MiB (second half) | RSS end MiB (anonymous + file) | callback p50 / p99 µs | CPU µs/callback |`,
      );
      console.log(`|---|---|---|---|---|---|`);
      // In the order given (repeats allowed, to alternate candidates on a machine whose load drifts).
      for (const i of only ?? CANDIDATES.keys()) console.log(await flagRow(peer, CANDIDATES[i], calls));
    } else {
      const flags = Deno.args.filter((a) => a.startsWith("--v8-flags"));
      console.log(`flags: ${flags.join(" ") || "(none)"}`);
      for (const row of await memoryBreakdown(peer, flags, 200_000)) console.log(row);
    }
  } finally {
    await peer.stop();
  }
}
