/**
 * What is wrong with the socket path, when the path itself is the problem: a datadir given instead
 * of the socket in it, a regular file, a path too long for a Unix socket address, a socket nobody
 * listens on. Connecting to any of these fails with an error that reads like "node not running"
 * (a directory or a file refuses the connection), so the exporter would retry forever.
 *
 * Bitcoin Core's `-ipcbind=unix` listens on `<datadir>/node.sock`, where the datadir of a test
 * chain is its subdirectory (`<datadir>/regtest/node.sock`); bitcoin-node creates the socket after
 * removing a stale one, but it never replaces a directory or a regular file: those make its own
 * bind fail too.
 *
 * Needs only the narrow permissions: `Deno.stat(path)` is covered by `--allow-read=<path>`, and
 * when the path is a directory that grant covers everything under it, so the candidates inside are
 * readable as well.
 */

/** Longest path a Unix socket address holds on Linux: sun_path is 108 bytes with the final NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Where bitcoin-node's `-ipcbind=unix` socket lives, relative to a datadir: main chain first. */
export const NODE_SOCKET_CANDIDATES = [
  "node.sock",
  "testnet3/node.sock",
  "testnet4/node.sock",
  "signet/node.sock",
  "regtest/node.sock",
];

/**
 * One line saying what `path` is and what was expected, or undefined when the path is not the
 * problem (it is a socket, it does not exist yet, or it cannot be examined): then the connection
 * error stands as it is.
 *
 * `error` is the error connecting to `path` failed with; without one (before the first attempt) a
 * line means the path can never be the node's socket: a directory, a file that is not a socket, a
 * path too long to connect to.
 */
export async function explainSocketPath(path: string, error?: unknown): Promise<string | undefined> {
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    return `${path} is ${bytes} bytes long, more than a Unix socket address holds (${MAX_SOCKET_PATH_BYTES}): ` +
      `give a shorter path to the socket, e.g. a symlink to it`;
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return undefined; // absent (the node may not have started yet), or not ours to look at
  }
  if (info.isSocket) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      return `${path} is a socket nobody is listening on: the node is not running (or exited and left its ` +
        `socket behind; it replaces it when it starts)`;
    }
    return undefined;
  }
  const expected = "give the node's socket (bitcoin-node -ipcbind=unix listens on <datadir>/node.sock, " +
    "<datadir>/<chain>/node.sock on test chains)";
  if (info.isDirectory) {
    const found = await socketsIn(path);
    if (found.length === 1) return `${path} is a directory, not a socket: give the node's socket, ${found[0]}`;
    if (found.length > 1) {
      return `${path} is a directory, not a socket: give the node's socket, one of ${found.join(", ")}`;
    }
    return `${path} is a directory, not a socket, and holds no node.sock: ${expected}`;
  }
  const what = info.isFile
    ? `a regular file (${info.size} bytes)`
    : info.isFifo
    ? "a FIFO"
    : info.isCharDevice
    ? "a character device"
    : info.isBlockDevice
    ? "a block device"
    : "not a socket";
  return `${path} is ${what}, not a socket: ${expected}`;
}

/** The node sockets in a datadir, in NODE_SOCKET_CANDIDATES order. */
async function socketsIn(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const candidate of NODE_SOCKET_CANDIDATES) {
    const p = `${dir.replace(/\/+$/, "")}/${candidate}`;
    try {
      if ((await Deno.stat(p)).isSocket) found.push(p);
    } catch { /* absent or unreadable: not a candidate */ }
  }
  return found;
}
