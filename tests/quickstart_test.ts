/**
 * The README's quick start, run as written: the block after `<!-- quickstart` (npx, Deno from npm,
 * `deno task start` with no argument) with HOME pointing at a directory whose
 * `.bitcoin/node.sock` is the C++ test peer's, then the scrape block after `<!-- quickstart-scrape`.
 * npm's and Deno's caches stay the machine's own (npm_config_cache, DENO_DIR), so nothing is
 * downloaded that the machine already has. And `deno task install` into a temporary prefix, whose
 * launcher then runs against the peer.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { freePort } from "./support/exporter.ts";
import { waitFor } from "./support/wait.ts";
import { assertCacheUsedReadOnly } from "./support/deno_cache.ts";
import denoConfig from "../deno.json" with { type: "json" };

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

/** The first ```sh block after the line starting with `marker`. */
export function readmeBlock(readme: string, marker: string): string {
  const at = readme.indexOf(marker);
  assert(at >= 0, `README.md has no ${marker}`);
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert(m, `no sh block after ${marker}`);
  return m[1].trim();
}

async function output(cmd: string, args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return dec.decode(o.stdout).trim();
}

/** The machine's own caches, found before HOME is changed. */
async function caches(): Promise<Record<string, string>> {
  const denoDir = JSON.parse(await output(Deno.execPath(), ["info", "--json"])).denoDir as string;
  return { DENO_DIR: denoDir, npm_config_cache: await output("npm", ["config", "get", "cache"]) };
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("the README's quick start, as written, runs the exporter for ~/.bitcoin/node.sock and scrapes it", async () => {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const start = readmeBlock(readme, "<!-- quickstart:");
  const scrape = readmeBlock(readme, "<!-- quickstart-scrape");
  assertMatch(start, /^npx -y deno@\d+\.\d+\.\d+ task start$/);
  assertStringIncludes(start, `deno@${Deno.version.deno}`, "the quick start names the Deno CI runs");
  const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "quickstart-home-" }));
  await Deno.mkdir(`${home}/.bitcoin`);
  const peer = await TestPeer.start({ socketPath: `${home}/.bitcoin/node.sock` });
  const env = { ...await caches(), HOME: home, NO_COLOR: "1", npm_config_update_notifier: "false" };
  let child: Deno.ChildProcess | undefined;
  let out = "";
  try {
    await peer.ok("set isInitialBlockDownload 0");
    // The quick start serves the default port: wait (bounded) for it if another test holds it.
    await waitFor("127.0.0.1:9332 to be free", () => portFree(9332) || undefined, 60_000);
    // Its own process group, so that the stop reaches the exporter behind npx, deno task and the launcher.
    child = new Deno.Command("setsid", {
      args: ["bash", "-c", start],
      cwd: root,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reading = Promise.all([child.stdout, child.stderr].map(async (s) => {
      for await (const c of s.pipeThrough(new TextDecoderStream())) out += c;
    }));
    await peer.waitStatus((s) => s.connected === "1", 60_000).catch((e) => {
      throw new Error(`${e.message}\n${out}`);
    });
    const scraped = await waitFor("the scrape block to show bitcoin_up 1", async () => {
      const o = await new Deno.Command("bash", { args: ["-c", scrape], cwd: root, env, stdout: "piped" }).output();
      const text = dec.decode(o.stdout);
      return /^bitcoin_up 1$/m.test(text) ? text : undefined;
    }, 30_000);
    Deno.kill(-child.pid, "SIGTERM");
    await child.status;
    await reading;
    console.log(`$ ${start}\n${out.trim()}\n\n$ ${scrape}\n${scraped.trim()}`);
    assertStringIncludes(out, `node socket ${home}/.bitcoin/node.sock`);
    assertStringIncludes(out, "subscriptions disconnected, connection closed");
    await peer.waitStatus((s) => s.connected === "0");
    child = undefined;
  } finally {
    if (child) {
      try {
        Deno.kill(-child.pid, "SIGTERM");
      } catch { /* gone */ }
      await child.status;
    }
    assertEquals(await peer.stop(), 0, `the peer survived: ${peer.notices.join(" | ")}`);
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("deno task install writes a launcher and the bundle into a prefix; the launcher runs the exporter", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "install-" }));
  const peer = await TestPeer.start();
  try {
    const inst = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "install", `${dir}/prefix`],
      cwd: root,
      env: { DENO: Deno.execPath() },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(inst.code, 0, dec.decode(inst.stderr));
    const bin = `${dir}/prefix/bin/bitcoind-ipc-exporter`;
    const launcher = await Deno.readTextFile(bin);
    assert(!/@deno@|@main@|@denodir@/.test(launcher), "placeholders filled in");
    const lib = `${dir}/prefix/lib/bitcoind-ipc-exporter`;
    assertStringIncludes(launcher, `${lib}/main.js`);
    await assertCacheUsedReadOnly(bin, `${lib}/deno-dir`, [dir, `${dir}/prefix`]);
    // Run from elsewhere, with a clean environment: no clone, no task, only the installed files.
    const clean = { PATH: "/usr/bin:/bin", HOME: dir };
    const v = await new Deno.Command(bin, {
      args: ["--version"],
      cwd: dir,
      clearEnv: true,
      env: clean,
      stdout: "piped",
    })
      .output();
    // The long form (main.ts versionText): its first line names the version.
    assertEquals(dec.decode(v.stdout).split("\n")[0], `bitcoind-ipc-exporter, version ${denoConfig.version}`);
    const port = freePort();
    const run = new Deno.Command(bin, {
      args: ["--metrics-addr", `127.0.0.1:${port}`, peer.socketPath],
      cwd: dir,
      clearEnv: true,
      env: clean,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const body = await waitFor("the installed exporter's /metrics", async () => {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      const t = await r.text();
      return /^bitcoin_up 1$/m.test(t) ? t : undefined;
    }, 30_000);
    assertStringIncludes(body, 'bitcoind_ipc_exporter_node_info{flavour="pr-trace"} 1');
    run.kill("SIGTERM");
    const status = await run.status;
    const stderr = dec.decode(await new Response(run.stderr).arrayBuffer());
    assertEquals(status.code, 0, stderr);
  } finally {
    assertEquals(await peer.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
