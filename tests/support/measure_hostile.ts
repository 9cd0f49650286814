/**
 * Measures the exporter (main.ts as a subprocess, connected to the C++ test peer playing a
 * multiprocess-branch node, with both subscriptions live) under each attack of
 * tests/support/hostile.ts — hostile HTTP clients, and a hostile node: frames no node sends (sent
 * by the peer's `garbage`) or a node that floods and never reads (in place of the peer) — and
 * prints one table row per attack:
 *
 *   attack · size/load · alive · RSS before→peak→after · /metrics during · log lines · node survived
 *
 * plus the exporter's CPU seconds during the attack and whether SIGTERM then stops it (exit 0
 * within 10 s). Not a test (numbers, no verdict):
 *
 *   deno run --allow-all tests/support/measure_hostile.ts [--root DIR] [attack...]
 *
 * `--root` runs another checkout's main.ts (e.g. the code before a fix) under the same attacks.
 */
import { parseArgs } from "node:util";
import { TestPeer } from "./peer.ts";
import { freePort, narrowFlags } from "./exporter.ts";
import { delay } from "../../src/util/async.ts";
import {
  dribbleHeads,
  floodingNode,
  hex,
  idleKeepAliveHogs,
  OBSOLETE_SAVE,
  paddedHead,
  pipelineMany,
  pointerTree,
  scrape,
  sharedBlob,
  slowlorisHogs,
} from "./hostile.ts";

const here = new URL("../../", import.meta.url).pathname;
const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { root: { type: "string" } },
  allowPositionals: true,
});
const root = values.root ?? here;

interface Proc {
  child: Deno.ChildProcess;
  port: number;
  lines: string[];
  done: Promise<void>;
}

