/**
 * A new user's first `deno task start`, measured: the tree at REV (default HEAD) unpacked with
 * `git archive` into a fresh directory (no node_modules), an empty DENO_DIR, and
 * `deno task start --check <a socket that does not exist>` run there: the task installs the npm
 * dependencies, then the exporter starts, finds no node and exits 1. Every download goes through a
 * counting HTTPS proxy in this process (HTTPS_PROXY), so the bytes are what crossed the network
 * (TLS included, both directions). Prints the bytes, the npm packages installed, node_modules'
 * size on disk and the wall time, as one JSON line per run.
 *
 *   deno run -A bench/first_run.ts [REV] [RUNS]
 */
const root = new URL("../", import.meta.url).pathname;
const rev = Deno.args[0] ?? "HEAD";
const runs = Number(Deno.args[1] ?? 1);

let bytes = 0;
let tunnels = 0;
const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const proxyPort = (proxy.addr as Deno.NetAddr).port;
async function pipe(from: Deno.Conn, to: Deno.Conn) {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      bytes += n;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch { /* the other side closed */ }
  try {
    to.closeWrite();
  } catch { /* closed */ }
}
async function tunnel(client: Deno.Conn) {
  // The request head: "CONNECT host:port HTTP/1.1" ... blank line.
  const head = new Uint8Array(8192);
  let len = 0;
  while (!new TextDecoder().decode(head.subarray(0, len)).includes("\r\n\r\n")) {
    const n = await client.read(head.subarray(len));
    if (n === null || len + n >= head.length) return client.close();
    len += n;
  }
  const m = /^CONNECT ([^\s:]+):(\d+) /.exec(new TextDecoder().decode(head.subarray(0, len)));
  if (!m) return client.close();
  const upstream = await Deno.connect({ hostname: m[1], port: Number(m[2]) });
  tunnels++;
  await client.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
  await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
  client.close();
  upstream.close();
}
(async () => {
  for await (const c of proxy) tunnel(c).catch(() => c.close());
})();

async function du(path: string): Promise<number> {
  const o = await new Deno.Command("du", { args: ["-sb", path], stdout: "piped", stderr: "null" }).output();
  return Number(new TextDecoder().decode(o.stdout).split("\t")[0]) || 0;
}

for (let i = 0; i < runs; i++) {
  const dir = await Deno.makeTempDir({ prefix: "first-run-" });
  try {
    const tree = `${dir}/tree`, denoDir = `${dir}/deno`;
    await Deno.mkdir(tree);
    const archive = await new Deno.Command("sh", {
      args: ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, tree],
    }).output();
    if (archive.code !== 0) throw new Error(`git archive ${rev} failed`);
    bytes = 0;
    tunnels = 0;
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "start", "--check", `${dir}/none/node.sock`],
      cwd: tree,
      env: {
        DENO_DIR: denoDir,
        HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`,
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - t0;
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!/not reachable or not detected/.test(text)) {
      throw new Error(`unexpected first run (exit ${out.code}):\n${text}`);
    }
    const packages = [...Deno.readDirSync(`${tree}/node_modules/.deno`)].filter((e) => e.name.includes("@")).map((e) =>
      e.name
    ).sort();
    console.log(JSON.stringify({
      rev,
      downloadedBytes: bytes,
      tlsConnections: tunnels,
      packages,
      nodeModulesBytes: await du(`${tree}/node_modules`),
      denoDirBytes: await du(denoDir),
      ms: Math.round(ms),
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
proxy.close();
