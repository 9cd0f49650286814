/**
 * The container image (issue 19), built and run with podman as README's compose example runs it:
 * `deno task image` (a base made FROM scratch here, nothing pulled), then the exporter service of
 * the README's compose block, as written, against the C++ peer whose socket sits in the bind-mounted
 * directory: `bitcoin_up 1` scraped through the published port, the process non-root, the root
 * filesystem read-only, no shell, the OCI labels, and a stop (SIGTERM) that disconnects the peer's
 * subscriptions. Needs podman and runc (tools/test.sh installs them; a missing one is a failure).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { freePort } from "./support/exporter.ts";
import { waitFor } from "./support/wait.ts";
import { load } from "js-yaml";
import denoConfig from "../deno.json" with { type: "json" };

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

/**
 * podman here: runc (crun fails on this kind of host's hybrid cgroups) and explicit rlimits (the
 * defaults it would set are refused).
 */
const RUN_FLAGS = ["--runtime", "runc"];
const LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

async function podman(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("podman", { args: [...RUN_FLAGS, ...args], env, stdout: "piped", stderr: "piped" })
    .output();
  return { code: out.code, stdout: dec.decode(out.stdout).trim(), stderr: dec.decode(out.stderr).trim() };
}

/**
 * A one-off run of the image as the compose service runs it (its user, a read-only root with no tmpfs podman
 * would add), removed when it exits; `args` go on from there (options, the image, its arguments).
 */
function oneOff(svc: Service, args: string[]) {
  return podman(["run", "--rm", ...LIMITS, "--user", svc.user, "--read-only", "--read-only-tmpfs=false", ...args]);
}

/** The first ```yaml block after the line starting with `marker`. */
function readmeYaml(readme: string, marker: string): string {
  const at = readme.indexOf(marker);
  assert(at >= 0, `README.md has no ${marker}`);
  const m = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at));
  assert(m, `no yaml block after ${marker}`);
  return m[1];
}

interface Service {
  image: string;
  user: string;
  read_only: boolean;
  volumes: string[];
  ports: string[];
  command?: string[];
}

