/**
 * The scrape-round workload of `deno task bench`: what one Prometheus scrape costs, per flavour,
 * against a big node played by the C++ peer (125 peers of every type, 10,000 bans, a mempool
 * diagram of 10,000 chunks; through JSON-RPC on v32/chain5, the Node getters and Node.executeRpc
 * on the branches). Each scrape is a fresh round (spaced past the 1 s round cache). Measured:
 * wall time of the scrape as Prometheus sees it, the bytes that crossed the node's socket for it
 * (counted by a Unix-socket relay between the exporter and the peer), the exporter's CPU time, and
 * the exposition's size.
 *
 * Run from bench/bench.ts (one call); `--smoke` does 2 scrapes per flavour, `--quick` 5, full 20.
 */
import { TestPeer } from "../tests/support/peer.ts";
import { ExporterProc } from "../tests/support/exporter.ts";
import { bigBanList, bigPeerInfo } from "../tests/support/big_node.ts";

interface FlavourRow {
  flavour: string;
  scrapes: number;
  scrape_p50_ms: number;
  scrape_max_ms: number;
  node_bytes_per_scrape: number;
  cpu_ms_per_scrape: number;
  exposition_bytes: number;
}

const FLAVOURS: [peer: string, name: string][] = [
  ["branch", "pr-trace"],
  ["pr-ipc", "pr-ipc"],
  ["chain5-node", "chain5-node"],
  ["chain5", "chain5"],
  ["master", "v32"],
  ["v31", "v31"],
  ["v30", "v30"],
];

/** A getmempoolfeeratediagram answer of `n` chunks of 437 WU, fee rates falling from ~10,000 sat/vB. */
function bigDiagram(n: number): unknown[] {
  const points = [{ weight: 0, fee: 0 }];
  let w = 0, sat = 0;
  for (let i = 0; i < n; i++) {
    w += 437;
    sat += Math.max(110, Math.round(1_000_000 / (1 + i / 10)));
    points.push({ weight: w, fee: sat / 1e8 });
  }
  return points.map((p) => ({ weight: p.weight, fee: Number(p.fee.toFixed(8)) }));
}

/** A Unix-socket relay in front of the node's socket that counts the bytes each way. */
class CountingRelay {
  readonly path: string;
  toNode = 0;
  fromNode = 0;
  readonly #listener: Deno.UnixListener;
  readonly #conns: Deno.Conn[] = [];
  readonly #done: Promise<void>;

  constructor(readonly target: string) {
    this.path = Deno.makeTempDirSync({ prefix: "relay-" }) + "/node.sock";
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
    this.#done = this.#accept();
  }

  async #accept(): Promise<void> {
    const pumps: Promise<void>[] = [];
    try {
      for await (const client of this.#listener) {
        const node = await Deno.connect({ transport: "unix", path: this.target });
        this.#conns.push(client, node);
        pumps.push(this.#pump(client, node, (n) => this.toNode += n));
        pumps.push(this.#pump(node, client, (n) => this.fromNode += n));
      }
    } catch { /* closed */ }
    await Promise.all(pumps);
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, count: (n: number) => void): Promise<void> {
    const buf = new Uint8Array(1 << 16);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        count(n);
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* the other side went away */ }
    await to.closeWrite().catch(() => {}); // already closed
  }

  get total(): number {
    return this.toNode + this.fromNode;
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#done;
  }
}

function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms ticks
}

async function bigNode(peer: TestPeer, flavour: string): Promise<void> {
  await peer.ok(`rpc getmempoolfeeratediagram ${JSON.stringify(bigDiagram(10_000))}`);
  if (["master", "chain5"].includes(flavour)) {
    await peer.ok(`rpc getpeerinfo ${JSON.stringify(bigPeerInfo(125))}`);
    await peer.ok(`rpc listbanned ${JSON.stringify(bigBanList(10_000))}`);
  } else if (!flavour.startsWith("v3")) {
    for (let i = 0; i < 125; i++) {
      const type = Math.floor(i / 7) % 7; // 0 is inbound
      await peer.ok(`set peers 1 ${type === 0 ? 1 : 0} ${i % 7} ${type} ${i % 3}`);
    }
    await peer.ok("set banned 10000");
  }
}

async function measure(peerFlavour: string, name: string, scrapes: number): Promise<FlavourRow> {
  const peer = await TestPeer.start({ flavour: peerFlavour });
  const relay = new CountingRelay(peer.socketPath);
  const exp = ExporterProc.start({ scrapeFloor: null, socketPath: relay.path });
  try {
    await bigNode(peer, peerFlavour);
    await exp.waitLog(/connected to /);
    await new Promise((r) => setTimeout(r, 1100));
    await exp.scrape(); // warm: templates, first round
    const times: number[] = [];
    let bytes = 0, cpu = 0, size = 0;
    for (let i = 0; i < scrapes; i++) {
      await new Promise((r) => setTimeout(r, 1100)); // past the round cache: every scrape a new round
      const pid = exp.child.pid;
      const b0 = relay.total, c0 = cpuMs(pid), t0 = performance.now();
      const body = await exp.scrape();
      times.push(performance.now() - t0);
      bytes += relay.total - b0;
      cpu += cpuMs(pid) - c0;
      size = body.length;
    }
    times.sort((a, b) => a - b);
    return {
      flavour: name,
      scrapes,
      scrape_p50_ms: times[Math.floor(times.length / 2)],
      scrape_max_ms: times[times.length - 1],
      node_bytes_per_scrape: Math.round(bytes / scrapes),
      cpu_ms_per_scrape: cpu / scrapes,
      exposition_bytes: size,
    };
  } finally {
    const code = await exp.stop("SIGTERM");
    if (code !== 0) console.error(`exporter exited ${code}:\n${exp.lines.join("\n")}`);
    await relay.close();
    await peer.stop();
  }
}

/** Runs the workload for every flavour, prints a table, writes bench/results-scrape-round[-mode].json. */
export async function scrapeRoundBench(mode: "full" | "quick" | "smoke"): Promise<FlavourRow[]> {
  const scrapes = { full: 20, quick: 5, smoke: 2 }[mode];
  const rows: FlavourRow[] = [];
  for (const [peer, name] of FLAVOURS) rows.push(await measure(peer, name, scrapes));
  const f = (x: number, d = 1) => x.toFixed(d);
  console.log(
    "scrape round, big node (125 peers, 10,000 bans, 10,000-chunk mempool diagram); each scrape a fresh round:",
  );
  console.log(
    "| flavour | scrapes | scrape p50/max ms | socket bytes/scrape (both ways) | exporter CPU ms/scrape | exposition bytes |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.flavour} | ${r.scrapes} | ${f(r.scrape_p50_ms)}/${f(r.scrape_max_ms)} | ${r.node_bytes_per_scrape} | ${
        f(r.cpu_ms_per_scrape)
      } | ${r.exposition_bytes} |`,
    );
  }
  const path = new URL(`./results-scrape-round${mode === "full" ? "" : "-" + mode}.json`, import.meta.url);
  await Deno.writeTextFile(
    path,
    JSON.stringify({ mode, date: new Date().toISOString(), cores: navigator.hardwareConcurrency, rows }, null, 2) +
      "\n",
  );
  console.log(`json: ${path.pathname}`);
  return rows;
}

if (import.meta.main) {
  await scrapeRoundBench(Deno.args.includes("--smoke") ? "smoke" : Deno.args.includes("--quick") ? "quick" : "full");
}
