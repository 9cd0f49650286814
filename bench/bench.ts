/**
 * `deno task bench`: the cost we impose on the node, measured against the C++ limit.
 *
 * The C++ test peer plays the node and fires callbacks back to back, each only after the previous
 * answer (exactly like bitcoin-node), recording every round-trip. Each workload runs twice in the same
 * run: against the real exporter (main.ts as a subprocess, narrow permissions, the launcher's V8
 * flags) and against the limit, a minimal C++ client (the peer's --client mode) that answers the same
 * calls and does nothing else.
 *
 *   deno task bench            full run (10^6 UTXO callbacks per workload, 3·10^6 for steady RSS; 17–21 minutes on 2 cores)
 *   deno task bench --quick    reduced (about 5 minutes), same output shape
 *   deno task bench --smoke    tiny, for CI: proves the harness runs (asserts no ratio)
 *
 * Output: the table, the block-mix, scraping, stall, start and memory lines, a JSON document
 * (bench/results.json for a full run, results-quick.json / results-smoke.json otherwise; render it
 * with `deno run -A bench/render.ts`), and the summary lines the goals are judged by
 * (`worst callback p50 ratio: X` ...). A full run also rewrites BENCHMARKS.md's generated section.
 */
import { TestPeer } from "../tests/support/peer.ts";
import { ExporterProc } from "../tests/support/exporter.ts";
import { PEER_BIN } from "../tests/support/peer.ts";
import { Session } from "../src/ipc/session.ts";
import { getHeight } from "../src/ipc/branch.ts";
import { scrapeRoundBench } from "./scrape_round.ts";
import { blockScript, MAINNET_BLOCK, recordedRegtestBlock, scaled } from "./block_mix.ts";
import { heapUsedMiB, markCompacts } from "./heap.ts";
import { memoryBreakdown } from "./mem.ts";
import { renderMarkdown, summaryLines, updateBenchmarksMd } from "./render.ts";
import {
  type BenchResults,
  type BlockMix,
  type CallbackRow,
  pct,
  type ScrapeRow,
  type Stall,
  type Start,
  type Stats,
  statsOf,
} from "./results.ts";

const root = new URL("../", import.meta.url).pathname;
const mode = Deno.args.includes("--smoke") ? "smoke" : Deno.args.includes("--quick") ? "quick" : "full";
const scale = { full: 1, quick: 0.2, smoke: 0.002 }[mode];
const n = (full: number, min = 50) => Math.max(min, Math.round(full * scale));

/** The V8 flags and environment the launcher (nix/wrapper.sh) runs the exporter with, read from its dry run. */
async function launcherSettings(): Promise<{ flags: string[]; env: Record<string, string> }> {
  const out = await new Deno.Command("sh", {
    args: [`${root}nix/wrapper.sh`, "/tmp/bench-dry-run.sock"],
    env: {
      BITCOIND_IPC_EXPORTER_DRY_RUN: "1",
      BITCOIND_IPC_EXPORTER_DENO: "deno",
      BITCOIND_IPC_EXPORTER_MAIN: "main.ts",
    },
    stdout: "piped",
  }).output();
  // "NAME=value ... deno run FLAGS main.ts SOCKET"
  const words = new TextDecoder().decode(out.stdout).trim().split(" ");
  const deno = words.indexOf("deno");
  const env = Object.fromEntries(words.slice(0, deno).map((w) => w.split("=", 2) as [string, string]));
  return { flags: words.slice(deno).filter((t) => t.startsWith("--v8-flags")), env };
}

/**
 * Deno flags and environment for the exporter under test: the launcher's, unless
 * BENCH_EXPORTER_DENO_FLAGS (flags) or BENCH_EXPORTER_ENV ("NAME=value ...") says otherwise.
 */
