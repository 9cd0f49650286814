/**
 * The exporter runs with the narrowest Deno permissions: the socket (read, write, connect) and the
 * listen address. This checks them up front so a missing one is a clear message with the exact
 * flags, not a stack trace on first use.
 */
export interface Needed {
  socketPath: string;
  listen: string;
}

export function requiredFlags(n: Needed): string {
  return `--allow-read=${n.socketPath} --allow-write=${n.socketPath} --allow-net=unix:${n.socketPath},${n.listen}`;
}

/** Returns the missing permissions as human-readable items (empty when all are granted). */
export async function missingPermissions(n: Needed): Promise<string[]> {
  const checks: [Deno.PermissionDescriptor, string][] = [
    [{ name: "read", path: n.socketPath }, `read ${n.socketPath}`],
    [{ name: "write", path: n.socketPath }, `write ${n.socketPath}`],
    [{ name: "net", host: `unix:${n.socketPath}` }, `net unix:${n.socketPath}`],
    [{ name: "net", host: n.listen }, `net ${n.listen}`],
  ];
  const missing: string[] = [];
  for (const [desc, label] of checks) {
    const status = await Deno.permissions.query(desc);
    if (status.state !== "granted") missing.push(label);
  }
  return missing;
}
