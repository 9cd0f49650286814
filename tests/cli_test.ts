/** The command line and the permission check, run as a user would run them. */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { parseCommandLine, parseListenAddress, UsageError } from "../src/cli/args.ts";
import { narrowFlags, runCli, socketFlags } from "./support/exporter.ts";
import denoConfig from "../deno.json" with { type: "json" };

Deno.test("flags parse as upstream's, plus --web.listen-address and = forms", () => {
  assertEquals(parseCommandLine(["/run/node.sock"]), {
    kind: "run",
    socketPath: "/run/node.sock",
    debug: false,
    logLevel: "info",
    logFormat: "text",
    telemetryPath: "/metrics",
    listen: { hostname: "127.0.0.1", port: 9332, permission: "127.0.0.1:9332" },
    collectors: new Set([
      "chain",
      "utxo_cache",
      "node",
      "last_block",
      "block_events",
      "chaininfo",
      "network",
      "fees",
      "mempool",
    ]),
  });
  const eco = parseCommandLine(
    [
      "--web.listen-address=:9400",
      "--web.telemetry-path",
      "/m",
      "--web.config.file",
      "w.yml",
      "--log.level=warn",
      "s.sock",
    ],
    () => "/etc/x",
  );
  assert(eco.kind === "run");
  assertEquals([eco.listen, eco.telemetryPath, eco.webConfigFile, eco.logLevel, eco.debug], [
    { hostname: "0.0.0.0", port: 9400, permission: "0.0.0.0:9400" },
    "/m",
    "/etc/x/w.yml",
    "warn",
    false,
  ]);
  const dbg = parseCommandLine(["--debug", "--log.level", "debug", "--log.format", "json", "s.sock"]);
  assert(dbg.kind === "run" && dbg.debug && dbg.logLevel === "debug" && dbg.logFormat === "json");
  const off = parseCommandLine(["--no-collector.utxo_cache", "s.sock", "--collector.node=false"]);
  assert(off.kind === "run");
  assertEquals([...off.collectors], [
    "chain",
    "last_block",
    "block_events",
    "chaininfo",
    "network",
    "fees",
    "mempool",
  ]);
  const fees = parseCommandLine(["--fee-conf-targets", "6,2,6,1008", "s.sock"]);
  assert(fees.kind === "run");
  assertEquals(fees.feeConfTargets, [6, 2, 1008]);
  const c = parseCommandLine(["--debug", "--metrics-addr", "0.0.0.0:9400", "s.sock"]);
  assert(c.kind === "run" && c.debug && c.listen.permission === "0.0.0.0:9400");
  const d = parseCommandLine(["--web.listen-address=[::]:9332", "s.sock"]);
  assert(d.kind === "run" && d.listen.hostname === "::" && d.listen.permission === "[::]:9332");
  assertEquals(parseListenAddress("localhost:1").permission, "localhost:1");
  const f = parseCommandLine(["--flavour", "v31", "s.sock"]);
  assert(f.kind === "run" && f.flavour === "v31");
  const auto = parseCommandLine(["--flavour=auto", "s.sock"]);
  assert(auto.kind === "run" && auto.flavour === undefined);
});

