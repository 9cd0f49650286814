/**
 * Packaging, checked as far as this machine allows: every .nix file parses; the real NixOS module,
 * evaluated with a stand-in for nixpkgs' lib, produces the expected unit; that unit passes
 * `systemd-analyze verify` and `security`; the plain unit file matches it; the launcher derives the
 * narrow permissions; the bundle (deno task bundle) serves the same /metrics as main.ts.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { evalModule, PACKAGING_HEADER, PACKAGING_OPTIONS, renderUnit } from "./support/unit.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { normalise } from "./support/exposition.ts";
import { DEFAULTS } from "../src/cli/defaults.ts";
import { HELP } from "../src/cli/args.ts";
import { COLLECTORS } from "../src/collectors/mod.ts";
import denoConfig from "../deno.json" with { type: "json" };

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

async function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = root) {
  const out = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("every .nix file parses", async () => {
  const files = [
    "flake.nix",
    ...[...Deno.readDirSync(`${root}nix`)].filter((e) => e.name.endsWith(".nix")).map((e) => `nix/${e.name}`),
    ...[...Deno.readDirSync(`${root}nix/tests`)].map((e) => `nix/tests/${e.name}`),
  ];
  assert(files.length >= 6);
  for (const f of files) {
    const r = await run("nix-instantiate", ["--parse", f]);
    assertEquals(r.code, 0, `${f}: ${r.stderr}`);
  }
});

Deno.test("the module keeps ipc-exporter-rust's options, names and defaults, and adds four", async () => {
  const e = await evalModule("{}");
  assertEquals(e.optionNames.sort(), [
    "after",
    "bindsTo",
    "collectors",
    "debug",
    "enable",
    "extraFlags",
    "group",
    "metricsAddr",
    "openFirewall",
    "package",
    "socketPath",
    "user",
    "webConfigFile",
  ]);
  assertEquals(e.defaults, {
    after: [],
    bindsTo: [],
    collectors: {},
    debug: false,
    enable: false,
    extraFlags: [],
    group: "root",
    metricsAddr: "127.0.0.1:9332",
    openFirewall: false,
    user: "root",
    webConfigFile: null,
  });
  const sc = e.service.serviceConfig;
  assertEquals([sc.Restart, sc.RestartSec, e.service.startLimitBurst, e.service.startLimitIntervalSec], [
    "on-failure",
    10,
    20,
    300,
  ]);
  assertEquals(sc.MemoryDenyWriteExecute, false);
  assertEquals(sc.ReadWritePaths, ["/var/lib/bitcoind"]);
  assertEquals(e.service.environment.NO_COLOR, "1");
});

const PKG = "/nix/store/00000000000000000000000000000000-bitcoind-ipc-exporter-0.1.0/bin/bitcoind-ipc-exporter";

async function wrapperCommand(execStart: string): Promise<string> {
  // Split ExecStart like systemd does (single-quoted arguments), and run the launcher in dry-run mode.
  const args = [...execStart.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => m[1]?.replaceAll("'\\''", "'") ?? m[2]);
  assertEquals(args[0], PKG);
  const r = await run("sh", [`${root}nix/wrapper.sh`, ...args.slice(1)], {
    BITCOIND_IPC_EXPORTER_DRY_RUN: "1",
    BITCOIND_IPC_EXPORTER_DENO: "deno",
    BITCOIND_IPC_EXPORTER_MAIN: "/pkg/main.ts",
  });
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim();
}

Deno.test("the image and README's command run Deno with the launcher's V8 flags", async () => {
  // One set of flags in four places. The image's two cache-filling runs must match its entrypoint too:
  // V8 refuses a code cache made under other flags, and the exporter would run without it.
  const launcher = /(?:^| )(--v8-flags=\S+) /.exec(await wrapperCommand(`${PKG} /var/lib/bitcoind/node.sock`))?.[1];
  assert(launcher, "the launcher passes --v8-flags");
  const image = [...Deno.readTextFileSync(`${root}Containerfile`).matchAll(/"(--v8-flags=[^"]*)"/g)].map((m) => m[1]);
  assertEquals(image, [launcher, launcher, launcher], "Containerfile: two RUNs and the ENTRYPOINT");
  const readme = [...Deno.readTextFileSync(`${root}README.md`).matchAll(/deno run (--v8-flags=\S+)/g)].map((m) => m[1]);
  assertEquals(readme, [launcher], "README's command without the launcher");
});

Deno.test("ExecStart and the permissions derived from it, for four option sets", async () => {
  const cases: [string, string, string, number[]][] = [
    [
      "{}",
      `${PKG} --metrics-addr 127.0.0.1:9332 /var/lib/bitcoind/node.sock`,
      "--allow-read=/var/lib/bitcoind/node.sock --allow-write=/var/lib/bitcoind/node.sock --allow-net=unix:/var/lib/bitcoind/node.sock,127.0.0.1:9332",
      [],
    ],
    [
      "{ debug = true; }",
      `${PKG} --metrics-addr 127.0.0.1:9332 --debug /var/lib/bitcoind/node.sock`,
      "--allow-net=unix:/var/lib/bitcoind/node.sock,127.0.0.1:9332",
      [],
    ],
    [
      `{ metricsAddr = "0.0.0.0:9332"; openFirewall = true; }`,
      `${PKG} --metrics-addr 0.0.0.0:9332 /var/lib/bitcoind/node.sock`,
      "--allow-net=unix:/var/lib/bitcoind/node.sock,0.0.0.0:9332",
      [9332],
    ],
    [
      `{ metricsAddr = "[::]:9400"; openFirewall = true; extraFlags = [ "--debug" "--flavour" "v32" ]; }`,
      `${PKG} --metrics-addr '[::]:9400' --debug --flavour v32 /var/lib/bitcoind/node.sock`,
      "--allow-net=unix:/var/lib/bitcoind/node.sock,[::]:9400",
      [9400],
    ],
    [
      `{ collectors = { utxo_cache = false; last_block = true; }; extraFlags = [ "--debug" ]; }`,
      `${PKG} --metrics-addr 127.0.0.1:9332 --collector.last_block --no-collector.utxo_cache --debug /var/lib/bitcoind/node.sock`,
      "--allow-net=unix:/var/lib/bitcoind/node.sock,127.0.0.1:9332",
      [],
    ],
  ];
  for (const [options, execStart, perms, ports] of cases) {
    const e = await evalModule(options);
    assertEquals(e.service.serviceConfig.ExecStart, execStart, options);
    assertEquals(e.firewall, ports, options);
    const cmd = await wrapperCommand(execStart);
    assertStringIncludes(cmd, `deno run --cached-only --frozen --no-prompt `);
    // The V8 heap flags chosen from bench/mem.ts's measurements (BENCHMARKS.md "Memory").
    assertStringIncludes(cmd, ` --v8-flags=--max-semi-space-size=1,--min-semi-space-size=1,--heap-growing-percent=10 `);
    assertStringIncludes(cmd, perms);
    assert(!/--allow-(all|env|run|ffi|sys)|-A\b/.test(cmd), `no broad permissions: ${cmd}`);
  }
});

Deno.test("the launcher finds the socket wherever the flags stand, and never takes a flag's value for it", async () => {
  const cmd = await wrapperCommand(`${PKG} /run/node.sock --flavour v31 --metrics-addr=127.0.0.1:9400`);
  assertStringIncludes(cmd, "--allow-read=/run/node.sock --allow-write=/run/node.sock");
  assertStringIncludes(cmd, "--allow-net=unix:/run/node.sock,127.0.0.1:9400 /pkg/main.ts /run/node.sock --flavour v31");
});

Deno.test("the unit passes systemd-analyze verify (no output) and security at 'OK' or better", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const e = await evalModule(PACKAGING_OPTIONS);
    const unit = renderUnit(e.service).replace(/^ExecStart=\S+/m, "ExecStart=/bin/true");
    await Deno.writeTextFile(`${dir}/bitcoind-ipc-exporter.service`, unit);
    await Deno.writeTextFile(
      `${dir}/bitcoind.service`,
      "[Unit]\nDescription=stub node\n[Service]\nExecStart=/bin/true\n",
    );
    const v = await run(
      "systemd-analyze",
      ["verify", "--man=no", "./bitcoind.service", "./bitcoind-ipc-exporter.service"],
      {},
      dir,
    );
    assertEquals([v.code, v.stdout + v.stderr], [0, ""], "systemd-analyze verify");
    const s = await run("systemd-analyze", ["security", "--offline=true", `${dir}/bitcoind-ipc-exporter.service`]);
    const level = Number(/Overall exposure level for .*: ([\d.]+)/.exec(s.stdout + s.stderr)?.[1]);
    console.log(`systemd-analyze security: exposure ${level}`);
    // 2.0 is the top of systemd's "OK" band; measured here: 1.5.
    assert(level <= 2.0, `exposure ${level}: ${s.stdout}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("packaging/bitcoind-ipc-exporter.service is exactly the module's unit", async () => {
  const e = await evalModule(PACKAGING_OPTIONS);
  const file = await Deno.readTextFile(`${root}packaging/bitcoind-ipc-exporter.service`);
  assertEquals(file, renderUnit(e.service, PACKAGING_HEADER), "run `deno task unit`");
});

Deno.test("the bundle (deno task bundle) serves the same /metrics as main.ts, with the same narrow permissions", async () => {
  const dir = await Deno.makeTempDir();
  const b = await run(Deno.execPath(), ["task", "--quiet", "bundle", `${dir}/bundle`]);
  assertEquals(b.code, 0, b.stderr);
  const bundle = `${dir}/bundle/main.js`;
  const v = await run(Deno.execPath(), ["run", "--no-config", "--no-prompt", bundle, "--version"], {}, dir);
  assertEquals(v.stdout.split("\n")[0], `bitcoind-ipc-exporter, version ${denoConfig.version}`);
  const peer = await TestPeer.start();
  try {
    await peer.ok("set isInitialBlockDownload 0");
    await peer.ok("set getMempoolSize 12");
    const scrape = async (entry: string | undefined) => {
      const exp = ExporterProc.start({ socketPath: peer.socketPath, entry });
      // Every collector attached (B's scrape collectors attach after the UTXO subscription): a
      // scrape before that would read none of their values.
      await exp.waitLog(/connected to .* \(flavour pr-trace\)/);
      await peer.ok(`fire blockConnected 300 ${"66".repeat(32)} 0`);
      await peer.ok("fire utxoAdd 7 1 1 0");
      const body = await exp.scrape();
      assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
      await peer.waitStatus((s) => s.connected === "0");
      return samples(normalise(body));
    };
    const fromMain = await scrape(undefined);
    const fromBundle = await scrape(bundle);
    // Counters are per exporter process, so both saw the same one block and one coin.
    assertEquals([...fromBundle.entries()], [...fromMain.entries()]);
    assertEquals(fromBundle.get("bitcoin_mempool_size"), "12");
  } finally {
    assertEquals(await peer.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

/** The launcher in dry-run mode from `cwd`: what it would run, or its refusal. */
function launcher(args: string[], cwd = root) {
  return run("sh", [`${root}nix/wrapper.sh`, ...args], {
    BITCOIND_IPC_EXPORTER_DRY_RUN: "1",
    BITCOIND_IPC_EXPORTER_DENO: "deno",
    BITCOIND_IPC_EXPORTER_MAIN: "/pkg/main.ts",
  }, cwd);
}

