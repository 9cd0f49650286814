/**
 * A package's Deno cache (nix/package.nix, tools/install.sh, the Containerfile) as the systemd unit's service
 * user meets it: readable, not writable. Deno must open it and use it: "Opening cache" names it, and there is
 * no "Failed creating cache db", after which Deno would analyse every module again and keep 13-19 MiB more
 * RSS for the life of the process (BENCHMARKS.md "Memory: the shipped bundle"). Run through the package's
 * launcher with `--version` and Deno's debug log: as root, as another user (uid 65534, as the unit's, every
 * directory on the way made traversable); otherwise with the cache made read-only.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";

const dec = new TextDecoder();

export async function assertCacheUsedReadOnly(launcher: string, denoDir: string, traverse: string[] = []) {
  const root = Deno.uid() === 0;
  const chmod = (args: string[]) => new Deno.Command("chmod", { args }).output();
  if (root) { for (const d of traverse) await Deno.chmod(d, 0o755); }
  else await chmod(["-R", "a-w", denoDir]);
  try {
    const out = await new Deno.Command(root ? "setpriv" : "sh", {
      args: root
        ? ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", launcher, "--version"]
        : [launcher, "--version"],
      cwd: "/",
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", DENO_LOG: "debug", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = dec.decode(out.stderr);
    assertEquals(out.code, 0, log);
    assertStringIncludes(dec.decode(out.stdout), "bitcoind-ipc-exporter, version");
    assertStringIncludes(log, `Opening cache ${denoDir}/dep_analysis_cache_v2`);
    const lines = log.split("\n").filter((l) => /cache_db/.test(l)).join("\n");
    assert(!/Failed creating/.test(log), `Deno gave the package's cache up:\n${lines}`);
  } finally {
    if (!root) await chmod(["-R", "u+w", denoDir]);
  }
}
