/**
 * The dashboard and the alerting rules, proven on a real Prometheus (Debian's `prometheus`, run on
 * loopback in a temporary directory, scraping every second) scraping seven exporters, each talking
 * to the C++ peer playing one flavour (pr-trace, pr-ipc, chain5-node, chain5, v30, v31, v32). Events
 * are driven through the peers, then through Prometheus's HTTP API:
 * - every dashboard query returns data on every running flavour its panel claims ("Flavours: …",
 *   all when it claims none) and none on the running flavours it does not claim;
 * - every alert loads and evaluates without error, every metric selector in it returns data on a
 *   flavour the alert names, and the alerts that can be driven within seconds are driven until
 *   Prometheus holds them pending or firing (ALERTS);
 * - every query of bitcoin-dev-tools/ipc-dash's dashboard returns data.
 * And `promtool check metrics` passes with no output on the exposition of every flavour, whose
 * families are exactly those --check (src/cli/check.ts) says that flavour gives.
 * Families the dashboard and the alerts are written against that this build does not serve yet
 * (PENDING, issue 12) are listed in the output, not evaluated.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, freePort } from "./support/exporter.ts";
import { waitFor } from "./support/wait.ts";
import { alertQueries, dashboardQueries, PENDING, type Query, readDashboard, selectors } from "./support/promql.ts";
import { familyCatalogue, flavourLacks } from "../src/cli/check.ts";
import { type Flavour, FLAVOURS } from "../src/flavour.ts";

const root = new URL("../", import.meta.url).pathname;
const families = familyCatalogue().map((f) => f.name);
const H = (n: number, fork = "a") => (fork + n.toString(16)).padStart(64, "0");
const HASH = "22".repeat(32);
const TX = "02000000" + "01" + "33".repeat(32) + "00000000" + "00" + "ffffffff" + "01" + "0000000000000000" + "00" +
  "00000000";

/** The peer's name for each flavour. */
const PEER_NAME: Record<Flavour, string> = {
  "pr-trace": "branch",
  "pr-ipc": "pr-ipc",
  "chain5-node": "chain5-node",
  chain5: "chain5",
  v30: "v30",
  v31: "v31",
  v32: "v32",
};
type Running = Flavour;
/** Flavours whose tip comes from the Mining long-poll (stock releases). */
const STOCK = (f: Flavour) => f === "v30" || f === "v31" || f === "v32";

interface Target {
  peer: TestPeer;
  exporter: ExporterProc;
  instance: string;
}

class Prometheus {
  #stderr = "";
  #done: Promise<void>;
  private constructor(readonly child: Deno.ChildProcess, readonly url: string) {
    this.#done = (async () => {
      for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
        if (this.#stderr.length < 100_000) this.#stderr += c;
      }
    })();
  }

  static async start(dir: string, targets: string[]): Promise<Prometheus> {
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        "rule_files:",
        `  - ${root}alerts/bitcoind-ipc-exporter.rules.yml`,
        "scrape_configs:",
        "  - job_name: bitcoind",
        "    static_configs:",
        `      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]`,
        "",
      ].join("\n"),
    );
    const child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const p = new Prometheus(child, `http://127.0.0.1:${port}`);
    await waitFor("Prometheus to be ready", async () => {
      const r = await fetch(`${p.url}/-/ready`);
      await r.body?.cancel();
      return r.status === 200 ? true : undefined;
    }, 30_000).catch((e) => {
      throw new Error(`${e.message}; prometheus said:\n${p.#stderr}`);
    });
    return p;
  }

  async api(path: string): Promise<{ status: string; error?: string; data: unknown }> {
    const r = await fetch(`${this.url}${path}`);
    return await r.json();
  }

  /** An instant query's result vector; throws with Prometheus's error for a bad query. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await this.api(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (r.status !== "success") throw new Error(`query ${expr}: ${r.error}`);
    const data = r.data as { resultType: string; result: unknown };
    if (data.resultType === "scalar") return [{ metric: {}, value: data.result as [number, string] }];
    return data.result as { metric: Record<string, string>; value: [number, string] }[];
  }

  async stop(): Promise<string> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.child.status;
    await this.#done;
    return this.#stderr;
  }
}

/** The dashboard's variables as Grafana fills them for one instance. */
function forInstance(expr: string, instance: string): string {
  return expr.replaceAll('job=~"$job"', 'job="bitcoind"').replaceAll('instance=~"$instance"', `instance="${instance}"`)
    .replaceAll("$__rate_interval", "10s");
}

