/**
 * bitcoind-ipc-exporter: a Prometheus exporter for Bitcoin Core over its multiprocess IPC socket.
 */
import denoConfig from "./deno.json" with { type: "json" };
import { HELP, parseCommandLine, USAGE, UsageError } from "./src/cli.ts";
import { missingPermissions, requiredFlags } from "./src/permissions.ts";
import { createLogger } from "./src/log.ts";
import { run } from "./src/app.ts";

export const VERSION: string = denoConfig.version;

async function main(args: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseCommandLine(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bitcoind-ipc-exporter: ${e.message}\n${USAGE}`);
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
  const missing = await missingPermissions(needed);
  if (missing.length > 0) {
    console.error(
      `bitcoind-ipc-exporter: missing Deno permission${missing.length > 1 ? "s" : ""}: ${
        missing.join(", ")
      }; run with ${requiredFlags(needed)}`,
    );
    return 2;
  }
  const log = createLogger({ debug: cmd.debug });
  return await run({ ...cmd, log, version: VERSION });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
