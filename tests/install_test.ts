/**
 * Installing without a hash to fill in (issue 19), proved in two parts since CI has no nixpkgs:
 * (a) nix/package.nix, evaluated by Debian's nix-instantiate with stand-ins for nixpkgs, fetches
 * exactly deno.lock's npm packages, each by the integrity the lock records; (b) its install phase,
 * run as written with those fetches answered by tarballs `npm pack` downloaded (each checked against
 * the lock's integrity here), lays out a package the exporter runs from with the Deno cache it made,
 * `--cached-only` and no network (`unshare -n`), through its launcher, against the C++ peer.
 * And what `deno task start` installs is exactly what main.ts imports.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { assertCacheUsedReadOnly } from "./support/deno_cache.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();
const denoLock = JSON.parse(await Deno.readTextFile(`${root}deno.lock`));

async function run(cmd: string, args: string[], o: { cwd?: string; env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(cmd, { args, cwd: o.cwd ?? root, env: o.env, stdout: "piped", stderr: "piped" })
    .output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface Fetch {
  key: string;
  name: string;
  url: string;
  hash: string;
}

/** nix/package.nix evaluated with stand-ins: what it fetches, and its install phase. */
async function evalPackage(tarballDir: string): Promise<{ fetches: Fetch[]; installPhase: string }> {
  const r = await run("nix-instantiate", [
    "--eval",
    "--strict",
    "--json",
    `${root}nix/tests/eval-package.nix`,
    "--argstr",
    "src",
    root.replace(/\/$/, ""),
    "--argstr",
    "tarballDir",
    tarballDir,
    "--argstr",
    "deno",
    Deno.execPath(),
  ]);
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** The lock's npm packages, each as its registry tarball and integrity (read here, not by the Nix code). */
function lockPackages(): { key: string; url: string; hash: string }[] {
  return Object.entries(denoLock.npm as Record<string, { integrity: string }>).map(([key, v]) => {
    const [, name, version] = /^(@?[^@]+)@([^_]+)/.exec(key)!;
    return {
      key,
      url: `https://registry.npmjs.org/${name}/-/${name.replace(/^@[^/]+\//, "")}-${version}.tgz`,
      hash: v.integrity,
    };
  }).sort((a, b) => a.key.localeCompare(b.key));
}

Deno.test("nix: the package fetches exactly deno.lock's npm packages, each by its integrity; no hash to fill in", async () => {
  const { fetches } = await evalPackage("/nonexistent");
  assertEquals(
    fetches.map(({ key, url, hash }) => ({ key, url, hash })).sort((a, b) => a.key.localeCompare(b.key)),
    lockPackages(),
  );
  assert(fetches.length >= 4, "the lock's packages");
  for (const f of fetches) assert(/^sha512-[A-Za-z0-9+/]+=*$/.test(f.hash), `${f.key}: ${f.hash}`);
  // No fixed-output hash left anywhere in the Nix files (`git grep fakeHash -- '*.nix'`).
  const grep = await run("git", ["grep", "-n", "-E", "fakeHash|outputHash|depsHash", "--", "*.nix"]);
  assertEquals([grep.code, grep.stdout], [1, ""], "no hash to maintain");
});

Deno.test("deno task start installs what main.ts imports, nothing more (TypeScript and capnp's compiler are deno task gen's)", async () => {
  const info = await run(Deno.execPath(), ["info", "--json", "main.ts"]);
  assertEquals(info.code, 0, info.stderr);
  const imported = Object.keys(JSON.parse(info.stdout).npmPackages).sort();
  assertEquals(Object.keys(denoLock.npm).sort(), imported);
  assert(!imported.some((p) => p.startsWith("typescript@")), imported.join(" "));
  // The generator has its own config and lock, with the compiler and TypeScript.
  const gen = JSON.parse(await Deno.readTextFile(`${root}tools/gen/deno.json`));
  assertEquals(Object.keys(gen.imports).sort(), ["capnp-es/compiler", "typescript"]);
  const genLock = JSON.parse(await Deno.readTextFile(`${root}tools/gen/deno.lock`));
  assert(Object.keys(genLock.npm).some((p) => p.startsWith("typescript@")));
});

/** The tarball's SRI sha512, computed here. */
async function integrity(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-512", await Deno.readFile(path));
  return `sha512-${btoa(String.fromCharCode(...new Uint8Array(digest)))}`;
}

Deno.test("nix: the package's install phase, from npm pack tarballs checked against deno.lock, runs the exporter offline with the cache it made", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "nix-install-" }));
  const peer = await TestPeer.start();
  try {
    // (b) The tarballs, fetched by npm (its cache may answer) and checked against the lock's integrity.
    const tarballs = `${dir}/tarballs`;
    await Deno.mkdir(tarballs);
    const { fetches, installPhase } = await evalPackage(tarballs);
    for (const f of fetches) {
      const [, name, version] = /^(@?[^@]+)@([^_]+)/.exec(f.key)!;
      const p = await run("npm", ["pack", "--json", "--pack-destination", tarballs, `${name}@${version}`]);
      assertEquals(p.code, 0, p.stderr);
      const file = `${tarballs}/${JSON.parse(p.stdout)[0].filename}`;
      assertEquals(await integrity(file), f.hash, `${f.key}: the tarball npm fetched has the lock's integrity`);
      await Deno.rename(file, `${tarballs}/${f.name}`);
    }
    // The install phase as written, in the source tree (as stdenv runs it), into $out. runHook and
    // substitute are stdenv's; substitute --subst-var-by replaces @name@ as nixpkgs' does.
    const out = `${dir}/out`;
    const stdenv = [
      "set -eu",
      "runHook() { :; }",
      'substitute() { src=$1 dst=$2; shift 2; expr=""; while [ $# -gt 0 ]; do expr="$expr -e s|@$2@|$3|g"; shift 3; done; sed $expr "$src" >"$dst"; }',
    ].join("\n");
    // No network, as in Nix's build sandbox (the phase runs Deno to make the package's cache), and no HOME.
    const offline = Deno.uid() === 0 ? ["-n"] : ["-r", "-n"];
    const install = await run("unshare", [...offline, "bash", "-c", `${stdenv}\n${installPhase}`], {
      env: { out, HOME: "/homeless-shelter", PATH: Deno.env.get("PATH")! },
    });
    assertEquals(install.code, 0, install.stderr);
    // Read-only, as in the store.
    assertEquals((await run("chmod", ["-R", "a-w", out])).code, 0);
    const bin = `${out}/bin/bitcoind-ipc-exporter`;
    assert(!/@deno@|@main@|@denodir@/.test(await Deno.readTextFile(bin)), "the launcher's placeholders filled in");
    const packaged = `${out}/lib/bitcoind-ipc-exporter/deno-dir`;
    await assertCacheUsedReadOnly(bin, packaged, [dir, out]);

    // The exporter from it: the package's own DENO_DIR (the launcher's), no network (a new network namespace
    // with only loopback, for the scrape), through the package's launcher, against the peer; SIGTERM at the end.
    await peer.ok("set isInitialBlockDownload 0");
    const denoDir = packaged;
    const scraped = `${dir}/scrape.txt`;
    const inside = [
      "set -u",
      "ip link set lo up",
      // No route out: the registry cannot be reached from here.
      "if curl -s -m 5 -o /dev/null https://registry.npmjs.org/; then echo 'network reachable' >&2; exit 3; fi",
      '"$1" --metrics-addr 127.0.0.1:9332 "$2" & pid=$!',
      // At most 300 tries, 0.1 s apart.
      'for i in $(seq 300); do curl -sf -o "$3" http://127.0.0.1:9332/metrics && grep -q "^bitcoin_up 1$" "$3" && break; sleep 0.1; done',
      'kill -TERM "$pid"; wait "$pid"',
    ].join("\n");
    const unshare = Deno.uid() === 0 ? ["-n"] : ["-r", "-n"];
    const r = await run("unshare", [...unshare, "bash", "-c", inside, "sh", bin, peer.socketPath, scraped], {
      cwd: dir,
      env: { HOME: dir, PATH: Deno.env.get("PATH")! },
    });
    assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const body = await Deno.readTextFile(scraped);
    assert(/^bitcoin_up 1$/m.test(body), body);
    assert(r.stderr.includes("subscriptions disconnected, connection closed"), r.stderr);
    // Nothing was fetched into the package's DENO_DIR, at build time or run time (Deno makes an empty npm/ there):
    // the npm packages came from the package's node_modules.
    const fetched = await run("find", [denoDir, "-path", `${denoDir}/npm/*`, "-o", "-path", `${denoDir}/remote/*`]);
    assertEquals([fetched.code, fetched.stdout], [0, ""], "no npm package or remote module in DENO_DIR");
    const cached = [...Deno.readDirSync(denoDir)].map((e) => e.name).sort();
    console.log(
      `nix layout: ${fetches.length} npm packages from the lock; ran offline, DENO_DIR holds ${cached.join(", ")}`,
    );
  } finally {
    assertEquals(await peer.stop(), 0, `the peer survived: ${peer.notices.join(" | ")}`);
    await run("chmod", ["-R", "u+w", dir]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nix: the layout of a lock with a scope, two versions, an alias, a peer variant and platform packages", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "npm-layout-" }));
  try {
    const sha = (s: string) => `sha512-${btoa(s.padEnd(64, "="))}`;
    const lock = {
      version: "5",
      specifiers: { "npm:@s/a@1": "1.0.0", "npm:b@2": "2.0.0_c@1.0.0", "npm:c@^1.0.0": "1.0.0" },
      npm: {
        "@s/a@1.0.0": { integrity: sha("a"), dependencies: ["d@1.0.0", "e@npm:d@2.0.0"] },
        "b@2.0.0_c@1.0.0": { integrity: sha("b"), dependencies: ["c", "d@2.0.0"] },
        "c@1.0.0": { integrity: sha("c") },
        "d@1.0.0": { integrity: sha("d1") },
        "d@2.0.0": { integrity: sha("d2"), optionalDependencies: ["f", "g"] },
        "f@1.0.0": { integrity: sha("f"), os: ["darwin"] },
        "g@1.0.0": { integrity: sha("g"), os: ["linux"], cpu: ["x64", "arm64"] },
      },
      workspace: { dependencies: ["npm:@s/a@1", "npm:b@2", "npm:c@^1.0.0"] },
    };
    await Deno.writeTextFile(`${dir}/deno.lock`, JSON.stringify(lock));
    const tarballs = `${dir}/tarballs`;
    await Deno.mkdir(tarballs);
    const r = await run("nix-instantiate", [
      "--eval",
      "--strict",
      "--json",
      `${root}nix/tests/eval-npm-deps.nix`,
      "--argstr",
      "lockFile",
      `${dir}/deno.lock`,
      "--argstr",
      "tarballDir",
      tarballs,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const { fetches, script } = JSON.parse(r.stdout) as { fetches: Fetch[]; script: string };
    // Every package but the one for another platform, from its registry URL (a scope's without the scope in the file).
    assertEquals(fetches.map(({ key, url, hash }) => ({ key, url, hash })), [
      { key: "@s/a@1.0.0", url: "https://registry.npmjs.org/@s/a/-/a-1.0.0.tgz", hash: sha("a") },
      { key: "b@2.0.0_c@1.0.0", url: "https://registry.npmjs.org/b/-/b-2.0.0.tgz", hash: sha("b") },
      { key: "c@1.0.0", url: "https://registry.npmjs.org/c/-/c-1.0.0.tgz", hash: sha("c") },
      { key: "d@1.0.0", url: "https://registry.npmjs.org/d/-/d-1.0.0.tgz", hash: sha("d1") },
      { key: "d@2.0.0", url: "https://registry.npmjs.org/d/-/d-2.0.0.tgz", hash: sha("d2") },
      { key: "g@1.0.0", url: "https://registry.npmjs.org/g/-/g-1.0.0.tgz", hash: sha("g") },
    ]);
    for (const f of fetches) assert(/^[A-Za-z0-9+._?=-]+$/.test(f.name), `a store path name: ${f.name}`);
    // A tarball per package: package/package.json naming it.
    for (const f of fetches) {
      const [, name, version] = /^(@?[^@]+)@([^_]+)/.exec(f.key)!;
      const src = `${dir}/src/${f.name}/package`;
      await Deno.mkdir(src, { recursive: true });
      await Deno.writeTextFile(`${src}/package.json`, JSON.stringify({ name, version }));
      const t = await run("tar", ["-czf", `${tarballs}/${f.name}`, "-C", `${dir}/src/${f.name}`, "package"]);
      assertEquals(t.code, 0, t.stderr);
    }
    const app = `${dir}/app`;
    await Deno.mkdir(app);
    await Deno.writeTextFile(`${app}/deno.json`, '{\n  "nodeModulesDir": "auto"\n}\n');
    const s = await run("bash", ["-euc", script], { cwd: app, env: { PATH: Deno.env.get("PATH")! } });
    assertEquals(s.code, 0, s.stderr);
    assertEquals(JSON.parse(await Deno.readTextFile(`${app}/deno.json`)).nodeModulesDir, "manual");
    /** name@version of the package a path resolves to (through the symlinks). */
    const at = async (path: string) => {
      const p = JSON.parse(await Deno.readTextFile(`${await Deno.realPath(path)}/package.json`));
      return `${p.name}@${p.version}`;
    };
    const nm = `${app}/node_modules`;
    // The workspace's direct dependencies at the top.
    assertEquals(await at(`${nm}/@s/a`), "@s/a@1.0.0");
    assertEquals(await at(`${nm}/b`), "b@2.0.0");
    assertEquals(await at(`${nm}/c`), "c@1.0.0");
    // Each package's dependencies beside it, where Node's resolution (and Deno's, manual) looks: the right
    // version of each, an alias under its own name.
    const folder = (key: string) => `${nm}/.deno/${key.replace("/", "+")}/node_modules`;
    assertEquals(await at(`${folder("@s/a@1.0.0")}/d`), "d@1.0.0");
    assertEquals(await at(`${folder("@s/a@1.0.0")}/e`), "d@2.0.0");
    assertEquals(await at(`${folder("b@2.0.0_c@1.0.0")}/c`), "c@1.0.0");
    assertEquals(await at(`${folder("b@2.0.0_c@1.0.0")}/d`), "d@2.0.0");
    assertEquals(await at(`${folder("d@2.0.0")}/g`), "g@1.0.0");
    assert(!(await Deno.lstat(`${folder("d@2.0.0")}/f`).catch(() => undefined)), "no package for another platform");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