const launcher = await launcherSettings();
const override = Deno.env.get("BENCH_EXPORTER_DENO_FLAGS");
const EXPORTER_DENO_FLAGS = override !== undefined ? override.split(" ").filter((f) => f) : launcher.flags;
const envOverride = Deno.env.get("BENCH_EXPORTER_ENV");
const EXPORTER_ENV: Record<string, string> = envOverride !== undefined
  ? Object.fromEntries(envOverride.split(" ").filter((w) => w).map((w) => w.split("=", 2) as [string, string]))
  : launcher.env;
const LOOP_MONITOR = [`--preload=${root}bench/loop_monitor.ts`];

const HASH = "44".repeat(32);
const tx = (bytes: number) => "02000000" + "00".repeat(Math.max(0, bytes - 4));

function parseStats(f: Record<string, string>, prefix = ""): Stats {
  const num = (k: string) => Number(f[prefix + k]);
  return {
    n: num("n"),
    mean_us: num("mean_us"),
    p50_us: num("p50_us"),
    p99_us: num("p99_us"),
    p999_us: num("p999_us"),
    max_us: num("max_us"),
    calls_per_s: num("calls_per_s"),
  };
}

/** CPU seconds (utime + stime) and RSS of a process, from /proc. */
function procStat(pid: number): { cpuS: number; rssMiB: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return { cpuS: ticks / 100, rssMiB: rssKb / 1024 };
}