/** A selector narrowed to one instance. */
function narrowed(text: string, instance: string): string {
  return text.includes("{") ? text.replace("{", `{instance="${instance}",`) : `${text}{instance="${instance}"}`;
}

/** The families of this build a query reads that it does not serve yet (PENDING), if any. */
function pending(q: Query): string[] {
  return selectors(q.expr, families).map((s) => s.family).filter((f) => !families.includes(f) && f in PENDING);
}

/**
 * Values for the families a node serves only while it has them (METRICS.md): peers (outbound and
 * inbound), a fee estimate, and prune mode (getblockchaininfo, read through Rpc.executeRpc or
 * Node.executeRpc), so that every family the flavour can give is in its exposition.
 */
async function everyValue(peer: TestPeer, flavour: Flavour): Promise<void> {
  if (STOCK(flavour) && flavour !== "v32") return; // v30/v31: Mining alone
  // outbound-full-relay ipv4 v2 (Node.getNodesStats), 40 ms min ping, high-bandwidth to us
  await peer.ok("set peers 6 0 1 1 2 40000 1 0");
  await peer.ok("set peers 2 1 2 0 1 150000 0 1"); // inbound ipv6 v1, 150 ms, high-bandwidth from
  await peer.ok("set feeEstimate 2 25000"); // Chain.estimateSmartFee: 25 sat/vB
  await peer.ok(`rpc estimatesmartfee {"feerate":0.00025,"blocks":2}`);
  const chain = JSON.parse(
    await Deno.readTextFile(`${root}tests/fixtures/stock-master-regtest/rpc/getblockchaininfo.json`),
  );
  await peer.ok(`rpc getblockchaininfo ${JSON.stringify({ ...chain, pruned: true, pruneheight: 42 })}`);
}

