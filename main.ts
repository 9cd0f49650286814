/**
 * bitcoind-ipc-exporter: a Prometheus exporter for Bitcoin Core over its multiprocess IPC socket.
 */
import denoConfig from "./deno.json" with { type: "json" };
import { HELP, parseCommandLine, USAGE, UsageError } from "./src/cli.ts";
import { InvalidPermissionTarget, missingPermissions, requiredFlags } from "./src/permissions.ts";
import { createLogger } from "./src/log.ts";
import { run } from "./src/app.ts";
import { runCheck } from "./src/check.ts";
import { explainSocketPath } from "./src/socket_path.ts";

export const VERSION: string = denoConfig.version;

async function main(args: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseCommandLine(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bitcoind-ipc-exporter: ${e.message}${e.showUsage ? `\n${USAGE}` : ""}`);
      return 2;
    }
    throw e;
  }
  if (cmd.kind === "help") {
    console.log(HELP);
    return 0;
  }
  if (cmd.kind === "version") {
    console.log(`bitcoind-ipc-exporter ${VERSION}`);
    return 0;
  }
  const needed = { socketPath: cmd.socketPath, listen: cmd.listen.permission };
  let missing;
  try {
    missing = await missingPermissions(needed);
  } catch (e) {
    if (!(e instanceof InvalidPermissionTarget)) throw e;
    console.error(`bitcoind-ipc-exporter: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (missing.length > 0) {
    console.error(
      `bitcoind-ipc-exporter: missing Deno permission${missing.length > 1 ? "s" : ""}: ${
        missing.join(", ")
      }; run with ${requiredFlags(needed)}`,
    );
    return 2;
  }
  // A directory, a regular file or a too-long path can never be connected to (and the node will
  // not replace them): a configuration error, said once, instead of retrying forever.
  const wrongPath = await explainSocketPath(cmd.socketPath);
  if (wrongPath !== undefined) {
    console.error(`bitcoind-ipc-exporter: ${wrongPath}`);
    return 2;
  }
  const log = createLogger({ debug: cmd.debug });
  try {
    if (cmd.check) return await runCheck({ ...cmd, log, write: (line) => console.log(line) });
    return await run({ ...cmd, log, version: VERSION });
  } finally {
    log.flush(); // the "suppressed N similar lines" counts still held
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
