/**
 * Measures the exporter (main.ts as a subprocess, connected to the C++ test peer playing a
 * multiprocess-branch node) under each hostile-client attack of tests/support/hostile.ts, and prints
 * one table row per attack:
 *
 *   attack · size/load · alive · RSS before→peak→after · /metrics during · log lines · node survived
 *
 * plus the exporter's CPU seconds during the attack. Not a test (numbers, no verdict):
 *
 *   deno run --allow-all tests/support/measure_hostile.ts [--root DIR] [attack...]
 *
 * `--root` runs another checkout's main.ts (e.g. the code before a fix) under the same attacks.
 */
import { parseArgs } from "node:util";
import { TestPeer } from "./peer.ts";
import { freePort, narrowFlags } from "./exporter.ts";
import { delay } from "../../src/util/async.ts";
import { dribbleHeads, idleKeepAliveHogs, paddedHead, pipelineMany, scrape, slowlorisHogs } from "./hostile.ts";

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
  run(port: number): Promise<string>;
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
  const exp = startExporter(peer.socketPath, attack.nofile);
  const pid = exp.child.pid;
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
    const detail = await attack.run(exp.port);
    ac.abort();
    await Promise.all([sampling, scraping]);
    const cpu = cpuSeconds(pid) - cpuBefore;
    const logLines = exp.lines.length - linesBefore;
    await delay(1000);
    const rssAfter = rssMiB(pid);
    const up = alive(pid) && await scrape(exp.port) === 200;
    const nodeUp = !peer.exited;
    const sample = exp.lines.slice(linesBefore, linesBefore + 2).map((l) => l.slice(0, 140));
    return `| ${name} | ${attack.load} | ${up ? "yes" : "NO"} | ${rssBefore.toFixed(0)}→${peak.toFixed(0)}→${
      rssAfter.toFixed(0)
    } MiB | ${ok}/${tried} | ${logLines} | ${nodeUp ? "yes" : "NO"} |  cpu ${cpu.toFixed(2)} s; during ${
      counts(during)
    }; ${detail}; first lines: ${JSON.stringify(sample)}`;
  } finally {
    try {
      exp.child.kill("SIGTERM");
    } catch { /* exited */ }
    await exp.child.status;
    await exp.done;
    await peer.stop();
  }
}

for (const name of positionals.length ? positionals : Object.keys(ATTACKS)) {
  console.log(await measure(name, ATTACKS[name]));
}