Deno.test("bad command lines fail before anything connects, with one clear line and usage", async () => {
  for (
    const [args, message] of [
      [[], "missing <socket-path>"],
      [["--bogus", "x.sock"], "unknown flag: --bogus"],
      [["--metrics-addr"], "requires a value"],
      [["--metrics-addr", "-x", "x.sock"], '--metrics-addr requires a value, and "-x" looks like a flag'],
      // A line break in a quoted argument is escaped: still one line.
      [["--metrics-addr", "-a\nb", "x.sock"], '"-a\\x0ab" looks like a flag'],
      [["--debug=true", "x.sock"], "--debug takes no value"],
      [["--metrics-addr", "9332", "x.sock"], "invalid listen address"],
      [["--metrics-addr", "127.0.0.1:70000", "x.sock"], "invalid port"],
      [["--web.listen-address", ":0", "x.sock"], "invalid port 0"],
      [["--web.listen-address", "::9332", "x.sock"], 'invalid listen address "::9332"'],
      [["a.sock", "b.sock"], "expected one <socket-path>"],
      [
        ["--flavour", "v29", "x.sock"],
        'invalid --flavour "v29": expected auto, pr-trace, pr-ipc, chain5-node, chain5, v30, v31, v32',
      ],
      [["--no-collector.utxo", "x.sock"], 'unknown collector "utxo" in --no-collector.utxo: expected one of chain'],
      [
        ["--fee-conf-targets", "6,0", "x.sock"],
        'invalid --fee-conf-targets "6,0": "0" is not a conf target from 1 to 1008',
      ],
      [["--fee-conf-targets", "2,,6", "x.sock"], '"" is not a conf target'],
      [["--fee-conf-targets", "1009", "x.sock"], '"1009" is not a conf target'],
      [
        ["--fee-conf-targets", Array.from({ length: 21 }, (_, i) => i + 1).join(","), "x.sock"],
        "21 targets, at most 20",
      ],
    ] as [string[], string][]
  ) {
    const r = await runCli(args);
    assertEquals(r.code, 2, `exit code for ${args.join(" ")}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 2, `stderr for ${args.join(" ")}: ${r.stderr}`);
    assertStringIncludes(lines[0], message);
    assertMatch(lines[1], /^usage: bitcoind-ipc-exporter /);
  }
  let threw = false;
  try {
    parseCommandLine(["--metrics-addr", "x", "y"]);
  } catch (e) {
    threw = e instanceof UsageError;
  }
  assert(threw);
});

Deno.test("--help and --version", async () => {
  const h = await runCli(["--help"]);
  assertEquals(h.code, 0);
  assertStringIncludes(h.stdout, "--metrics-addr HOST:PORT");
  assertStringIncludes(h.stdout, "--allow-net=unix:<socket-path>");
  assertStringIncludes(h.stdout, "--web.config.file FILE");
  const v = await runCli(["--version"]);
  assertEquals(v.code, 0);
  // The ecosystem's long form (node_exporter's `NAME, version X` and one line per component).
  assertEquals(v.stdout.trim().split("\n"), [
    `bitcoind-ipc-exporter, version ${denoConfig.version}`,
    `  deno version:       ${Deno.version.deno}`,
    `  v8 version:         ${Deno.version.v8}`,
    `  typescript version: ${Deno.version.typescript}`,
    `  platform:           ${Deno.build.os}/${Deno.build.arch}`,
  ]);
});

Deno.test("a missing permission is named with the exact flags to add, no stack trace", async () => {
  const sock = "/tmp/bitcoind-ipc-exporter-test-perm.sock";
  const listen = "127.0.0.1:9";
  const full = narrowFlags(sock, listen);
  for (let drop = 0; drop < full.length; drop++) {
    const perms = full.filter((_, i) => i !== drop);
    const r = await runCli(["--metrics-addr", listen, sock], perms);
    assertEquals(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assertStringIncludes(lines[0], "missing Deno permission");
    assertStringIncludes(lines[0], full.join(" "));
  }
});

const root = new URL("../", import.meta.url).pathname;

/** Runs main.ts from `cwd`; one that has not exited after `guardMs` is killed (a hang is a failure). */
async function runMain(
  args: string[],
  o: { cwd?: string; permissions?: string[]; guardMs?: number } = {},
): Promise<{ code: number; stderr: string; killed: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--cached-only", ...(o.permissions ?? []), `${root}main.ts`, ...args],
    cwd: o.cwd ?? root,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let killed = false;
  const guard = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, o.guardMs ?? 20_000);
  const out = await child.output();
  clearTimeout(guard);
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr), killed };
}

Deno.test("a relative socket path is resolved against the working directory: exact flags, no URIError", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    for (const [arg, abs] of [["node.sock", `${dir}/node.sock`], ["regtest/node.sock", `${dir}/regtest/node.sock`]]) {
      const r = await runMain(["--metrics-addr", "127.0.0.1:9", arg], { cwd: dir });
      assertEquals(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 1, r.stderr);
      assertStringIncludes(lines[0], `run with ${narrowFlags(abs, "127.0.0.1:9").join(" ")}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("paths and addresses Deno's permission flags cannot express: one clear line, exit 2, no stack trace", async () => {
  for (
    const [args, message, usage] of [
      [
        ["~/.bitcoin/node.sock"],
        'socket path "~/.bitcoin/node.sock" starts with "~", which the shell did not expand',
        false,
      ],
      [["/tmp/a,b/node.sock"], 'socket path "/tmp/a,b/node.sock" contains a comma', false],
      [["--metrics-addr", "evil.example,127.0.0.1:9332", "/tmp/x.sock"], 'invalid listen address "evil.example,', true],
      [
        ["--metrics-addr", "0.0.0.0:9332,evil.example:80", "/tmp/x.sock"],
        'invalid listen address "0.0.0.0:9332,',
        true,
      ],
      [["--metrics-addr", "a..b:9332", "/tmp/x.sock"], 'invalid listen address "a..b:9332"', true],
      [["--metrics-addr", "[:::]:9332", "/tmp/x.sock"], 'Deno does not accept "[:::]:9332"', true],
    ] as [string[], string, boolean][]
  ) {
    const r = await runMain(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, usage ? 2 : 1, `${args.join(" ")}: ${r.stderr}`);
    assertStringIncludes(lines[0], `bitcoind-ipc-exporter: ${message}`);
    if (usage) assertMatch(lines[1], /^usage: /);
  }
});

Deno.test("a datadir or a regular file given as the socket: one line saying what it is, exit 2 before connecting", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A datadir with a regtest socket in it (left by a node, as after a crash).
    await Deno.mkdir(`${dir}/regtest`);
    const script = `Deno.listen({ transport: "unix", path: ${
      JSON.stringify(`${dir}/regtest/node.sock`)
    } }); Deno.exit(0);`;
    assert((await new Deno.Command(Deno.execPath(), { args: ["eval", script] }).output()).success);
    await Deno.writeTextFile(`${dir}/bitcoin.conf`, "regtest=1\n");
    for (
      const [path, line] of [
        [dir, `${dir} is a directory, not a socket: give the node's socket, ${dir}/regtest/node.sock`],
        [
          `${dir}/bitcoin.conf`,
          `${dir}/bitcoin.conf is a regular file (10 bytes), not a socket: give the node's socket`,
        ],
      ]
    ) {
      const r = await runMain(["--metrics-addr", "127.0.0.1:9", path], {
        permissions: narrowFlags(path, "127.0.0.1:9"),
      });
      assert(!r.killed, `still running (retrying forever?): ${r.stderr}`);
      assertEquals(r.code, 2, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, `bitcoind-ipc-exporter: ${line}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--check asks for the socket alone: main.ts, --print-permissions --check and the launcher agree", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const sock = `${dir}/node.sock`;
    const web = `${dir}/web.yml`;
    await Deno.writeTextFile(web, "tls_server_config:\n  cert_file: /etc/x/cert.pem\n  key_file: /etc/x/key.pem\n");
    const only = socketFlags(sock);
    for (const extra of [[], ["--metrics-addr", "0.0.0.0:9400"], [`--web.config.file=${web}`]]) {
      const args = ["--check", ...extra, sock];
      // The issue's command: the socket granted, nothing else. No node there: exit 1 (not reachable), not 2.
      const r = await runCli(args, only);
      assertEquals(r.code, 1, r.stderr);
      assertStringIncludes(r.stdout, "not reachable or not detected");
      // With nothing granted, the one line names exactly the socket's flags.
      const bare = await runCli(args);
      assertEquals(bare.code, 2, bare.stderr);
      assertEquals(/; run with (.*)$/.exec(bare.stderr.trim())?.[1], only.join(" "), args.join(" "));
      // --print-permissions says the same (no read of the web config needed: it is not used).
      const p = await runCli(["--print-permissions", ...args]);
      assertEquals([p.code, p.stdout], [0, `${only.join("\n")}\n`], p.stderr);
      // And the launcher grants that.
      const w = await new Deno.Command("sh", {
        args: [`${root}nix/wrapper.sh`, ...args],
        env: { BITCOIND_IPC_EXPORTER_DRY_RUN: "1", BITCOIND_IPC_EXPORTER_DENO: "deno" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const cmd = new TextDecoder().decode(w.stdout).trim();
      assertEquals(w.code, 0, new TextDecoder().decode(w.stderr));
      assertEquals(cmd.split(" ").filter((a) => a.startsWith("--allow-")), only, cmd);
    }
    // A run (no --check) still asks for the listen address too.
    const run = await runCli(["--print-permissions", "--metrics-addr", "0.0.0.0:9400", sock]);
    assertEquals(run.stdout, `${narrowFlags(sock, "0.0.0.0:9400").join("\n")}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const floorOf = (args: string[]) => (parseCommandLine(args) as { timing?: unknown }).timing;

Deno.test("--web.scrape-floor: a Prometheus duration, 0s to 60s; anything else is one line naming the flag", () => {
  assertEquals(floorOf(["--web.scrape-floor", "1s", "/s"]), { scrapeFloorMs: 1000 });
  assertEquals(floorOf(["--web.scrape-floor=250ms", "/s"]), { scrapeFloorMs: 250 });
  assertEquals(floorOf(["--web.scrape-floor=0s", "/s"]), { scrapeFloorMs: 0 });
  assertEquals(floorOf(["/s"]), undefined, "the default (DEFAULTS.scrapeFloorMs) when not given");
  for (const bad of ["1", "-1s", "2m", "61s", "1e3ms", "", "0.0001s"]) {
    let err: unknown;
    try {
      parseCommandLine([`--web.scrape-floor=${bad}`, "/s"]);
    } catch (e) {
      err = e;
    }
    assert(err instanceof UsageError, bad);
    assertStringIncludes(err.message, `invalid --web.scrape-floor "${bad}"`);
  }
});

Deno.test("--collector.template.interval: a duration from 1s to 1h, beside the switches; anything else is one line", () => {
  assertEquals(floorOf(["--collector.template.interval=5m", "/s"]), { templateIntervalMs: 300_000 });
  assertEquals(floorOf(["--collector.template", "--collector.template.interval", "30s", "/s"]), {
    templateIntervalMs: 30_000,
  });
  for (const bad of ["0s", "500ms", "2h", "5", "soon"]) {
    let err: unknown;
    try {
      parseCommandLine([`--collector.template.interval=${bad}`, "/s"]);
    } catch (e) {
      err = e;
    }
    assert(err instanceof UsageError, bad);
    assertStringIncludes(err.message, `invalid --collector.template.interval "${bad}"`);
  }
  // A setting of a collector that has none is an unknown flag, not a switch.
  let err: unknown;
  try {
    parseCommandLine(["--collector.node.interval=5s", "/s"]);
  } catch (e) {
    err = e;
  }
  assert(err instanceof UsageError);
});