const grants = (cmd: string) => cmd.split(" ").filter((a) => a.startsWith("--allow-"));

Deno.test("the launcher refuses arguments whose commas would widen its grants, before granting anything", async () => {
  for (
    const [args, cwd, message] of [
      [["--metrics-addr", "0.0.0.0:9332,evil.example:80", "/s.sock"], root, 'invalid listen address "0.0.0.0:9332,'],
      [["--web.listen-address=evil.example,127.0.0.1:9332", "/s.sock"], root, 'invalid listen address "evil.example,'],
      [["S,tmp"], "/", 'socket path "S,tmp" contains a comma, which Deno\'s permission flags cannot express'],
      [["--debug", "/var/lib/a,b/node.sock"], root, 'socket path "/var/lib/a,b/node.sock" contains a comma'],
      [["~/.bitcoin/node.sock"], root, 'socket path "~/.bitcoin/node.sock" starts with "~", which the shell did not'],
    ] as [string[], string, string][]
  ) {
    const r = await launcher(args, cwd);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
    assertEquals(r.stdout, "", "nothing run, nothing granted");
    assertStringIncludes(r.stderr.split("\n")[0], `bitcoind-ipc-exporter: ${message}`);
  }
});

Deno.test("the launcher grants exactly the permissions main.ts asks for, relative paths included", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    for (
      const args of [
        ["/var/lib/bitcoind/node.sock"],
        ["node.sock"],
        ["./regtest/node.sock", "--debug"],
        ["../elsewhere/node.sock"],
        ["--metrics-addr", "[::1]:09332", "--flavour", "v31", "node.sock"],
        ["--web.listen-address=0.0.0.0:9400", "rel.sock"],
        ["--", "-dash.sock"],
      ]
    ) {
      const w = await launcher(args, dir);
      assertEquals(w.code, 0, w.stderr);
      // main.ts with no permission names the ones it needs.
      const m = await run(Deno.execPath(), ["run", "--no-prompt", "--cached-only", `${root}main.ts`, ...args], {}, dir);
      assertEquals(m.code, 2, m.stderr);
      const asked = /; run with (.*)$/.exec(m.stderr.trim())?.[1];
      assertEquals(grants(w.stdout.trim()).join(" "), asked, args.join(" "));
      // And main.ts gets the path it was granted: absolute, as the launcher resolved it.
      const socket = /--allow-read=(\S+)/.exec(w.stdout)![1];
      assert(socket.startsWith("/") && w.stdout.trim().split(" ").includes(socket), w.stdout);
    }
    // Both refuse the same arguments.
    for (
      const args of [
        ["S,tmp"],
        ["~/x.sock"],
        ["--metrics-addr", "evil.example,127.0.0.1:9332", "/s.sock"],
        ["--metrics-addr", "a..b:1", "/s.sock"],
        ["--metrics-addr", "127.0.0.1:0", "/s.sock"],
        ["--metrics-addr", "127.0.0.1:65536", "/s.sock"],
      ]
    ) {
      const w = await launcher(args, dir);
      const m = await run(Deno.execPath(), ["run", "--no-prompt", "--cached-only", `${root}main.ts`, ...args], {}, dir);
      assertEquals([w.code, m.code], [2, 2], `${args.join(" ")}: ${w.stderr} / ${m.stderr}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Runs the launcher for real with a stand-in `deno` (the shell script `script`) and a clean
 * environment plus `env`: what the stand-in printed.
 */
async function throughLauncher(script: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    const fake = `${dir}/deno`;
    await Deno.writeTextFile(fake, `#!/bin/sh\n${script}\n`);
    await Deno.chmod(fake, 0o755);
    const out = await new Deno.Command("sh", {
      args: [`${root}nix/wrapper.sh`, ...args],
      clearEnv: true,
      env: {
        PATH: "/usr/bin:/bin",
        BITCOIND_IPC_EXPORTER_DENO: fake,
        BITCOIND_IPC_EXPORTER_MAIN: "/pkg/main.ts",
        ...env,
      },
      stdout: "piped",
    }).output();
    return dec.decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Deno's update check is off wherever the exporter is launched (launcher, unit, README)", async () => {
  // The launcher really execs Deno with it: a stand-in `deno` prints the environment it got.
  const args = ["--metrics-addr", "127.0.0.1:9400", "/run/node.sock"];
  const text = await throughLauncher('env | grep -E "^(DENO_NO_UPDATE_CHECK|NO_COLOR)="\necho "args: $*"', args);
  assertStringIncludes(text, "DENO_NO_UPDATE_CHECK=1\n");
  const dry = await launcher(args);
  assertEquals(/args: (.*)/.exec(text)?.[1], dry.stdout.trim().replace(/^.* deno /, ""), "dry run = real run");
  const e = await evalModule(PACKAGING_OPTIONS);
  assertEquals(e.service.environment.DENO_NO_UPDATE_CHECK, "1");
  assertStringIncludes(
    await Deno.readTextFile(`${root}packaging/bitcoind-ipc-exporter.service`),
    "Environment=DENO_NO_UPDATE_CHECK=1\n",
  );
  // deno.json's start task goes through the launcher.
  assertStringIncludes(denoConfig.tasks.start, "nix/wrapper.sh");
  // Every `deno run` of the exporter the README shows sets it.
  const readme = (await Deno.readTextFile(`${root}README.md`)).replaceAll("\\\n", " ");
  const runs = [...readme.matchAll(/^.*deno run [^\n]*(?:main\.ts|main\.js)[^\n]*$/gm)].map((m) => m[0]);
  assert(runs.length >= 2, `README deno run commands: ${runs.join(" | ")}`);
  for (const cmd of runs) assertStringIncludes(cmd, "DENO_NO_UPDATE_CHECK=1 deno run", cmd);
});

Deno.test("the launcher runs Deno with one malloc arena unless the operator set another (wrapper, image)", async () => {
  // A stand-in `deno` prints the allocator setting it was started with.
  const arenas = async (env: Record<string, string>) =>
    (await throughLauncher('echo "arenas=${MALLOC_ARENA_MAX-unset}"', ["/run/node.sock"], env)).trim();
  assertEquals(await arenas({}), "arenas=1");
  assertEquals(await arenas({ MALLOC_ARENA_MAX: "4" }), "arenas=4");
  assertStringIncludes(await Deno.readTextFile(`${root}Containerfile`), "\nENV MALLOC_ARENA_MAX=1\n");
});

Deno.test("systemctl reload sends SIGHUP (ExecReload), which the exporter answers without stopping", async () => {
  const e = await evalModule(PACKAGING_OPTIONS);
  // Evaluated without nixpkgs, as for the plain unit; NixOS gets coreutils' kill.
  assertEquals(e.service.serviceConfig.ExecReload, "/bin/kill -HUP $MAINPID");
  const { SIGNAL_POLICY } = await import("../src/signals.ts");
  assertEquals(SIGNAL_POLICY.SIGHUP?.action, "ignore", "src/signals.ts: SIGHUP keeps the exporter running");
});

Deno.test("one table of defaults: --help, the launcher and the NixOS module agree with src/cli/defaults.ts", async () => {
  const e = await evalModule("{}");
  assertEquals(e.defaults.metricsAddr, DEFAULTS.listenAddress);
  const wrapper = await Deno.readTextFile(`${root}nix/wrapper.sh`);
  assertEquals(/^listen="([^"]+)"$/m.exec(wrapper)?.[1], DEFAULTS.listenAddress);
  assertStringIncludes(HELP, `(default ${DEFAULTS.listenAddress})`);
  for (const c of COLLECTORS) assertStringIncludes(HELP, `--[no-]collector.${c.name}`);
});

