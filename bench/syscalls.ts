/**
 * `deno run -A bench/syscalls.ts [N] [event]`: the system calls per callback, ours vs the C++ client
 * (strace -c on each process while the peer fires N callbacks): what the round trip costs beyond
 * the bytes, e.g. epoll and extra reads per frame. Needs strace; ptrace-attaching slows both.
 * With --perf: user and system CPU, context switches and page faults per callback instead (perf stat).
 */
import { PEER_BIN, TestPeer } from "../tests/support/peer.ts";
import { ExporterProc } from "../tests/support/exporter.ts";

const pos = Deno.args.filter((a) => !a.startsWith("--"));
const calls = Number(pos[0] ?? 20000);
const event = pos[1] ?? "fire utxoAdd 5000000000 800000 1 0";
const flags = (Deno.env.get("BENCH_EXPORTER_DENO_FLAGS") ?? "").split(" ").filter((f) => f);

const perf = Deno.args.includes("--perf");

/** User and system CPU (from /proc), context switches and page faults per callback (perf stat, software events). */
function ticks(pid: number): [number, number] {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [Number(f[11]) * 10_000, Number(f[12]) * 10_000]; // µs
}

async function traced(pid: number, run: () => Promise<unknown>): Promise<string> {
  if (perf) {
    const st = new Deno.Command("perf", {
      args: ["stat", "-e", "task-clock,context-switches,cpu-migrations,page-faults", "-p", String(pid)],
      stderr: "piped",
      stdout: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 500));
    const [u0, s0] = ticks(pid);
    await run();
    const [u1, s1] = ticks(pid);
    st.kill("SIGINT");
    const out = new TextDecoder().decode((await st.output()).stderr);
    const lines = out.split("\n").filter((l) => /^\s*[\d,.]+\s+(msec )?[a-z-]+/.test(l)).map((l) => {
      const c = l.trim().split(/\s+/);
      const v = Number(c[0].replace(/,/g, ""));
      const name = c[1] === "msec" ? "task-clock µs" : c[1];
      return `${((c[1] === "msec" ? v * 1000 : v) / calls).toFixed(2).padStart(8)} /callback  ${name}`;
    });
    return [
      `${((u1 - u0) / calls).toFixed(2).padStart(8)} /callback  user CPU µs (/proc)`,
      `${((s1 - s0) / calls).toFixed(2).padStart(8)} /callback  system CPU µs (/proc)`,
      ...lines,
    ].join("\n");
  }
  const st = new Deno.Command("strace", { args: ["-c", "-f", "-p", String(pid)], stderr: "piped", stdout: "null" })
    .spawn();
  await new Promise((r) => setTimeout(r, 500));
  await run();
  st.kill("SIGINT");
  const out = new TextDecoder().decode((await st.output()).stderr);
  return out.split("\n").filter((l) => /^\s*[\d.]+\s+[\d.]+/.test(l) || l.includes("total")).map((l) => {
    const c = l.trim().split(/\s+/);
    const name = c[c.length - 1];
    const count = Number(c[3]);
    return `${(count / calls).toFixed(2).padStart(7)} /callback  ${name}`;
  }).join("\n");
}

const peer = await TestPeer.start();
await peer.ok("set isInitialBlockDownload 0");
const exp = ExporterProc.start({ scrapeFloor: null, socketPath: peer.socketPath, denoFlags: flags });
await exp.waitLog(/subscribed to UTXO cache trace/);
await peer.ok(`repeat 20000 ${event}`, 600_000);
console.log(
  `ours (exporter, every thread):\n${await traced(exp.child.pid, () => peer.ok(`repeat ${calls} ${event}`, 600_000))}`,
);
await exp.stop();
await peer.waitStatus((s) => s.connected === "0");
const child = new Deno.Command(PEER_BIN, {
  args: ["--client", peer.socketPath, "--subscribe-utxo"],
  stdin: "piped",
  stdout: "piped",
}).spawn();
await peer.waitStatus((s) => s.utxo === "1");
console.log(`C++ client:\n${await traced(child.pid, () => peer.ok(`repeat ${calls} ${event}`, 600_000))}`);
const w = child.stdin.getWriter();
await w.write(new TextEncoder().encode("quit\n"));
await w.close();
await child.output();
await peer.stop();