async function startTarget(flavour: Running): Promise<Target> {
  const peer = await TestPeer.start({ flavour: PEER_NAME[flavour] });
  await everyValue(peer, flavour);
  await peer.ok("set isInitialBlockDownload 0");
  await peer.ok("set getNodeCount 8");
  await peer.ok("set getMempoolSize 12");
  await peer.ok("set getMempoolDynamicUsage 1000000");
  await peer.ok("set getMempoolMaxUsage 300000000");
  if (STOCK(flavour)) await peer.ok(`set tip 105 ${H(105)} ${H(104)}`);
  const exporter = ExporterProc.start({ socketPath: peer.socketPath, args: ["--collector.template"] }); // off by default: checked too
  await exporter.waitLog(/connected to .* \(flavour /);
  return { peer, exporter, instance: `127.0.0.1:${exporter.port}` };
}

/** Events of every kind the flavour can push, so that every family has moved. */
async function drive(flavour: Running, t: Target, round: number): Promise<void> {
  const p = t.peer;
  if (STOCK(flavour)) {
    // Two new tips (on v32 derived as blocks connected through getblockheader).
    await p.ok(`set tip ${106 + 2 * round} ${H(106 + 2 * round)} ${H(105 + 2 * round)}`);
    await p.ok(`set tip ${107 + 2 * round} ${H(107 + 2 * round)} ${H(106 + 2 * round)}`);
    return;
  }
  if (flavour === "pr-trace") {
    for (const kind of ["utxoAdd", "utxoSpend", "utxoUncache"]) await p.ok(`fire ${kind} 5000 100 ${round} 0`);
  }
  // The chain model knows the tip (last_block's getchaintxstats of it: its hash comes with blockConnected).
  await p.ok(`set tip ${200 + round} ${HASH}`);
  await p.ok(`fire blockConnected ${200 + round} ${HASH} 0`);
  await p.ok(`fire blockDisconnected ${200 + round} ${HASH}`);
  await p.ok(`fire blockConnected ${200 + round} ${HASH} 0`);
  await p.ok("fire updatedBlockTip");
  await p.ok(`fire txAdded ${TX}`);
  await p.ok(`fire txRemoved ${TX} ${round % 6}`);
  await p.ok(`fire chainStateFlushed 0 ${HASH}`);
}

Deno.test("every dashboard query and alert expression, evaluated by a real Prometheus scraping every flavour", async () => {
  const dir = await Deno.makeTempDir({ prefix: "prometheus-test-" });
  const targets = {} as Record<Running, Target>;
  let prom: Prometheus | undefined;
  const report: string[] = [];
  try {
    for (const f of FLAVOURS) targets[f] = await startTarget(f);
    prom = await Prometheus.start(dir, Object.values(targets).map((t) => t.instance));
    const P = prom;
    for (const [f, t] of Object.entries(targets) as [Running, Target][]) await drive(f, t, 0);
    const inst = (f: Running) => targets[f].instance;
    // Enough samples for every rate, and the events seen (a second round between scrapes).
    await waitFor("5 s of samples from every exporter", async () => {
      const r = await P.query("count_over_time(bitcoin_up[1m]) >= 5");
      return r.length === FLAVOURS.length ? true : undefined;
    }, 30_000);
    for (const [f, t] of Object.entries(targets) as [Running, Target][]) await drive(f, t, 1);
    // getblockstats is read once per new tip wherever the flavour has JSON-RPC (or Node.executeRpc).
    const withStats = FLAVOURS.filter((f) => !flavourLacks("bitcoin_last_block_inputs", f)).length;
    await waitFor("the second round of events scraped", async () => {
      const tips = await P.query("bitcoin_tip_updates_total >= 2");
      const stats = await P.query("bitcoin_last_block_inputs");
      return tips.length === FLAVOURS.length && stats.length === withStats ? true : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 2500)); // a few more scrapes after the last event

    // The dashboard.
    const running = [...FLAVOURS];
    const dash = dashboardQueries(await readDashboard());
    const failures: string[] = [];
    for (const q of dash) {
      if (pending(q).length > 0) {
        report.push(`${q.where}: pending ${pending(q).join(", ")} (${pending(q).map((f) => PENDING[f]).join(", ")})`);
        continue;
      }
      const claims = q.flavours ?? [...FLAVOURS];
      const on: string[] = [];
      for (const f of running) {
        const n = (await P.query(forInstance(q.expr, inst(f)))).length;
        if (claims.includes(f) && n === 0) failures.push(`${q.where} on ${f}: no data: ${q.expr}`);
        if (!claims.includes(f) && n > 0) failures.push(`${q.where} on ${f}: data, but the panel says ${claims}`);
        if (n > 0) on.push(f);
      }
      report.push(`${q.where}: data on ${on.join(", ")}`);
    }

    // The alerting rules: loaded and evaluated without error, and every selector in each has data.
    const rules = (await P.api("/api/v1/rules")).data as {
      groups: { rules: { name: string; health: string; lastError?: string }[] }[];
    };
    const loaded = rules.groups.flatMap((g) => g.rules);
    const alerts = await alertQueries();
    assertEquals(loaded.map((r) => r.name).sort(), alerts.map((a) => a.where.replace("alert ", "")).sort());
    await waitFor("every rule evaluated", () =>
      P.api("/api/v1/rules").then((r) => {
        const all = (r.data as typeof rules).groups.flatMap((g) => g.rules);
        return all.every((x) => x.health !== "unknown") ? all : undefined;
      }), 10_000).then((all) => {
        for (const r of all) if (r.health !== "ok") failures.push(`alert ${r.name}: ${r.health} ${r.lastError}`);
      });
    for (const a of alerts) {
      if (pending(a).length > 0) {
        report.push(`${a.where}: pending ${pending(a).join(", ")} (${pending(a).map((f) => PENDING[f]).join(", ")})`);
        continue;
      }
      const f = running.find((f) => !a.flavours || a.flavours.includes(f));
      assert(f, `${a.where}: none of its flavours (${a.flavours}) runs here`);
      for (const s of selectors(a.expr, families)) {
        const n = (await P.query(narrowed(s.text, inst(f)))).length;
        if (n === 0) failures.push(`${a.where} on ${f}: ${s.text} has no data`);
      }
      report.push(`${a.where}: selectors have data on ${f}`);
    }

    // bitcoin-dev-tools/ipc-dash's dashboard (the Rust exporter's), as it is written.
    const ipcDash = JSON.parse(await Deno.readTextFile(`${root}tests/fixtures/ipc-dash/queries.json`));
    for (const q of ipcDash.queries as { panel: string; expr: string }[]) {
      const got = await P.query(q.expr);
      if (!got.some((s) => s.metric.instance === inst("pr-trace"))) failures.push(`ipc-dash "${q.panel}": ${q.expr}`);
    }
    report.push(`ipc-dash: ${ipcDash.queries.length} queries have data on pr-trace`);
    assertEquals(failures, []);

    // Alerts driven into their condition: Prometheus must hold each pending or firing.
    const tr = targets["pr-trace"].peer;
    await tr.ok("set getNodeCount 2"); // BitcoinTooFewPeers
    await tr.ok("set getMempoolDynamicUsage 295000000"); // BitcoinMempoolNearLimit
    for (let i = 0; i < 3; i++) await tr.ok(`fire blockDisconnected ${300 - i} ${HASH}`); // BitcoinDeepReorg
    await tr.ok("throw getMempoolSize"); // BitcoindExporterCollectorFailing (node)
    await tr.ok("set peers none"); // BitcoinNoOutboundPeers: inbound peers only
    await tr.ok("set peers 2 1 2 0 1");
    await tr.ok("set lastBlockTime 1000000000"); // BitcoinNoNewBlock: a tip from 2001, out of IBD
    const chain = JSON.parse(
      await Deno.readTextFile(`${root}tests/fixtures/stock-master-regtest/rpc/getblockchaininfo.json`),
    );
    // BitcoinBlockStorageLarge: 2 TB of block files.
    await tr.ok(
      `rpc getblockchaininfo ${JSON.stringify({ ...chain, pruned: true, pruneheight: 42, size_on_disk: 2e12 })}`,
    );
    // BitcoindExporterUtxoTraceCostly: a block of 40,000 coins (~3 s of the node's time at 76 µs each).
    await tr.ok("repeat 40000 fire utxoAdd 1 300 1 0", 120_000);
    await tr.ok(`fire blockConnected 301 ${HASH} 0`);
    await targets.chain5.peer.stop(); // BitcoinNodeDown: its exporter loses the node
    const driven: [string, Running][] = [
      ["BitcoinTooFewPeers", "pr-trace"],
      ["BitcoinMempoolNearLimit", "pr-trace"],
      ["BitcoinDeepReorg", "pr-trace"],
      ["BitcoindExporterCollectorFailing", "pr-trace"],
      ["BitcoinNoOutboundPeers", "pr-trace"],
      ["BitcoinNoNewBlock", "pr-trace"],
      ["BitcoinBlockStorageLarge", "pr-trace"],
      ["BitcoindExporterUtxoTraceCostly", "pr-trace"],
      ["BitcoinNodeDown", "chain5"],
    ];
    for (const [name, f] of driven) {
      const s = await waitFor(`Prometheus to hold ${name} on ${f}`, async () => {
        const r = await P.query(`ALERTS{alertname="${name}",instance="${inst(f)}"}`);
        return r.length > 0 ? r[0].metric.alertstate : undefined;
      }, 20_000);
      report.push(`alert ${name}: ${s} on ${f} (driven)`);
    }
    console.log(report.join("\n"));
  } finally {
    const log = await prom?.stop();
    for (const t of Object.values(targets)) {
      assertEquals(await t.exporter.stop(), 0, t.exporter.lines.join("\n"));
      if (!t.peer.exited) assertEquals(await t.peer.stop(), 0);
      else await t.peer.stop();
    }
    await Deno.remove(dir, { recursive: true });
    if (log) console.log(`prometheus stderr (warn and above): ${log.trim() || "(none)"}`);
  }
});

Deno.test("promtool check metrics on every flavour's exposition: zero warnings, and the families --check predicts", async () => {
  for (const flavour of FLAVOURS) {
    const peer = await TestPeer.start({ flavour: PEER_NAME[flavour] });
    await everyValue(peer, flavour);
    const exporter = ExporterProc.start({ socketPath: peer.socketPath, args: ["--collector.template"] }); // off by default: checked too
    try {
      await exporter.waitLog(/connected to .* \(flavour /);
      if (flavour === "pr-trace" || flavour === "pr-ipc" || flavour.startsWith("chain5")) {
        await peer.ok(`fire blockConnected 200 ${HASH} 0`);
        await peer.ok(`fire txRemoved ${TX} 4`);
      }
      if (flavour === "pr-trace") await peer.ok("fire utxoAdd 5000 100 0 0");
      const body = await exporter.scrape();
      const child = new Deno.Command("promtool", {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(body));
      await w.close();
      const out = await child.output();
      const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assertEquals([out.code, said], [0, ""], `${flavour}: promtool check metrics`);
      console.log(`${flavour}: promtool check metrics: exit 0, no output (${body.split("\n").length} lines)`);
      // What --check says this flavour gives is what it serves.
      const served = [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]).sort();
      assertEquals(served, families.filter((f) => !flavourLacks(f, flavour)).sort(), `${flavour}: families`);
    } finally {
      assertEquals(await exporter.stop(), 0);
      assertEquals(await peer.stop(), 0);
    }
  }
});
