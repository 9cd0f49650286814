/**
 * The exporter runs with the narrowest Deno permissions: the socket (read, write, connect), the
 * listen address, and the files a web config names (the config, its certificate and key). This checks them up front so a missing one is a clear message with the exact
 * flags, not a stack trace on first use. `--check` serves nothing: it needs the socket alone.
 */
import { errorText } from "../util/errors.ts";

export interface Needed {
  socketPath: string;
  /** The listen address as --allow-net matches it; absent for --check, which listens on nothing. */
  listen?: string;
  /** More files to read (--web.config.file and the files it names). */
  reads?: string[];
}

/** The Deno permission flags, one string each. */
export function requiredFlagList(n: Needed): string[] {
  return [
    `--allow-read=${[n.socketPath, ...n.reads ?? []].join(",")}`,
    `--allow-write=${n.socketPath}`,
    `--allow-net=${[`unix:${n.socketPath}`, ...n.listen === undefined ? [] : [n.listen]].join(",")}`,
  ];
}

export function requiredFlags(n: Needed): string {
  return requiredFlagList(n).join(" ");
}

/** A socket path or listen address Deno will not take as a permission (one line, for the user). */
export class InvalidPermissionTarget extends Error {
  override name = "InvalidPermissionTarget";
}

/**
 * Returns the missing permissions as human-readable items (empty when all are granted). Throws
 * InvalidPermissionTarget, not Deno's URIError, when Deno cannot parse a path or host as one.
 */
export async function missingPermissions(n: Needed): Promise<string[]> {
  const checks: [Deno.PermissionDescriptor, string][] = [
    [{ name: "read", path: n.socketPath }, `read ${n.socketPath}`],
    ...(n.reads ?? []).map((path): [Deno.PermissionDescriptor, string] => [{ name: "read", path }, `read ${path}`]),
    [{ name: "write", path: n.socketPath }, `write ${n.socketPath}`],
    [{ name: "net", host: `unix:${n.socketPath}` }, `net unix:${n.socketPath}`],
    ...(n.listen === undefined ? [] : [[{ name: "net", host: n.listen }, `net ${n.listen}`] as [
      Deno.PermissionDescriptor,
      string,
    ]]),
  ];
  const missing: string[] = [];
  for (const [desc, label] of checks) {
    let status;
    try {
      status = await Deno.permissions.query(desc);
    } catch (e) {
      // e.g. URIError: invalid host 'a..b': empty label found in FQDN
      throw new InvalidPermissionTarget(`Deno does not accept "${label.replace(/^\S+ /, "")}": ${errorText(e)}`);
    }
    if (status.state !== "granted") missing.push(label);
  }
  return missing;
}