Deno.test("the image, run as README's compose example runs it: bitcoin_up 1 through the mounted socket, non-root, read-only root, no shell", async () => {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const compose = load(readmeYaml(readme, "<!-- compose:")) as { services: Record<string, Service> };
  const svc = compose.services["bitcoind-ipc-exporter"];
  assertEquals(svc.image, `localhost/bitcoind-ipc-exporter:${denoConfig.version}`, "the tag deno task image writes");
  assertEquals(svc.read_only, true);
  assertMatch(svc.user, /^[1-9]\d*:[1-9]\d*$/, "a non-root uid:gid");
  assertEquals(svc.volumes.length, 1);
  const [, mountTarget] = svc.volumes[0].split(":");
  assertEquals(mountTarget, "/run/bitcoind");
  const node = compose.services.bitcoind;
  assert(node.volumes.some((v) => v.endsWith(":/run/bitcoind")), "the node shares the socket's directory");
  assert(node.command?.includes("-ipcbind=unix:/run/bitcoind/node.sock"), "the node makes its socket there");
  assertEquals(svc.ports, ["127.0.0.1:9332:9332"]);

  // deno task image, under a tag of this test's own; the base made afresh FROM scratch (the task reuses one made
  // before for this Deno, unless an image of someone's still uses it).
  const tag = `localhost/bitcoind-ipc-exporter:test-${crypto.randomUUID().slice(0, 8)}`;
  await podman(["rmi", `localhost/bitcoind-ipc-exporter-base:${Deno.version.deno}`]);
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "image"],
    cwd: root,
    env: { IMAGE: tag, CONTAINER_TOOL: "podman", DENO: Deno.execPath() },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(build.code, 0, dec.decode(build.stderr));
  assertEquals(dec.decode(build.stdout).trim(), tag);
  const base = JSON.parse(
    (await podman(["image", "inspect", `localhost/bitcoind-ipc-exporter-base:${Deno.version.deno}`]))
      .stdout,
  )[0];
  assertEquals(base.Config.Entrypoint, ["/bin/deno"]);

  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "container-" }));
  const name = `bitcoind-ipc-exporter-test-${crypto.randomUUID().slice(0, 8)}`;
  let peer: TestPeer | undefined;
  try {
    const inspect = JSON.parse((await podman(["image", "inspect", tag])).stdout)[0];
    const labels = inspect.Config.Labels;
    assertEquals(labels["org.opencontainers.image.version"], denoConfig.version);
    assertEquals(labels["org.opencontainers.image.licenses"], "MIT");
    assert(labels["org.opencontainers.image.source"], "a source label");
    assertEquals(inspect.Config.User, "65532:65532", "non-root by default");
    console.log(`image ${tag}: ${inspect.Size} bytes`);

    // Deno's cache, made at build time (Containerfile), is used by the service's user on the read-only root:
    // the entrypoint's own command up to the bundle, then --version. Given up ("Failed creating cache db"),
    // Deno would analyse every module again and keep 13 MiB more for the container's life.
    const entry: string[] = inspect.Config.Entrypoint;
    const main = entry.indexOf("/app/main.js");
    assert(main > 0, `the entrypoint runs /app/main.js: ${entry.join(" ")}`);
    const cached = await oneOff(svc, [
      "-e",
      "DENO_LOG=debug",
      "--entrypoint",
      JSON.stringify([...entry.slice(0, main + 1), "--version"]),
      tag,
    ]);
    assertEquals(cached.code, 0, cached.stderr);
    assertStringIncludes(cached.stdout, "bitcoind-ipc-exporter, version");
    assertStringIncludes(cached.stderr, "Opening cache /app/deno-dir/dep_analysis_cache_v2");
    assert(!/Failed creating/.test(cached.stderr), `Deno gave the image's cache up:\n${cached.stderr}`);

    // The node: the peer, its socket in the shared directory, owned by the compose example's uid:gid
    // (the node's user) and reachable by that user alone, as Bitcoin Core's umask 0077 leaves it.
    const [uid, gid] = svc.user.split(":").map(Number);
    const ipc = `${dir}/ipc`;
    await Deno.mkdir(ipc, { mode: 0o755 });
    await Deno.chmod(dir, 0o755);
    peer = await TestPeer.start({ socketPath: `${ipc}/node.sock` });
    await peer.ok("set isInitialBlockDownload 0");
    await Deno.chown(`${ipc}/node.sock`, uid, gid);
    await Deno.chmod(`${ipc}/node.sock`, 0o600);

    // The service as written: its user, read_only, the socket directory and the port (on a free host port).
    const port = freePort();
    const [hostIp, , containerPort] = svc.ports[0].split(":");
    const t0 = performance.now();
    const started = await podman([
      "run",
      "-d",
      "--name",
      name,
      ...LIMITS,
      "--user",
      svc.user,
      // Read-only as compose makes it with docker: no tmpfs on /tmp, /run (podman adds them by default).
      ...(svc.read_only ? ["--read-only", "--read-only-tmpfs=false"] : []),
      "-v",
      `${ipc}:${mountTarget}`,
      "-p",
      `${hostIp}:${port}:${containerPort}`,
      tag,
      ...(svc.command ?? []),
    ]);
    assertEquals(started.code, 0, started.stderr);
    const body = await waitFor("bitcoin_up 1 from the container", async () => {
      try {
        const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /^bitcoin_up 1$/m.test(t) ? t : undefined;
      } catch {
        return undefined;
      }
    }, 60_000);
    const startup = Math.round(performance.now() - t0);
    assertStringIncludes(body, 'bitcoind_ipc_exporter_node_info{flavour="pr-trace"} 1');

    // Non-root: the process runs as the service's uid:gid.
    const pid = (await podman(["inspect", "-f", "{{.State.Pid}}", name])).stdout;
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    assertEquals(/^Uid:\s+(.*)$/m.exec(status)?.[1].split(/\s+/), [`${uid}`, `${uid}`, `${uid}`, `${uid}`]);
    assertEquals(/^Gid:\s+(.*)$/m.exec(status)?.[1].split(/\s+/), [`${gid}`, `${gid}`, `${gid}`, `${gid}`]);
    // A read-only root: mounted ro, and a write to it fails.
    const rootMount = (await Deno.readTextFile(`/proc/${pid}/mountinfo`)).split("\n").find((l) =>
      l.split(" ")[4] === "/"
    );
    assert(rootMount?.split(" ")[5].split(",").includes("ro"), `root mount: ${rootMount}`);
    const write = await podman(["exec", name, "/bin/deno", "eval", "Deno.writeTextFileSync('/probe', 'x')"]);
    assert(write.code !== 0 && /Read-only file system/.test(write.stderr), `${write.code}: ${write.stderr}`);
    // No shell in the image.
    const shell = await podman(["exec", name, "/bin/sh", "-c", "true"]);
    assert(shell.code !== 0, "no /bin/sh");

    // Stop: SIGTERM, subscriptions disconnected, exit 0.
    const stop = await podman(["stop", "-t", "30", name]);
    assertEquals(stop.code, 0, stop.stderr);
    assertEquals((await podman(["inspect", "-f", "{{.State.ExitCode}}", name])).stdout, "0");
    const logs = await podman(["logs", name]);
    assertStringIncludes(logs.stdout + logs.stderr, "subscriptions disconnected, connection closed");
    await peer.waitStatus((s) => s.connected === "0");
    console.log(`container: podman run to bitcoin_up 1 in ${startup} ms`);

    // `--check` after the image name (README): the node is reached and detected, exit 0.
    const check = await oneOff(svc, [
      "-v",
      `${ipc}:${mountTarget}`,
      tag,
      "--check",
    ]);
    assertEquals(check.code, 0, `${check.stdout}\n${check.stderr}`);
    assertStringIncludes(check.stdout, "node at /run/bitcoind/node.sock: flavour pr-trace");
  } finally {
    await podman(["rm", "-f", name]);
    await podman(["rmi", tag]);
    if (peer) assertEquals(await peer.stop(), 0, `the peer survived: ${peer.notices.join(" | ")}`);
    await Deno.remove(dir, { recursive: true });
  }
});
