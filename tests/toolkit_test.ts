/**
 * exporter-toolkit parity, end to end: main.ts as a subprocess with its narrow permissions, the C++
 * peer as the node, real HTTP(S) clients (fetch, and raw TCP where fetch would hide the bytes).
 * The landing page and health endpoints, --web.telemetry-path, OpenMetrics and gzip negotiation,
 * the build and process metrics, --web.listen-address :PORT, --log.level/--log.format, and
 * --web.config.file (TLS, basic auth, the permissions it adds, its mistakes).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, freePort, logMessage, narrowFlags, runCli, samples } from "./support/exporter.ts";
import { gunzipSync } from "node:zlib";
import denoConfig from "../deno.json" with { type: "json" };
import { delay } from "../src/util/async.ts";

const root = new URL("../", import.meta.url).pathname;
const CERT = `${root}tests/fixtures/tls/cert.pem`;
const KEY = `${root}tests/fixtures/tls/key.pem`;
const CA = `${root}tests/fixtures/tls/ca.pem`;
// bcrypt of "scrape-secret" at cost 10, as `htpasswd -nBC 10` makes them.
const HASH = "$2b$10$x6LZkQm0UjoMmbXq/ahJZ.3EtYoDvvXPZ37xcY4v/6SJZqX6V1/Gy";
const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/** One raw HTTP/1.1 request (Connection: close); the response's head and body bytes, unaltered. */
async function raw(port: number, path: string, headers: Record<string, string> = {}) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"]
    .concat(Object.entries(headers).map(([k, v]) => `${k}: ${v}`)).join("\r\n") + "\r\n\r\n";
  await conn.write(new TextEncoder().encode(head));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
  conn.close();
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) all.set(c, (off += c.length) - c.length);
  let end = 0;
  while (!(all[end] === 13 && all[end + 1] === 10 && all[end + 2] === 13 && all[end + 3] === 10)) end++;
  const lines = new TextDecoder().decode(all.subarray(0, end)).split("\r\n");
  const h = new Map(
    lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
  );
  return { status: Number(lines[0].split(" ")[1]), headers: h, body: all.slice(end + 4) };
}

/** Sample names and values, run-dependent values masked (to compare two scrapes). */
function stable(body: string): string[] {
  return body.split("\n").filter((l) => l && !l.startsWith("#"))
    .filter((l) =>
      !/^(process_|deno_|bitcoind_ipc_exporter_(collector_duration|node_unanswered|callback_handler|http_busy))/.test(l)
    )
    .sort();
}