/** Runs `fn` while a C++ client that answers every callback doing nothing (the limit) is subscribed. */
async function withLimitClient<T>(peer: TestPeer, fn: (pid: number) => Promise<T>): Promise<T> {
  const child = new Deno.Command(PEER_BIN, {
    args: ["--client", peer.socketPath, "--subscribe-utxo"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("! subscribed")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("limit client exited before subscribing");
    buf += value;
  }
  await peer.waitStatus((s) => s.notifications === "1" && s.utxo === "1");
  try {
    return await fn(child.pid);
  } finally {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("quit\n")).catch(() => {});
    await w.close().catch(() => {});
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await peer.waitStatus((s) => s.connected === "0");
  }
}

/** What `deno task install` lays out (the bundle and its Deno cache), in a temporary prefix. */
interface Installed {
  entry: string;
  denoDir: string;
}

async function installBundle(prefix: string): Promise<Installed> {
  const out = await new Deno.Command("sh", {
    args: [`${root}tools/install.sh`, prefix],
    cwd: root,
    env: { DENO: Deno.execPath() },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno task install: ${new TextDecoder().decode(out.stderr)}`);
  const lib = `${prefix}/lib/bitcoind-ipc-exporter`;
  return { entry: `${lib}/main.js`, denoDir: `${lib}/deno-dir` };
}

async function withExporter<T>(
  peer: TestPeer,
  fn: (exp: ExporterProc) => Promise<T>,
  extraFlags: string[] = [],
  installed?: Installed,
): Promise<T> {
  await peer.ok("set isInitialBlockDownload 0");
  const exp = ExporterProc.start({
    scrapeFloor: null,
    socketPath: peer.socketPath,
    // The installed bundle as its launcher runs it: no deno.json of this checkout's, its own Deno cache.
    denoFlags: [...EXPORTER_DENO_FLAGS, ...extraFlags, ...(installed ? ["--no-config"] : [])],
    env: installed ? { ...EXPORTER_ENV, DENO_DIR: installed.denoDir } : EXPORTER_ENV,
    entry: installed?.entry,
  });
  let result: T;
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    // Warm-up, unmeasured: an exporter that has run for a while has its callback path compiled (the
    // C++ client's is compiled ahead of time); a fresh one would pay V8's tiering in the first rows.
    for (const w of WARM_UP) await peer.ok(w, 600_000);
    result = await fn(exp);
  } finally {
    const code = await exp.stop("SIGTERM");
    if (code !== 0) console.error(`exporter exited ${code}:\n${exp.lines.slice(-20).join("\n")}`);
    await peer.waitStatus((s) => s.connected === "0");
  }
  return result;
}

/** Times `peer`'s command and the CPU the process `pid` spent meanwhile. */
async function measured(peer: TestPeer, pid: number, command: string) {
  const before = procStat(pid);
  const stats = parseStats(await peer.ok(command, 3_600_000));
  const after = procStat(pid);
  return { stats, before, after, cpuS: after.cpuS - before.cpuS };
}

async function scrapeOnce(exp: ExporterProc, times: number[], onBody?: (body: string) => void): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(exp.url());
  const body = await r.text();
  times.push(performance.now() - t0);
  onBody?.(body);
  return body.length;
}

/** `clients` scrapers, each looping as fast as it gets answers. */
async function loopScrapers(exp: ExporterProc, clients: number, stop: { done: boolean }): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(Array.from({ length: clients }, async () => {
    while (!stop.done) await scrapeOnce(exp, times);
  }));
  return times.sort((a, b) => a - b);
}

/** `clients` scrapers, each scraping once per `periodMs` (as Prometheus does), their phases spread evenly. */
async function periodicScrapers(
  exp: ExporterProc,
  clients: number,
  periodMs: number,
  stop: { done: boolean },
  onBody?: (body: string) => void,
): Promise<number[]> {
  const times: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    for (let k = 0; !stop.done; k++) {
      const at = t0 + (i / clients) * periodMs + k * periodMs;
      const wait = at - performance.now();
      if (wait > 0) await sleepUnless(wait, stop);
      if (stop.done) break;
      await scrapeOnce(exp, times, onBody);
    }
  }));
  return times.sort((a, b) => a - b);
}

/** Sleeps `ms`, waking early (within 50 ms) once `stop.done`. */
async function sleepUnless(ms: number, stop: { done: boolean }): Promise<void> {
  const end = performance.now() + ms;
  while (!stop.done && performance.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(50, end - performance.now())));
  }
}

const CALLBACK_WORKLOADS: { name: string; command: string; calls: number }[] = [
  { name: "utxo add", command: "fire utxoAdd 5000000000 800000 1 0", calls: n(1_000_000) },
  { name: "utxo spend", command: "fire utxoSpend 5000000000 800000 1 0", calls: n(1_000_000) },
  { name: "tx added 250 B", command: `fire txAdded ${tx(250)}`, calls: n(100_000) },
  // The two heavy rows run 20,000 callbacks (~2 s a run for 2 MB blocks): with 2,000, a run's p99 was
  // its 7th slowest call, and the row's p99 ratio swung 0.29–2.50 between full runs of one tree.
  { name: "tx added 100 kB", command: `fire txAdded ${tx(100_000)}`, calls: n(20_000, 20) },
  { name: "block connected", command: `fire blockConnected 800000 ${HASH} 0`, calls: n(100_000) },
  { name: "block connected 2 MB data", command: `fire blockConnected 800000 ${HASH} 0 2000000`, calls: n(20_000, 20) },
];
const UTXO_ADD = CALLBACK_WORKLOADS[0].command;
const WARM_UP = [
  `repeat ${mode === "smoke" ? 200 : 5000} ${UTXO_ADD}`,
  `repeat ${mode === "smoke" ? 20 : 500} fire utxoSpend 5000000000 800000 1 0`,
  `repeat ${mode === "smoke" ? 20 : 500} fire txAdded ${tx(250)}`,
  `repeat ${mode === "smoke" ? 20 : 500} fire blockConnected 800000 ${HASH} 0`,
];

/** The median of `xs` (the upper one of an even count). */
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/**
 * Each callback workload, ours against the C++ client, in `pairs` alternating runs (C++ client then
 * ours, ours then C++ client, ...) that split the calls between them: a machine whose load drifts
 * during a row biases neither side, which for the rows of a few thousand heavy callbacks (p99 is
 * then their 50th slowest) decided the p99 ratio more than the exporter did. Ratios are the medians
 * of the pairs'; CPU is summed over every run.
 */
async function callbackRows(peer: TestPeer, pairs: number): Promise<CallbackRow[]> {
  const rows: CallbackRow[] = [];
  for (const w of CALLBACK_WORKLOADS) {
    const perRun = Math.max(20, Math.round(w.calls / pairs));
    const cmd = `repeat ${perRun} ${w.command}`;
    // Each side first answers some of the row's own callbacks, unmeasured: WARM_UP compiles the common
    // path, but a large transaction or block takes the decoder's multi-read path, which a fresh
    // exporter would otherwise compile during the row (its p99 is the row's 50th slowest call).
    const warm = `repeat ${Math.max(10, Math.min(500, Math.round(perRun / 5)))} ${w.command}`;
    const runs: { limit: Awaited<ReturnType<typeof measured>>; ours: Awaited<ReturnType<typeof measured>> }[] = [];
    for (let i = 0; i < pairs; i++) {
      const cxx = () =>
        withLimitClient(peer, async (pid) => {
          await peer.ok(warm, 600_000);
          return await measured(peer, pid, cmd);
        });
      const exporter = () =>
        withExporter(peer, async (exp) => {
          await peer.ok(warm, 600_000);
          return await measured(peer, exp.child.pid, cmd);
        });
      if (i % 2 === 0) {
        const limit = await cxx();
        runs.push({ limit, ours: await exporter() });
      } else {
        const ours = await exporter();
        runs.push({ ours, limit: await cxx() });
      }
    }
    const ratios = runs.map((r) => ({
      p50_ratio: r.ours.stats.p50_us / r.limit.stats.p50_us,
      p99_ratio: r.ours.stats.p99_us / r.limit.stats.p99_us,
    }));
    const p50 = median(ratios.map((r) => r.p50_ratio));
    const mid = runs[ratios.findIndex((r) => r.p50_ratio === p50)];
    const calls = runs.reduce((n, r) => n + r.ours.stats.n, 0);
    const oursCpu = runs.reduce((t, r) => t + r.ours.cpuS, 0);
    const limitCpu = runs.reduce((t, r) => t + r.limit.cpuS, 0);
    rows.push({
      workload: w.name,
      ours: mid.ours.stats,
      limit: mid.limit.stats,
      p50_ratio: p50,
      p99_ratio: median(ratios.map((r) => r.p99_ratio)),
      pairs: ratios,
      ours_cpu_us_per_call: oursCpu / calls * 1e6,
      limit_cpu_us_per_call: limitCpu / calls * 1e6,
      cpu_ratio: oursCpu / Math.max(limitCpu, 0.01),
      rss_before_mib: runs[0].ours.before.rssMiB,
      rss_after_mib: runs[runs.length - 1].ours.after.rssMiB,
    });
  }
  return rows;
}

/** The C++ client's `calls` Chain.getHeight calls in a loop: its round trips. */
async function cxxTrivialCalls(peer: TestPeer, calls: number): Promise<Stats> {
  const out = await new Deno.Command(PEER_BIN, {
    args: ["--client", peer.socketPath, "--bench-calls", String(calls)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith("ok"));
  if (!line) throw new Error("C++ bench client printed no result");
  await peer.waitStatus((s) => s.connected === "0");
  return parseStats(Object.fromEntries(line.split(" ").slice(1).map((kv) => kv.split("="))));
}

/** Our session's `calls` Chain.getHeight calls in a loop (after `warmUp` unmeasured ones): its round trips. */
async function ourTrivialCalls(peer: TestPeer, calls: number, warmUp: number): Promise<Stats> {
  const s = await Session.open(peer.socketPath);
  for (let i = 0; i < warmUp; i++) await getHeight(s);
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const a = performance.now();
    await getHeight(s);
    times.push((performance.now() - a) * 1000);
  }
  const stats = statsOf(times, performance.now() - t0);
  await s.shutdown();
  await peer.waitStatus((x) => x.connected === "0");
  return stats;
}

/**
 * The trivial client → node call (Chain.getHeight), C++ client vs our session, as scrapes make them.
 * As the block mix does, the calls are split into `pairs` alternating runs (C++ then ours, ours then
 * C++, ...), so that load that drifts during the run biases neither side, and the ratios are the
 * medians of the pairs'. Our session is warmed up first (a long-running exporter's scrape reads are
 * compiled; the C++ client's are ahead of time). The row's times are those of the median pair.
 */
async function trivialCall(peer: TestPeer, calls: number, pairs: number): Promise<CallbackRow> {
  const per = Math.max(50, Math.round(calls / pairs));
  const runs: { ours: Stats; limit: Stats }[] = [];
  for (let i = 0; i < pairs; i++) {
    const warmUp = i === 0 ? Math.min(per, 2_000) : 0;
    if (i % 2 === 0) {
      const limit = await cxxTrivialCalls(peer, per);
      runs.push({ limit, ours: await ourTrivialCalls(peer, per, warmUp) });
    } else {
      const ours = await ourTrivialCalls(peer, per, warmUp);
      runs.push({ ours, limit: await cxxTrivialCalls(peer, per) });
    }
  }
  const ratios = runs.map((r) => ({
    p50_ratio: r.ours.p50_us / r.limit.p50_us,
    p99_ratio: r.ours.p99_us / r.limit.p99_us,
  }));
  const p50 = median(ratios.map((r) => r.p50_ratio));
  const mid = runs[ratios.findIndex((r) => r.p50_ratio === p50)];
  return {
    workload: "trivial call (client → node)",
    ours: mid.ours,
    limit: mid.limit,
    p50_ratio: p50,
    p99_ratio: median(ratios.map((r) => r.p99_ratio)),
    pairs: ratios,
  };
}

/**
 * One block's callbacks, replayed: per-block round-trip time, ours vs the C++ client. The rounds are
 * split into `pairs` alternating runs (C++ then ours, ours then C++, ...) so that a machine whose load
 * drifts during the run biases neither side; the ratio is the median of the pairs' ratios.
 */
async function blockMix(
  peer: TestPeer,
  name: string,
  script: string[],
  rounds: number,
  pairs: number,
): Promise<BlockMix> {
  const file = await Deno.makeTempFile({ prefix: "block-mix-", suffix: ".txt" });
  await Deno.writeTextFile(file, script.join("\n") + "\n");
  const per = Math.max(1, Math.round(rounds / pairs));
  try {
    const run = async (pid: number) => {
      // One unmeasured round first, on both sides: a long-running exporter has its hot path compiled.
      await peer.ok(`script 1 ${file}`, 3_600_000);
      const before = procStat(pid);
      const f = await peer.ok(`script ${per} ${file}`, 3_600_000);
      return { f, cpuS: procStat(pid).cpuS - before.cpuS };
    };
    const runs: { ours: Awaited<ReturnType<typeof run>>; limit: Awaited<ReturnType<typeof run>> }[] = [];
    for (let i = 0; i < pairs; i++) {
      const limitFirst = i % 2 === 0;
      const a = limitFirst ? await withLimitClient(peer, run) : await withExporter(peer, (exp) => run(exp.child.pid));
      const b = limitFirst ? await withExporter(peer, (exp) => run(exp.child.pid)) : await withLimitClient(peer, run);
      runs.push(limitFirst ? { limit: a, ours: b } : { ours: a, limit: b });
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const ratios = runs.map((r) => Number(r.ours.f.p50_us) / Number(r.limit.f.p50_us));
    const mid = runs[ratios.indexOf(median([...ratios]))];
    const callbacks = Number(mid.ours.f.callbacks);
    const cpu = (k: "ours" | "limit") => runs.reduce((t, r) => t + r[k].cpuS, 0) / (callbacks * per * pairs) * 1e6;
    return {
      workload: name,
      callbacks,
      rounds: per * pairs,
      pairs,
      pair_ratios: ratios,
      ours_block_us: parseStats(mid.ours.f),
      limit_block_us: parseStats(mid.limit.f),
      ours_callback: parseStats(mid.ours.f, "cb_"),
      limit_callback: parseStats(mid.limit.f, "cb_"),
      ratio: median([...ratios]),
      wall_ratio: median(runs.map((r) => Number(r.ours.f.wall_p50_us) / Number(r.limit.f.wall_p50_us))),
      ours_cpu_us_per_call: cpu("ours"),
      limit_cpu_us_per_call: cpu("limit"),
    };
  } finally {
    await Deno.remove(file);
  }
}

/**
 * UTXO callbacks while the exporter is scraped: `scrapers` clients at one scrape per second each,
 * or looping (`loop`). The callback p99 is compared with the C++ client's without scrapers.
 */
async function scrapeRow(
  peer: TestPeer,
  name: string,
  calls: number,
  scrapers: number,
  loop: boolean,
  limit: Stats,
  installed?: Installed,
): Promise<ScrapeRow> {
  return await withExporter(
    peer,
    async (exp) => {
      const pid = exp.child.pid;
      const rss: number[] = [procStat(pid).rssMiB];
      const sampler = setInterval(() => rss.push(procStat(pid).rssMiB), 1000);
      // The HTTP path warmed up as the callback path is (WARM_UP): a long-running exporter's render and
      // parser are compiled; the stretches counted are the run's, after these.
      for (let i = 0; i < 10; i++) await exp.scrape();
      const busyBefore = await exp.scrape();
      const stop = { done: false };
      const heap: number[] = [];
      const sampleHeap = (body: string) => {
        const used = heapUsedMiB(body);
        if (used !== undefined) heap.push(used);
      };
      const scrapes = loop
        ? loopScrapers(exp, scrapers, stop)
        : periodicScrapers(exp, scrapers, 1000, stop, scrapers === 1 ? sampleHeap : undefined);
      const m = await measured(peer, pid, `repeat ${calls} ${UTXO_ADD}`);
      stop.done = true;
      clearInterval(sampler);
      rss.push(m.after.rssMiB);
      const times = await scrapes;
      const http_busy = httpBusy(await exp.scrape(), busyBefore);
      // Steady: after the warm-up (the first half of the run), the highest RSS seen.
      const steady = rss.slice(Math.floor(rss.length / 2));
      return {
        workload: name,
        scrapers,
        loop,
        ours: m.stats,
        limit,
        p50_ratio: m.stats.p50_us / limit.p50_us,
        p99_ratio: m.stats.p99_us / limit.p99_us,
        ours_cpu_us_per_call: m.cpuS / calls * 1e6,
        scrapes: times.length,
        scrape_p50_ms: pct(times, 0.5),
        scrape_p99_ms: pct(times, 0.99),
        rss_before_mib: rss[0],
        rss_after_mib: m.after.rssMiB,
        rss_steady_max_mib: Math.max(...steady),
        rss_steady_min_mib: Math.min(...steady),
        rss_samples_mib: rss.map((x) => Math.round(x * 10) / 10),
        ...(heap.length ? { mark_compacts: markCompacts(heap) } : {}),
        ...(installed ? { entry: "bundle" as const } : {}),
        http_busy,
      };
    },
    [],
    installed,
  );
}

/** The exporter's HTTP stretches (bitcoind_ipc_exporter_http_busy_seconds) from an exposition. */
export function httpBusy(text: string, before?: string): NonNullable<ScrapeRow["http_busy"]> {
  const byStage: Record<string, number> = {};
  let stretches = 0, over = 0;
  const buckets = bucketsOf(text);
  // Counts since `before` (an earlier exposition of the same exporter): the stretches in between.
  const base = before === undefined ? new Map<string, [number, number][]>() : bucketsOf(before);
  for (const [stage, b] of buckets) {
    const b0 = base.get(stage);
    if (b0) buckets.set(stage, b.map(([le, c], i) => [le, c - b0[i][1]]));
  }
  for (const [stage, b] of buckets) {
    const total = b[b.length - 1][1];
    stretches += total;
    over += total - (b.find(([le]) => le === 0.001)?.[1] ?? 0);
    // Cumulative counts: the first bound that holds them all is the longest stretch's bucket.
    byStage[stage] = total === 0 ? 0 : b.find(([, c]) => c === total)![0] * 1000;
  }
  return { max_le_ms: Math.max(0, ...Object.values(byStage)), stretches, over_1ms: over, by_stage_max_le_ms: byStage };
}

/** Each stage's cumulative buckets [le, count], in the exposition's order (ascending le, +Inf last). */
function bucketsOf(text: string): Map<string, [number, number][]> {
  const buckets = new Map<string, [number, number][]>();
  const re = /^bitcoind_ipc_exporter_http_busy_seconds_bucket\{stage="(\w+)",le="([^"]+)"\} (\d+)$/gm;
  for (const m of text.matchAll(re)) {
    const le = m[2] === "+Inf" ? Infinity : Number(m[2]);
    buckets.set(m[1], [...buckets.get(m[1]) ?? [], [le, Number(m[3])]]);
  }
  return buckets;
}

/** Longest event-loop stall during a scrape (bench/loop_monitor.ts in the exporter), against an idle baseline. */
async function stall(peer: TestPeer): Promise<Stall> {
  return await withExporter(peer, async (exp) => {
    const windows = () => exp.lines.filter((l) => l.startsWith("loopmon ")).length;
    const maxLate = (from: number) =>
      Math.max(
        0,
        ...exp.lines.filter((l) => l.startsWith("loopmon ")).slice(from).map((l) =>
          Number(/max_late_ms=([\d.]+)/.exec(l)![1])
        ),
      );
    // Warm-up: the first scrapes compile the rendering path and fill the templates.
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) bytes = await scrapeOnce(exp, times);
    await new Promise((r) => setTimeout(r, 600));
    const idleFrom = windows();
    await new Promise((r) => setTimeout(r, mode === "smoke" ? 600 : 2000));
    const idle = maxLate(idleFrom);
    const scrapeFrom = windows();
    times.length = 0;
    const count = mode === "smoke" ? 5 : 40;
    for (let i = 0; i < count; i++) {
      bytes = await scrapeOnce(exp, times);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    times.sort((a, b) => a - b);
    return {
      exposition_bytes: bytes,
      scrapes: count,
      idle_max_late_ms: idle,
      scrape_max_late_ms: maxLate(scrapeFrom),
      scrape_p50_ms: pct(times, 0.5),
      scrape_max_ms: times[times.length - 1],
    };
  }, LOOP_MONITOR);
}

/** Process spawn → the first scrape showing `bitcoin_up 1`, against the peer: median of `runs`. */
async function startToUp(peer: TestPeer, runs: number): Promise<Start> {
  const ms: number[] = [];
  await peer.ok("set isInitialBlockDownload 0");
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const exp = ExporterProc.start({
      scrapeFloor: null,
      socketPath: peer.socketPath,
      denoFlags: EXPORTER_DENO_FLAGS,
      env: EXPORTER_ENV,
    });
    try {
      for (;;) {
        if (performance.now() - t0 > 30_000) throw new Error(`no bitcoin_up 1 within 30 s:\n${exp.lines.join("\n")}`);
        // A new connection per poll, as a Prometheus starting to scrape opens one: polling every 2 ms
        // on one kept-alive connection would be paced by the exporter after its burst of 10
        // (5 requests/s per connection, src/http/server.ts) and measure the pacing, not the start.
        const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        try {
          const body = await (await fetch(exp.url(), { client })).text();
          if (/^bitcoin_up 1$/m.test(body)) break;
        } catch {
          /* not listening yet */
        } finally {
          client.close();
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      ms.push(performance.now() - t0);
    } finally {
      await exp.stop("SIGTERM");
      await peer.waitStatus((s) => s.connected === "0");
    }
  }
  ms.sort((a, b) => a - b);
  return { runs, median_ms: ms[Math.floor(ms.length / 2)], min_ms: ms[0], max_ms: ms[ms.length - 1] };
}

/**
 * UTXO callbacks with scrapers (scrapeRow), main.ts and once the bundle as `deno task install` lays it out
 * (installed into a temporary prefix, removed after).
 */
async function scrapingRows(peer: TestPeer, limitAdd: Stats): Promise<ScrapeRow[]> {
  const prefix = await Deno.makeTempDir({ prefix: "bench-install-" });
  try {
    const installed = await installBundle(prefix);
    return [
      // Steady RSS: 3·10⁶ callbacks (~3 min). V8's first mark-compact under this load comes after
      // ~1.1·10⁶ (~1 min), and the old space it then keeps is 5–8 MiB larger; the second half of the
      // run (the samples "steady" reads) is past it. The rows say how many mark-compacts they saw.
      await scrapeRow(peer, "utxo add + 1 scraper at 1/s", n(3_000_000, 2000), 1, false, limitAdd),
      await scrapeRow(
        peer,
        "utxo add + 1 scraper at 1/s, the bundle as installed",
        n(3_000_000, 2000),
        1,
        false,
        limitAdd,
        installed,
      ),
      await scrapeRow(peer, "utxo add + 5 scrapers at 1/s", n(400_000, 2000), 5, false, limitAdd),
      await scrapeRow(peer, "utxo add + 10 scrapers looping", n(200_000), 10, true, limitAdd),
      await scrapeRow(peer, "utxo add + 50 scrapers looping", n(200_000), 50, true, limitAdd),
    ];
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
}

async function main() {
  const started = performance.now();
  const peer = await TestPeer.start();
  let results: BenchResults;
  try {
    const trivial = await trivialCall(peer, n(20_000), mode === "smoke" ? 1 : 5);
    const callbacks = await callbackRows(peer, mode === "smoke" ? 1 : 3);
    const limitAdd = callbacks[0].limit;
    const blocks = [
      await blockMix(
        peer,
        "mainnet-sized block",
        blockScript(mode === "smoke" ? scaled(MAINNET_BLOCK, 0.01) : MAINNET_BLOCK),
        mode === "full" ? 10 : mode === "quick" ? 3 : 1,
        mode === "full" ? 5 : mode === "quick" ? 3 : 1,
      ),
      await blockMix(
        peer,
        "recorded regtest block 108",
        recordedRegtestBlock(),
        n(10_000, 20),
        mode === "smoke" ? 1 : 3,
      ),
    ];
    const scraping = await scrapingRows(peer, limitAdd);
    const stallResult = await stall(peer);
    const start = await startToUp(peer, mode === "full" ? 7 : 3);
    // Where the memory goes (bench/mem.ts), with the exporter's flags; not in the CI smoke run.
    const memory = mode === "smoke" ? [] : await memoryBreakdown(peer, EXPORTER_DENO_FLAGS, n(1_000_000), EXPORTER_ENV);
    // Other workloads add one line each here (e.g. the scrape-round cost per flavour) and their
    // results to `extra`.
    const extra: Record<string, unknown> = {};
    results = {
      mode,
      date: new Date().toISOString(),
      commit: await gitHead(),
      cores: navigator.hardwareConcurrency,
      load_avg: Deno.loadavg(),
      exporter_deno_flags: EXPORTER_DENO_FLAGS,
      exporter_env: EXPORTER_ENV,
      seconds: 0,
      trivial,
      callbacks,
      block_mix: blocks,
      scraping,
      stall: stallResult,
      start,
      memory,
      extra,
    };
  } finally {
    await peer.stop();
  }
  results.seconds = (performance.now() - started) / 1000;
  console.log(renderMarkdown(results));
  const path = new URL(`./results${mode === "full" ? "" : "-" + mode}.json`, import.meta.url);
  await Deno.writeTextFile(path, JSON.stringify(results, null, 2) + "\n");
  console.log(`json: ${path.pathname}`);
  if (mode === "full") {
    await updateBenchmarksMd(`${root}BENCHMARKS.md`, results);
    console.log(`BENCHMARKS.md: generated section updated`);
  }
  // The scrape-round cost per flavour against a big node (issue 12), printed by itself.
  await scrapeRoundBench(mode);
  for (const line of summaryLines(results)) console.log(line);
}

async function gitHead(): Promise<string> {
  const out = await new Deno.Command("git", { args: ["log", "-1", "--format=%h %s"], cwd: root, stdout: "piped" })
    .output().catch(() => undefined);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : "unknown";
}

await main();
