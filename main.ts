/**
 * bitcoind-ipc-exporter: a Prometheus exporter for Bitcoin Core over its multiprocess IPC socket.
 */
import denoConfig from "./deno.json" with { type: "json" };
import { HELP, parseCommandLine, USAGE, UsageError } from "./src/cli/args.ts";
import { InvalidPermissionTarget, missingPermissions, requiredFlagList, requiredFlags } from "./src/cli/permissions.ts";
import { loadWebConfig, type WebConfig, WebConfigError, webConfigReads } from "./src/http/web_config.ts";
import { createLogger } from "./src/log.ts";
import { run } from "./src/app.ts";
import { runCheck } from "./src/cli/check.ts";
import { explainSocketPath } from "./src/cli/socket_path.ts";
import { errorText } from "./src/util/errors.ts";

export const VERSION: string = denoConfig.version;

/** `--version`, in the Prometheus ecosystem's long form. */
export function versionText(): string {
  return [
    `bitcoind-ipc-exporter, version ${VERSION}`,
    `  deno version:       ${Deno.version.deno}`,
    `  v8 version:         ${Deno.version.v8}`,
    `  typescript version: ${Deno.version.typescript}`,
    `  platform:           ${Deno.build.os}/${Deno.build.arch}`,
  ].join("\n");
}

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
    console.log(versionText());
    return 0;
  }
  // --check serves nothing: it needs the socket alone (no listen address, no web config or the
  // files it names), and asks for nothing more; nix/wrapper.sh grants the same.
  const listen = cmd.check ? undefined : cmd.listen.permission;
  // The web config names more files to read: read it first (a permission for the config itself is
  // asked for on its own, since what else it needs is known only once it is read).
  let webConfig: WebConfig | undefined;
  if (cmd.webConfigFile !== undefined && !cmd.check) {
    const path = cmd.webConfigFile;
    if ((await Deno.permissions.query({ name: "read", path })).state !== "granted") {
      const needed = { socketPath: cmd.socketPath, listen, reads: [path] };
      console.error(
        `bitcoind-ipc-exporter: missing Deno permission: read ${path} (--web.config.file); run with ${
          requiredFlags(needed)
        } and the reads of the files it names (--print-permissions lists them)`,
      );
      return 2;
    }
    try {
      webConfig = await loadWebConfig(path);
    } catch (e) {
      if (!(e instanceof WebConfigError)) throw e;
      console.error(`bitcoind-ipc-exporter: ${e.message}`);
      return 2;
    }
  }
  const needed = {
    socketPath: cmd.socketPath,
    listen,
    reads: webConfig ? webConfigReads(webConfig) : [],
  };
  if (cmd.kind === "print-permissions") {
    console.log(requiredFlagList(needed).join("\n"));
    return 0;
  }
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
  let tls: { cert: string; key: string } | undefined;
  if (webConfig?.tls) {
    const read = async (field: string, path: string, pem: RegExp) => {
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (e) {
        throw new WebConfigError(
          `--web.config.file ${webConfig.path}: tls_server_config.${field} ${path}: ${errorText(e)}`,
        );
      }
      if (!pem.test(text)) {
        throw new WebConfigError(
          `--web.config.file ${webConfig.path}: tls_server_config.${field} ${path}: not a PEM file`,
        );
      }
      return text;
    };
    try {
      tls = {
        cert: await read("cert_file", webConfig.tls.certFile, /-----BEGIN CERTIFICATE-----/),
        key: await read("key_file", webConfig.tls.keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
      };
    } catch (e) {
      if (!(e instanceof WebConfigError)) throw e;
      console.error(`bitcoind-ipc-exporter: ${e.message}`);
      return 2;
    }
  }
  const log = createLogger({ level: cmd.logLevel, format: cmd.logFormat });
  try {
    if (cmd.check) return await runCheck({ ...cmd, log, version: VERSION, write: (line) => console.log(line) });
    return await run({ ...cmd, log, version: VERSION, webConfig, tls });
  } finally {
    log.flush(); // the "suppressed N similar lines" counts still held
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