Deno.test("with no <socket-path>, the launcher and main.ts find the same socket (--datadir, --chain, ~/.bitcoin) and grant exactly it", async () => {
  const home = await Deno.realPath(await Deno.makeTempDir());
  try {
    const cases: [string[], string][] = [
      [[], `${home}/.bitcoin/node.sock`],
      [["--chain", "regtest"], `${home}/.bitcoin/regtest/node.sock`],
      [["--chain=test", "--debug"], `${home}/.bitcoin/testnet3/node.sock`],
      [["--datadir", "/var/lib/bitcoind", "--chain", "signet"], "/var/lib/bitcoind/signet/node.sock"],
      [["--datadir=/var/lib/bitcoind/", "--chain=testnet4"], "/var/lib/bitcoind/testnet4/node.sock"],
      [["--datadir", "rel", "--metrics-addr", "127.0.0.1:9400"], `${home}/rel/node.sock`],
    ];
    for (const [args, socket] of cases) {
      const w = await run("sh", [`${root}nix/wrapper.sh`, ...args], {
        BITCOIND_IPC_EXPORTER_DRY_RUN: "1",
        BITCOIND_IPC_EXPORTER_DENO: "deno",
        BITCOIND_IPC_EXPORTER_MAIN: "/pkg/main.ts",
        HOME: home,
      }, home);
      assertEquals(w.code, 0, w.stderr);
      assertStringIncludes(w.stdout, `--allow-read=${socket} --allow-write=${socket} --allow-net=unix:${socket},`);
      // main.ts gets the socket path itself, not --datadir/--chain.
      assert(w.stdout.trim().endsWith(` ${socket}`) && !/--datadir|--chain/.test(w.stdout), w.stdout);
      // main.ts reading the same arguments (HOME readable) asks for exactly those grants.
      const m = await run(
        Deno.execPath(),
        [
          "run",
          "--no-prompt",
          "--cached-only",
          "--allow-env=HOME",
          `${root}main.ts`,
          ...args,
        ],
        { HOME: home },
        home,
      );
      assertEquals(m.code, 2, m.stderr);
      assertEquals(grants(w.stdout.trim()).join(" "), /; run with (.*)$/.exec(m.stderr.trim())?.[1], args.join(" "));
    }
    // Both refuse the same mistakes, before granting anything.
    for (const args of [["--chain", "mainnet"], ["/s.sock", "--chain", "regtest"], ["--datadir", "/a,b"]]) {
      const w = await launcher(args, home);
      const m = await run(
        Deno.execPath(),
        ["run", "--no-prompt", "--cached-only", `${root}main.ts`, ...args],
        {},
        home,
      );
      assertEquals([w.code, m.code, w.stdout], [2, 2, ""], `${args.join(" ")}: ${w.stderr} / ${m.stderr}`);
    }
    // Without HOME (or the permission to read it) and no --datadir, main.ts says what to give.
    const bare = await run(Deno.execPath(), ["run", "--no-prompt", "--cached-only", `${root}main.ts`], {}, home);
    assertEquals(bare.code, 2);
    assertStringIncludes(bare.stderr, "missing <socket-path> (or --datadir DIR;");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