Deno.test("landing page, /-/healthy and /-/ready, --web.telemetry-path; the page says whether the node is up", async () => {
  const dir = await Deno.makeTempDir();
  const socketPath = `${dir}/node.sock`;
  // No node yet: the exporter serves, says the node is down, and is ready (README "Endpoints").
  const exp = ExporterProc.start({ socketPath, args: ["--web.telemetry-path", "/bitcoin/metrics"] });
  let peer: TestPeer | undefined;
  try {
    await exp.waitLog(/serving http:\/\/127\.0\.0\.1:\d+\/bitcoin\/metrics/);
    const down = await fetch(exp.url("/"));
    assertEquals([down.status, down.headers.get("content-type")], [200, "text/html; charset=utf-8"]);
    const page = await down.text();
    assertStringIncludes(page, `<h1>bitcoind-ipc-exporter ${denoConfig.version}</h1>`);
    assertStringIncludes(page, `Node: down (not connected or not answering; retrying) (socket ${socketPath}).`);
    assertStringIncludes(page, `<a href="/bitcoin/metrics">Metrics</a>`);
    for (const [path, body] of [["/-/healthy", "Healthy\n"], ["/-/ready", "Ready\n"]]) {
      const r = await fetch(exp.url(path));
      assertEquals([r.status, await r.text()], [200, body], path);
    }
    const post = await fetch(exp.url("/-/ready"), { method: "POST", body: "" });
    assertEquals([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);
    await post.body?.cancel();
    const old = await fetch(exp.url("/metrics"));
    assertEquals(old.status, 404);
    await old.body?.cancel();
    const m = await fetch(exp.url("/bitcoin/metrics"));
    assertEquals(m.status, 200);
    assertStringIncludes(await m.text(), "bitcoin_up 0\n");
    // The node comes up at the socket: the page follows.
    peer = await TestPeer.start({ socketPath });
    await exp.waitLog(/subscribed to chain notifications/);
    const metrics = async () => await (await fetch(exp.url("/bitcoin/metrics"))).text();
    for (let i = 0; i < 200 && !(await metrics()).includes("bitcoin_up 1\n"); i++) await delay(50);
    const up = await (await fetch(exp.url("/"))).text();
    assertStringIncludes(up, `Node: up, flavour pr-trace (socket ${socketPath}).`);
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    if (peer) assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OpenMetrics when Prometheus asks for it (# EOF, counters without _total, # UNIT), the text format otherwise; gzip when accepted", async () => {
  const peer = await TestPeer.start();
  await peer.ok("set getTotalBytesRecv 1000");
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to .* \(flavour pr-trace\)/);
    await peer.ok(`fire blockConnected 106 ${"22".repeat(32)} 0`);
    await new Promise((r) => setTimeout(r, 1100)); // past the scrape cache: both scrapes read the same
    const text = await raw(exp.port, "/metrics");
    assertEquals(text.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const plain = new TextDecoder().decode(text.body);
    assert(!plain.includes("# EOF") && !plain.includes("# UNIT"));
    assertStringIncludes(plain, "# TYPE bitcoin_blocks_connected_total counter\nbitcoin_blocks_connected_total 1\n");

    const om = await raw(exp.port, "/metrics", { Accept: PROMETHEUS_ACCEPT });
    assertEquals(om.headers.get("content-type"), "application/openmetrics-text; version=1.0.0; charset=utf-8");
    const open = new TextDecoder().decode(om.body);
    assert(open.endsWith("\n# EOF\n"), open.slice(-100));
    assertStringIncludes(open, "# TYPE bitcoin_blocks_connected counter\nbitcoin_blocks_connected_total 1\n");
    assertStringIncludes(open, "# TYPE bitcoin_bytes_recv counter\nbitcoin_bytes_recv_total 1000\n"); // no unit suffix
    assertStringIncludes(
      open,
      "# TYPE bitcoind_ipc_exporter_callback_handler_seconds counter\n# UNIT bitcoind_ipc_exporter_callback_handler_seconds seconds\n",
    );
    assertStringIncludes(
      open,
      "# TYPE bitcoind_ipc_exporter_last_connect_timestamp_seconds gauge\n# UNIT bitcoind_ipc_exporter_last_connect_timestamp_seconds seconds\n",
    );
    // The same samples in both formats; every counter family is named without _total.
    assertEquals(stable(open), stable(plain));
    for (const m of open.matchAll(/^# TYPE (\S+) counter$/gm)) assert(!m[1].endsWith("_total"), m[1]);
    for (const m of open.matchAll(/^# UNIT (\S+) (\S+)$/gm)) assert(m[1].endsWith(`_${m[2]}`), m[0]);

    // gzip: the same body, a fraction of the bytes; not when refused (q=0) or not asked.
    const gz = await raw(exp.port, "/metrics", { "Accept-Encoding": "gzip, deflate" });
    assertEquals([gz.headers.get("content-encoding"), gz.headers.get("vary")], ["gzip", "Accept, Accept-Encoding"]);
    assertEquals(Number(gz.headers.get("content-length")), gz.body.length);
    const unzipped = new TextDecoder().decode(gunzipSync(gz.body));
    assertEquals(stable(unzipped), stable(plain));
    assert(gz.body.length * 3 < text.body.length, `gzip ${gz.body.length} B of ${text.body.length} B`);
    const refused = await raw(exp.port, "/metrics", { "Accept-Encoding": "gzip;q=0, identity" });
    assertEquals(refused.headers.get("content-encoding"), undefined);
    const both = await raw(exp.port, "/metrics", { Accept: PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip" });
    assert(new TextDecoder().decode(gunzipSync(both.body)).endsWith("# EOF\n"));
    // A scraper preferring the text format gets it.
    const pref = await raw(exp.port, "/metrics", {
      Accept: "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5",
    });
    assertEquals(pref.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("build_info and process_* metrics, read with nothing beyond the narrow permissions", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    const body = await exp.scrape();
    const s = samples(body);
    const info = [...s.keys()].find((k) => k.startsWith("bitcoind_ipc_exporter_build_info{"));
    assertEquals(
      info,
      `bitcoind_ipc_exporter_build_info{version="${denoConfig.version}",deno="${Deno.version.deno}",v8="${Deno.version.v8}",typescript="${Deno.version.typescript}"}`,
    );
    assertEquals(s.get(info!), "1");
    const cpu = Number(s.get("process_cpu_seconds_total"));
    const rss = Number(s.get("process_resident_memory_bytes"));
    const start = Number(s.get("process_start_time_seconds"));
    assert(cpu > 0 && cpu < 600, `cpu ${cpu}`);
    assert(rss > 10 * 2 ** 20 && rss < 2 ** 31, `rss ${rss}`);
    assert(Math.abs(start - Date.now() / 1000) < 600, `start ${start}`);
    for (const n of ["deno_heap_size_total_bytes", "deno_heap_size_used_bytes", "deno_external_memory_bytes"]) {
      assert(Number(s.get(n)) > 0, n);
    }
    assertStringIncludes(body, "# TYPE process_cpu_seconds_total counter\n");
    // The CPU counter moves with work.
    for (let i = 0; i < 50; i++) await exp.scrape();
    assert(Number(samples(await exp.scrape()).get("process_cpu_seconds_total")) >= cpu);
    // Never at the cost of a permission prompt or error: nothing logged about permissions.
    assert(!exp.lines.some((l) => /permission|NotCapable/i.test(l)), exp.lines.join("\n"));
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

/** Runs main.ts with exactly `args` and `permissions` (ExporterProc always adds --metrics-addr). */
function spawn(args: string[], permissions: string[]): ExporterProc {
  const i = args.findIndex((a) => a === "--metrics-addr" || a === "--web.listen-address");
  const port = Number(args[i + 1].slice(args[i + 1].lastIndexOf(":") + 1));
  return ExporterProc.start({ socketPath: "", permissions, raw: args, port });
}

Deno.test("--web.listen-address :PORT listens on every IPv4 interface, with --allow-net=0.0.0.0:PORT", async () => {
  const peer = await TestPeer.start();
  const port = freePort();
  const p = await runCli(["--web.listen-address", `:${port}`, "--print-permissions", peer.socketPath]);
  assertEquals(p.stdout.trim().split("\n"), narrowFlags(peer.socketPath, `0.0.0.0:${port}`));
  const exp = spawn(
    ["--web.listen-address", `:${port}`, peer.socketPath],
    narrowFlags(peer.socketPath, `0.0.0.0:${port}`),
  );
  try {
    await exp.waitLog(new RegExp(`serving http://0\\.0\\.0\\.0:${port}/metrics`));
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    assertEquals(r.status, 200);
    await r.body?.cancel();
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("--log.format json and logfmt: one line per event; --log.level warn drops info; --debug is --log.level debug", async () => {
  const peer = await TestPeer.start();
  try {
    for (
      const [format, re] of [
        ["json", /^\{"time":"\d{4}-\d\d-\d\dT[\d:.]+Z","level":"(debug|info|warn|error)","msg":".*"\}$/],
        ["logfmt", /^time=\d{4}-\d\d-\d\dT[\d:.]+Z level=(debug|info|warn|error) msg=".*"$/],
      ] as const
    ) {
      const exp = ExporterProc.start({ socketPath: peer.socketPath, args: ["--log.format", format, "--debug"] });
      try {
        await exp.waitLog(/subscribed to chain notifications/);
        await peer.ok(`fire blockConnected 106 ${"22".repeat(32)} 0`);
        await exp.waitLog(/block connected/);
      } finally {
        assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
      }
      assert(exp.lines.length > 3);
      for (const l of exp.lines) assertMatch(l, re);
      if (format === "json") {
        const msgs = exp.lines.map((l) => JSON.parse(l));
        assert(msgs.some((m) => m.level === "debug" && /block connected/.test(m.msg)), exp.lines.join("\n"));
      }
    }
    const quiet = ExporterProc.start({ socketPath: peer.socketPath, args: ["--log.level", "warn"] });
    try {
      await peer.waitStatus((s) => s.connected === "1");
      const r = await fetch(quiet.url());
      assertEquals(r.status, 200);
      await r.body?.cancel();
    } finally {
      assertEquals(await quiet.stop(), 0);
    }
    assertEquals(quiet.lines.filter((l) => / (INFO|DEBUG) /.test(l)), [], quiet.lines.join("\n"));
  } finally {
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
  for (
    const [args, message] of [
      [["--log.level", "trace", "x.sock"], 'invalid --log.level "trace": expected debug, info, warn, error'],
      [["--log.format", "xml", "x.sock"], 'invalid --log.format "xml": expected text, logfmt, json'],
      [["--debug", "--log.level", "info", "x.sock"], "--debug is --log.level debug, but --log.level info is given too"],
      [["--web.telemetry-path", "metrics", "x.sock"], 'invalid --web.telemetry-path "metrics"'],
      [["--web.telemetry-path", "/-/ready", "x.sock"], 'invalid --web.telemetry-path "/-/ready"'],
    ] as [string[], string][]
  ) {
    const r = await runCli(args);
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(r.stderr.split("\n")[0], message);
  }
});

// --- --web.config.file ---------------------------------------------------------------------------

async function webConfig(text: string): Promise<{ dir: string; path: string }> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  await Deno.writeTextFile(`${dir}/web.yml`, text);
  return { dir, path: `${dir}/web.yml` };
}

const TLS_AUTH = `tls_server_config:
  cert_file: ${CERT}
  key_file: ${KEY}
  min_version: TLS12
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: ${HASH}
`;

Deno.test("web config: TLS and basic auth, served with read grants for exactly the config, cert and key", async () => {
  const peer = await TestPeer.start();
  const cfg = await webConfig(TLS_AUTH);
  const port = freePort();
  const listen = `127.0.0.1:${port}`;
  // The flags main.ts asks for, as the launcher uses them.
  const printed = await runCli(
    ["--metrics-addr", listen, "--web.config.file", cfg.path, "--print-permissions", peer.socketPath],
    [`--allow-read=${cfg.path}`],
  );
  assertEquals(printed.code, 0, printed.stderr);
  const flags = printed.stdout.trim().split("\n");
  assertEquals(flags, [
    `--allow-read=${peer.socketPath},${cfg.path},${CERT},${KEY}`,
    `--allow-write=${peer.socketPath}`,
    `--allow-net=unix:${peer.socketPath},${listen}`,
  ]);
  const exp = spawn(["--metrics-addr", listen, "--web.config.file", cfg.path, peer.socketPath], flags);
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(CA)] });
  const get = (path: string, auth?: string) =>
    fetch(`https://127.0.0.1:${port}${path}`, {
      client,
      headers: auth ? { Authorization: `Basic ${btoa(auth)}` } : {},
    });
  try {
    await exp.waitLog(new RegExp(`serving https://127\\.0\\.0\\.1:${port}/metrics \\(basic auth\\)`));
    await exp.waitLog(/connected to .* \(flavour pr-trace\)/); // bitcoin_up 1 from here on
    for (
      const [path, auth] of [
        ["/metrics", undefined],
        ["/", undefined],
        ["/metrics", "prometheus:wrong"],
        ["/metrics", "nobody:scrape-secret"],
      ] as [string, string | undefined][]
    ) {
      const r = await get(path, auth);
      assertEquals(r.status, 401, `${path} ${auth}`);
      assertEquals(r.headers.get("www-authenticate"), 'Basic realm="bitcoind-ipc-exporter", charset="UTF-8"');
      assertEquals(r.headers.get("x-content-type-options"), "nosniff");
      await r.body?.cancel();
    }
    for (let i = 0; i < 20; i++) {
      const ok = await get("/metrics", "prometheus:scrape-secret");
      assertEquals(ok.status, 200);
      assertEquals(ok.headers.get("x-content-type-options"), "nosniff");
      assertStringIncludes(await ok.text(), "bitcoin_up 1\n");
    }
    // Plain HTTP to the TLS port is no request at all: closed, and the server goes on serving.
    const plain = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.status, () => "refused");
    assertEquals(plain, "refused");
    assertEquals((await get("/-/healthy", "prometheus:scrape-secret")).status, 200);
  } finally {
    client.close();
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
    await Deno.remove(cfg.dir, { recursive: true });
  }
  // No log line per refused request.
  assert(!exp.messages.some(mentionsRefusal), exp.lines.join("\n"));
});

/** Whether a log message tells of a refused request (the check above: there must be none). */
function mentionsRefusal(message: string): boolean {
  return /\b401\b|unauthori[sz]ed|password/i.test(message);
}

Deno.test("web config: the check for refusal log lines reads messages, not timestamps", () => {
  // Lines of a CI run where the check failed: the SIGTERM line's timestamp ends in .401Z.
  const ci = [
    "2026-12-06T00:05:48.731Z WARN  http: a client at 127.0.0.1:32822 asks more than 5 requests per second on one connection: its answers are paced to that rate",
    "2026-12-06T00:05:51.401Z INFO  received SIGTERM: shutting down",
  ];
  assertEquals(ci.map(logMessage).filter(mentionsRefusal), []);
  assertEquals(logMessage(ci[1]), "received SIGTERM: shutting down");
  for (const said of ["http: 401 for 127.0.0.1:40100", "Unauthorized client", "wrong password"]) {
    assert(mentionsRefusal(logMessage(`2026-12-06T00:05:51.400Z WARN  ${said}`)), said);
  }
});

Deno.test("web config: TLS 1.2 and 1.3 are served, nothing older (min_version TLS12 is met)", async () => {
  const openssl = await new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" }).output()
    .then((o) => o.success, () => false);
  if (!openssl) {
    console.log("openssl not installed: TLS versions not probed");
    return;
  }
  const peer = await TestPeer.start();
  const cfg = await webConfig(`tls_server_config:\n  cert_file: ${CERT}\n  key_file: ${KEY}\n  min_version: TLS12\n`);
  const port = freePort();
  const listen = `127.0.0.1:${port}`;
  const exp = spawn(
    ["--metrics-addr", listen, "--web.config.file", cfg.path, peer.socketPath],
    [
      `--allow-read=${peer.socketPath},${cfg.path},${CERT},${KEY}`,
      `--allow-write=${peer.socketPath}`,
      `--allow-net=unix:${peer.socketPath},${listen}`,
    ],
  );
  try {
    await exp.waitLog(/serving https:/);
    const probe = async (version: string) => {
      const out = await new Deno.Command("openssl", {
        args: ["s_client", "-connect", listen, `-${version}`, "-CAfile", CA],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    };
    assertMatch(await probe("tls1_3"), /New, TLSv1\.3, Cipher is /);
    assertMatch(await probe("tls1_2"), /New, TLSv1\.2, Cipher is /);
    // The server answers a TLS 1.1 hello with a handshake_failure alert: no session.
    const old = await probe("tls1_1");
    assertMatch(old, /alert handshake failure/);
    assertMatch(old, /New, \(NONE\), Cipher is \(NONE\)/);
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
    await Deno.remove(cfg.dir, { recursive: true });
  }
});

Deno.test("web config: a flood of wrong passwords neither floods the log nor starves a scraper", async () => {
  const peer = await TestPeer.start();
  const cfg = await webConfig(`basic_auth_users:\n  prometheus: ${HASH}\n`);
  const port = freePort();
  const listen = `127.0.0.1:${port}`;
  const exp = spawn(
    ["--metrics-addr", listen, "--web.config.file", cfg.path, peer.socketPath],
    [
      `--allow-read=${peer.socketPath},${cfg.path}`,
      `--allow-write=${peer.socketPath}`,
      `--allow-net=unix:${peer.socketPath},${listen}`,
    ],
  );
  const get = (auth: string) =>
    fetch(`http://${listen}/metrics`, { headers: { Authorization: `Basic ${btoa(auth)}` } }).then(async (r) => {
      await r.body?.cancel();
      return r.status;
    });
  try {
    await exp.waitLog(/connected to .* \(flavour pr-trace\)/);
    assertEquals(await get("prometheus:scrape-secret"), 200); // verified once, then cached
    const linesBefore = exp.lines.length;
    const statuses = new Map<number, number>();
    const scrapes: number[] = [];
    // 4 rounds of 30 wrong passwords at once, a real scrape in the middle of each.
    for (let round = 0; round < 4; round++) {
      const flood = Array.from({ length: 30 }, (_, i) => get(`prometheus:wrong-${round}-${i}`));
      scrapes.push(await get("prometheus:scrape-secret"));
      for (const s of await Promise.all(flood)) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    assertEquals(scrapes, [200, 200, 200, 200]);
    // Every wrong one is refused: 401 once checked, 429 over the check budget (4 per second).
    assertEquals((statuses.get(401) ?? 0) + (statuses.get(429) ?? 0), 120, JSON.stringify([...statuses]));
    assert((statuses.get(429) ?? 0) > 0, `over budget: ${JSON.stringify([...statuses])}`);
    assertEquals(exp.lines.slice(linesBefore), [], "nothing logged for refused requests");
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
    await Deno.remove(cfg.dir, { recursive: true });
  }
});

Deno.test("web config mistakes and missing grants: one line naming the field or the flags, exit 2", async () => {
  const sock = "/tmp/bitcoind-ipc-exporter-test-webcfg.sock";
  const listen = "127.0.0.1:9";
  const cases: [string, string][] = [
    [`tls_server_config:\n  cert_file: ${CERT}\n`, "tls_server_config.key_file: missing (cert_file is given)"],
    [
      `tls_server_config:\n  cert_file: ${CERT}\n  key_file: ${KEY}\n  min_version: TLS13\n`,
      "tls_server_config.min_version: TLS13 cannot be enforced under Deno",
    ],
    ["basic_auth_users:\n  prometheus: hunter2\n", "basic_auth_users.prometheus: expected a bcrypt hash"],
    ["tls_config: {}\n", "tls_config: unknown field"],
  ];
  for (const [text, message] of cases) {
    const cfg = await webConfig(text);
    try {
      const r = await runCli(["--metrics-addr", listen, "--web.config.file", cfg.path, sock], [
        `--allow-read=${sock},${cfg.path},${CERT},${KEY}`,
        `--allow-write=${sock}`,
        `--allow-net=unix:${sock},${listen}`,
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, `bitcoind-ipc-exporter: --web.config.file ${cfg.path}: ${message}`);
    } finally {
      await Deno.remove(cfg.dir, { recursive: true });
    }
  }
  const cfg = await webConfig(TLS_AUTH);
  try {
    // Without the config's read grant: the flags for it.
    const a = await runCli(["--metrics-addr", listen, "--web.config.file", cfg.path, sock], narrowFlags(sock, listen));
    assertEquals(a.code, 2);
    assertEquals(a.stderr.trim().split("\n").length, 1, a.stderr);
    assertStringIncludes(
      a.stderr,
      `missing Deno permission: read ${cfg.path} (--web.config.file); run with --allow-read=${sock},${cfg.path} `,
    );
    // With it, but not the key's: the exact flags, the key included.
    const b = await runCli(["--metrics-addr", listen, "--web.config.file", cfg.path, sock], [
      `--allow-read=${sock},${cfg.path},${CERT}`,
      `--allow-write=${sock}`,
      `--allow-net=unix:${sock},${listen}`,
    ]);
    assertEquals(b.code, 2);
    assertEquals(
      b.stderr.trim(),
      `bitcoind-ipc-exporter: missing Deno permission: read ${KEY}; run with --allow-read=${sock},${cfg.path},${CERT},${KEY} --allow-write=${sock} --allow-net=unix:${sock},${listen}`,
    );
    // A certificate and key that do not belong together: TLS refuses them, named, exit 2.
    const port = freePort();
    await Deno.writeTextFile(cfg.path, TLS_AUTH.replace(CERT, CA));
    const m = await runCli(["--metrics-addr", `127.0.0.1:${port}`, "--web.config.file", cfg.path, sock], [
      `--allow-read=${sock},${cfg.path},${CA},${KEY}`,
      `--allow-write=${sock}`,
      `--allow-net=unix:${sock},127.0.0.1:${port}`,
    ]);
    assertEquals(m.code, 2, m.stderr);
    assertEquals(m.stderr.trim().split("\n").length, 1, m.stderr);
    assertStringIncludes(
      m.stderr,
      `ERROR --web.config.file ${cfg.path}: tls_server_config.cert_file ${CA} / key_file ${KEY}: cannot serve TLS with them: `,
    );
    // A key that is not one: named, exit 2.
    await Deno.writeTextFile(`${cfg.dir}/key.pem`, "not a key\n");
    await Deno.writeTextFile(cfg.path, TLS_AUTH.replace(KEY, "key.pem")); // relative: next to the config
    const c = await runCli(["--metrics-addr", listen, "--web.config.file", cfg.path, sock], [
      `--allow-read=${sock},${cfg.path},${CERT},${cfg.dir}/key.pem`,
      `--allow-write=${sock}`,
      `--allow-net=unix:${sock},${listen}`,
    ]);
    assertEquals(c.code, 2, c.stderr);
    assertEquals(
      c.stderr.trim(),
      `bitcoind-ipc-exporter: --web.config.file ${cfg.path}: tls_server_config.key_file ${cfg.dir}/key.pem: not a PEM file`,
    );
  } finally {
    await Deno.remove(cfg.dir, { recursive: true });
  }
});

Deno.test("the launcher grants the web config's files as main.ts names them, and nothing else", async () => {
  const cfg = await webConfig(TLS_AUTH.replace(CERT, "cert.pem"));
  try {
    await Deno.copyFile(CERT, `${cfg.dir}/cert.pem`);
    const run = (args: string[], cwd = root) =>
      new Deno.Command("sh", {
        args: [`${root}nix/wrapper.sh`, ...args],
        cwd,
        env: {
          BITCOIND_IPC_EXPORTER_DRY_RUN: "1",
          BITCOIND_IPC_EXPORTER_DENO: Deno.execPath(),
          BITCOIND_IPC_EXPORTER_MAIN: `${root}main.ts`,
        },
      }).output();
    // Relative config path, value as a separate argument and in = form, flags around the socket.
    for (
      const args of [
        ["--web.config.file", "web.yml", "--log.level", "debug", "/run/node.sock", "--web.telemetry-path", "/m"],
        ["/run/node.sock", "--web.config.file=web.yml", "--metrics-addr", ":9400"],
      ]
    ) {
      const out = await run(args, cfg.dir);
      const stdout = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const listen = args.includes(":9400") ? "0.0.0.0:9400" : "127.0.0.1:9332";
      assertStringIncludes(
        stdout,
        ` run --cached-only --frozen --no-prompt --v8-flags=--max-semi-space-size=1,--min-semi-space-size=1,--heap-growing-percent=10 --allow-read=/run/node.sock,${cfg.path},${cfg.dir}/cert.pem,${KEY} --allow-write=/run/node.sock --allow-net=unix:/run/node.sock,${listen} ${root}main.ts `,
      );
      assertStringIncludes(stdout, cfg.path); // passed on absolute
      assert(!/--allow-(all|env|run|ffi|sys)|-A\b/.test(stdout), stdout);
    }
    // A bad config stops the launcher with main.ts's line and exit code, before anything runs.
    await Deno.writeTextFile(cfg.path, "basic_auth_users:\n  a: plain\n");
    const bad = await run(["--web.config.file", cfg.path, "/run/node.sock"]);
    assertEquals(bad.code, 2);
    assertEquals(new TextDecoder().decode(bad.stdout), "");
    assertStringIncludes(new TextDecoder().decode(bad.stderr), "basic_auth_users.a: expected a bcrypt hash");
  } finally {
    await Deno.remove(cfg.dir, { recursive: true });
  }
});

Deno.test("NixOS module: webConfigFile is --web.config.file in ExecStart, and the launcher grants its files", async () => {
  const { evalModule } = await import("./support/unit.ts");
  const cfg = await webConfig(TLS_AUTH);
  try {
    const e = await evalModule(`{ webConfigFile = "${cfg.path}"; }`);
    const exec = e.service.serviceConfig.ExecStart as string;
    assertEquals(
      exec.split(" ").slice(1),
      ["--metrics-addr", "127.0.0.1:9332", "--web.config.file", cfg.path, "/var/lib/bitcoind/node.sock"],
    );
    const out = await new Deno.Command("sh", {
      args: [`${root}nix/wrapper.sh`, ...exec.split(" ").slice(1)],
      env: {
        BITCOIND_IPC_EXPORTER_DRY_RUN: "1",
        BITCOIND_IPC_EXPORTER_DENO: Deno.execPath(),
        BITCOIND_IPC_EXPORTER_MAIN: `${root}main.ts`,
      },
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertStringIncludes(
      new TextDecoder().decode(out.stdout),
      `--allow-read=/var/lib/bitcoind/node.sock,${cfg.path},${CERT},${KEY} --allow-write=/var/lib/bitcoind/node.sock `,
    );
  } finally {
    await Deno.remove(cfg.dir, { recursive: true });
  }
});