function startExporter(socketPath: string, nofile?: number): Proc {
  const port = freePort();
  const listen = `127.0.0.1:${port}`;
  const deno = [
    "run",
    "--no-prompt",
    "--cached-only",
    ...narrowFlags(socketPath, listen),
    `${root}/main.ts`,
    "--metrics-addr",
    listen,
    socketPath,
  ];
  // A lowered descriptor limit (for the EMFILE attack) through the shell's ulimit; exec keeps the pid.
  const [cmd, args] = nofile
    ? ["bash", ["-c", `ulimit -n ${nofile} && exec "$0" "$@"`, Deno.execPath(), ...deno]]
    : [Deno.execPath(), deno];
  const child = new Deno.Command(cmd as string, {
    args: args as string[],
    cwd: root,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const done = (async () => {
    let buf = "";
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
      buf += c;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
    }
  })();
  return { child, port, lines, done };
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function cpuSeconds(pid: number): number {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return NaN;
  }
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

interface Attack {
  load: string;
  nofile?: number;
  /** "flood": the exporter connects to a node that floods Bootstrap and never reads, not to the peer. */
  node?: "flood";
  run(port: number, peer: TestPeer): Promise<string>;
}

/** The node (the peer) sends `frame`, then the attack is watched for `watchMs`. */
function fromNode(load: string, frame: () => Uint8Array, watchMs = 10_000): Attack {
  return {
    load,
    async run(_port, peer) {
      const f = frame();
      const t0 = performance.now();
      // The reply may be an error when the node ends the connection before its write settled.
      const reply = await peer.cmd(`garbage ${hex(f)}`, 60_000);
      const ms = performance.now() - t0;
      await delay(watchMs);
      return `${f.length} bytes sent in ${ms.toFixed(0)} ms (peer: ${reply.slice(0, 60)})`;
    },
  };
}

const bad = (method: string, target = "/metrics", host = "127.0.0.1") =>
  `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const counts = (m: Map<number, number>) => [...m].sort().map(([s, n]) => `${s}×${n}`).join(" ");

const ATTACKS: Record<string, Attack> = {
  "bad-method": {
    load: "20,000 CONNECT/TRACE/TRACK pipelined",
    async run(port) {
      const a = await pipelineMany(port, bad("CONNECT", "127.0.0.1:80", "127.0.0.1:80"), 6667);
      const b = await pipelineMany(port, bad("TRACE"), 6667);
      const c = await pipelineMany(port, bad("TRACK"), 6666);
      return `CONNECT ${counts(a.statuses)}; TRACE ${counts(b.statuses)}; TRACK ${counts(c.statuses)}; ${
        a.connections + b.connections + c.connections
      } connections`;
    },
  },
  "bad-host": {
    load: "20,000 Host `[` / `a:99999` pipelined",
    async run(port) {
      const a = await pipelineMany(port, bad("GET", "/metrics", "["), 10_000);
      const b = await pipelineMany(port, bad("GET", "/metrics", "a:99999"), 10_000);
      return `[ ${counts(a.statuses)}; a:99999 ${counts(b.statuses)}; ${a.connections + b.connections} connections`;
    },
  },
  "emfile": {
    load: "ulimit -n 64, 200 connections held 8 s",
    nofile: 64,
    async run(port) {
      const held: Deno.TcpConn[] = [];
      for (let i = 0; i < 200; i++) {
        try {
          held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        } catch { /* backlog full */ }
      }
      await delay(8000);
      for (const c of held) c.close();
      return `${held.length} connected`;
    },
  },
  "idle-keepalive": {
    load: "64 idle keep-alive conns (reopened when closed), 60 scrapes 100 ms apart",
    async run(port) {
      const hogs = await idleKeepAliveHogs(port, 64);
      const served = await countScrapes(port, 60, 100);
      await hogs.stop();
      return `scrapes ${counts(served)}; hogs opened ${hogs.opened}`;
    },
  },
  "slowloris": {
    load: "64 slowloris conns (a header line per s, reopened when closed), 60 scrapes 100 ms apart",
    async run(port) {
      const hogs = await slowlorisHogs(port, 64, 1000);
      const served = await countScrapes(port, 60, 100);
      await hogs.stop();
      return `scrapes ${counts(served)}; hogs opened ${hogs.opened}`;
    },
  },
  "dribble": dribble(8),
  "dribble1": dribble(1),
  "ipc-tree": fromNode(
    "obsoleteSave: doubling pointer tree, depth 20 (360 B), watched 10 s",
    () => pointerTree(OBSOLETE_SAVE, 20),
  ),
  "ipc-tree-call": fromNode("call: doubling pointer tree, depth 20 (360 B), watched 10 s", () => pointerTree(2, 20)),
  "ipc-blob": fromNode(
    "obsoleteSave: 600 pointers to one blob in a 1 MiB frame, watched 10 s",
    () => sharedBlob(OBSOLETE_SAVE, 600, (1 << 20) - 64),
  ),
  "ipc-flood": {
    load: "a node flooding Bootstrap, never reading, 15 s",
    node: "flood",
    async run() {
      await delay(15_000);
      return "";
    },
  },
};

function dribble(chunk: number): Attack {
  return {
    load: `60 conns × 8 KB heads, ${chunk} byte${chunk > 1 ? "s" : ""} per write, 1 ms apart`,
    async run(port) {
      const statuses = await dribbleHeads(port, 60, paddedHead(8192), chunk, 1);
      const m = new Map<number, number>();
      for (const s of statuses) m.set(s, (m.get(s) ?? 0) + 1);
      return `responses ${counts(m)}`;
    },
  };
}

async function countScrapes(port: number, n: number, gapMs: number): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const s = await scrape(port);
    m.set(s, (m.get(s) ?? 0) + 1);
    await delay(gapMs);
  }
  return m;
}

async function measure(name: string, attack: Attack): Promise<string> {
  const peer = await TestPeer.start();
  if (!attack.node) await peer.ok("set isInitialBlockDownload 0"); // both subscriptions live
  const flood = attack.node === "flood" ? floodingNode(`${peer.dir}/flood.sock`) : undefined;
  const exp = startExporter(flood?.path ?? peer.socketPath, attack.nofile);
  const pid = exp.child.pid;
  let stopped = "?";
  try {
    // Connected and serving before the attack starts.
    for (let i = 0; i < 100 && await scrape(exp.port) !== 200; i++) await delay(100);
    await delay(500);
    const rssBefore = rssMiB(pid);
    const cpuBefore = cpuSeconds(pid);
    const linesBefore = exp.lines.length;
    let peak = rssBefore;
    const ac = new AbortController();
    const sampling = (async () => {
      while (!ac.signal.aborted) {
        peak = Math.max(peak, rssMiB(pid) || 0);
        await delay(50, ac.signal);
      }
    })();
    // /metrics during the attack: a scrape every 250 ms.
    let ok = 0, tried = 0;
    const during = new Map<number, number>();
    const scraping = (async () => {
      while (!ac.signal.aborted) {
        tried++;
        const st = await scrape(exp.port);
        during.set(st, (during.get(st) ?? 0) + 1);
        if (st === 200) ok++;
        await delay(250, ac.signal);
      }
    })();
    if (!flood) {
      for (let i = 0; i < 100 && !exp.lines.some((l) => l.includes("subscribed to UTXO cache trace")); i++) {
        await delay(100);
      }
    }
    const detail = (await attack.run(exp.port, peer)) +
      (flood ? `${flood.accepted} connections, ${flood.closed.length} closed by the exporter` : "");
    ac.abort();
    await Promise.all([sampling, scraping]);
    const cpu = cpuSeconds(pid) - cpuBefore;
    const logLines = exp.lines.length - linesBefore;
    await delay(1000);
    const rssAfter = rssMiB(pid);
    const up = alive(pid) && await scrape(exp.port) === 200;
    const nodeUp = !peer.exited && !peer.notices.some((n) => n.startsWith("crash"));
    const sample = exp.lines.slice(linesBefore, linesBefore + 2).map((l) => l.slice(24, 200));
    // SIGTERM now: handled (exit 0) within 10 s, or killed.
    const t0 = performance.now();
    try {
      exp.child.kill("SIGTERM");
    } catch { /* exited */ }
    const kill = setTimeout(() => {
      try {
        exp.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 10_000);
    const st = await exp.child.status;
    clearTimeout(kill);
    stopped = `SIGTERM → exit ${st.code} in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    return `| ${name} | ${attack.load} | ${up ? "yes" : "NO"} | ${rssBefore.toFixed(0)}→${peak.toFixed(0)}→${
      rssAfter.toFixed(0)
    } MiB | ${ok}/${tried} | ${logLines} | ${flood ? "n/a" : nodeUp ? "yes" : "NO"} |  ${stopped}; cpu ${
      cpu.toFixed(2)
    } s; during ${counts(during)}; ${detail}; first lines: ${JSON.stringify(sample)}`;
  } finally {
    try {
      exp.child.kill("SIGTERM");
    } catch { /* exited */ }
    await exp.child.status;
    await exp.done;
    await flood?.stop();
    await peer.stop();
  }
}

for (const name of positionals.length ? positionals : Object.keys(ATTACKS)) {
  console.log(await measure(name, ATTACKS[name]));
}
