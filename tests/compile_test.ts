/**
 * `deno task compile` (tools/compile.sh) runs its whole compile step offline: DENORT_BIN names a
 * stand-in runtime, so nothing is downloaded, and the step that crashes Deno 2.9 when main.ts is
 * compiled directly (denoland/deno#36746: prom-client's npm tree in the graph) runs in full on the
 * bundle. The output is the stand-in (`/bin/false`) with the bundle and its metadata appended: not runnable, but
 * its metadata shows the permissions and arguments baked in.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

async function compile(dir: string, args: string[], env: Record<string, string> = {}) {
  // Any ELF executable will do (deno compile appends its payload as an ELF section): /bin/false.
  const fake = `${dir}/denort`;
  await Deno.copyFile("/bin/false", fake);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "compile", ...args],
    cwd: root,
    env: { DENORT_BIN: fake, DIST_DIR: `${dir}/dist`, DENO: Deno.execPath(), NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The JSON object following `"key":` in the binary's embedded metadata. */
function metadata(binary: Uint8Array, key: string): unknown {
  const text = new TextDecoder("latin1").decode(binary);
  const at = text.indexOf(`"${key}":`);
  assert(at >= 0, `no "${key}" in the binary's metadata`);
  const start = at + key.length + 3;
  const open = text[start], close = open === "[" ? "]" : "}";
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === open) depth++;
    else if (text[i] === close && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  throw new Error(`unterminated "${key}"`);
}

Deno.test("deno task compile bundles, then compiles the bundle with the launcher's permissions baked in", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const socket = `${dir}/node.sock`;
    const r = await compile(dir, ["--metrics-addr", "127.0.0.1:9400", "--no-collector.utxo_cache", socket]);
    assertEquals(r.code, 0, r.stderr);
    assert(!r.stderr.includes("overflowed its stack"), r.stderr);
    const bundle = await Deno.stat(`${dir}/dist/bundle/main.js`);
    assert(bundle.size > 100_000, `bundle of ${bundle.size} bytes`);
    // The chunks main.js imports when needed (each schema generation's) go into the binary with it.
    const chunks = [...Deno.readDirSync(`${dir}/dist/bundle`)].map((e) => e.name).filter((n) => /_gen-.*\.js$/.test(n));
    assertEquals(chunks.length, 2, `the branch and stock generations' chunks: ${chunks.join(", ")}`);
    const binary = await Deno.readFile(`${dir}/dist/bitcoind-ipc-exporter`);
    // The stand-in runtime (an ELF file), with the payload in it.
    assertEquals([...binary.slice(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    const payload = new TextDecoder("latin1").decode(binary);
    for (const name of ["main.js", ...chunks]) assertStringIncludes(payload, name);
    const perms = metadata(binary, "permissions") as Record<string, unknown>;
    assertEquals(perms.allow_read, [socket]);
    assertEquals(perms.allow_write, [socket]);
    assertEquals(perms.allow_net, [`unix:${socket}`, "127.0.0.1:9400"]);
    for (const k of ["allow_env", "allow_run", "allow_ffi", "allow_sys"]) assertEquals(perms[k], null, k);
    assertEquals(perms.prompt, false);
    assertEquals(metadata(binary, "argv"), ["--metrics-addr", "127.0.0.1:9400", "--no-collector.utxo_cache", socket]);
    console.log(`compile step: exit 0, bundle ${bundle.size} B, binary ${binary.length} B (stand-in runtime)`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile with no arguments: the default socket, or one line saying what to give", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    // As `deno task start`: ~/.bitcoin/node.sock of the user who compiles.
    const d = await compile(dir, ["--chain", "regtest"], { HOME: dir });
    assertEquals(d.code, 0, d.stderr);
    const binary = await Deno.readFile(`${dir}/dist/bitcoind-ipc-exporter`);
    assertEquals((metadata(binary, "permissions") as Record<string, unknown>).allow_read, [
      `${dir}/.bitcoin/regtest/node.sock`,
    ]);
    assertEquals(metadata(binary, "argv"), [`${dir}/.bitcoin/regtest/node.sock`]);
    await Deno.remove(`${dir}/dist`, { recursive: true });
    // No HOME and no socket path: nothing to name in the permissions.
    const r = await compile(dir, [], { HOME: "" });
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(r.stderr, "deno task compile: give the socket path the binary is for");
    assert(!(await Deno.stat(`${dir}/dist/bitcoind-ipc-exporter`).catch(() => undefined)), "no binary written");
    // Arguments the launcher refuses are refused here too, before anything is granted.
    const bad = await compile(dir, ["--metrics-addr", "0.0.0.0:9332,evil.example:80", `${dir}/node.sock`]);
    assertEquals(bad.code, 2, bad.stderr);
    assertStringIncludes(bad.stderr, "invalid listen address");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
