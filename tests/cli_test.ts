/** The command line and the permission check, run as a user would run them. */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { parseCommandLine, parseListenAddress, UsageError } from "../src/cli.ts";
import { narrowFlags, runCli } from "./support/exporter.ts";
import denoConfig from "../deno.json" with { type: "json" };

Deno.test("flags parse as upstream's, plus --web.listen-address and = forms", () => {
  assertEquals(parseCommandLine(["/run/node.sock"]), {
    kind: "run",
    socketPath: "/run/node.sock",
    debug: false,
    listen: { hostname: "127.0.0.1", port: 9332, permission: "127.0.0.1:9332" },
  });
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
      [["--metrics-addr", "9332", "x.sock"], "invalid listen address"],
      [["--metrics-addr", "127.0.0.1:70000", "x.sock"], "invalid port"],
      [["a.sock", "b.sock"], "expected one <socket-path>"],
      [
        ["--flavour", "v29", "x.sock"],
        'invalid --flavour "v29": expected auto, pr-trace, pr-ipc, chain5-node, chain5, v30, v31, v32',
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
  const v = await runCli(["--version"]);
  assertEquals(v.code, 0);
  assertEquals(v.stdout.trim(), `bitcoind-ipc-exporter ${denoConfig.version}`);
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
