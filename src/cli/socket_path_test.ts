import { assert, assertEquals, assertMatch } from "../../tests/support/assert.ts";
import { explainSocketPath, MAX_SOCKET_PATH_BYTES } from "./socket_path.ts";

/** A socket file nobody listens on, as a node that exited leaves one (Deno's close would unlink it). */
async function staleSocket(path: string): Promise<void> {
  const script = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); Deno.exit(0);`;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", script], stderr: "inherit" }).output();
  assert(out.success && Deno.statSync(path).isSocket, "the socket file stays");
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "socket-path-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function connectError(path: string): Promise<unknown> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
  } catch (e) {
    return e;
  }
  throw new Error(`connected to ${path}`);
}

Deno.test("socket path: a datadir names the node.sock inside it", async () => {
  await withDir(async (dir) => {
    // An empty directory: what bitcoin-node would create, and where.
    const empty = await explainSocketPath(dir, await connectError(dir));
    assertEquals(
      empty,
      `${dir} is a directory, not a socket, and holds no node.sock: give the node's socket ` +
        `(bitcoin-node -ipcbind=unix listens on <datadir>/node.sock, <datadir>/<chain>/node.sock on test chains)`,
    );
    await Deno.mkdir(`${dir}/regtest`);
    await staleSocket(`${dir}/regtest/node.sock`);
    assertEquals(
      await explainSocketPath(dir, await connectError(dir)),
      `${dir} is a directory, not a socket: give the node's socket, ${dir}/regtest/node.sock`,
    );
    // Before any connection attempt (main.ts at startup) the answer is the same.
    assertEquals(
      await explainSocketPath(`${dir}/`),
      `${dir}/ is a directory, not a socket: give the node's socket, ${dir}/regtest/node.sock`,
    );
    await staleSocket(`${dir}/node.sock`);
    assertEquals(
      await explainSocketPath(dir),
      `${dir} is a directory, not a socket: give the node's socket, one of ${dir}/node.sock, ${dir}/regtest/node.sock`,
    );
    // A node.sock that is not a socket is not suggested.
    await Deno.mkdir(`${dir}/signet`);
    await Deno.writeTextFile(`${dir}/signet/node.sock`, "");
    assertMatch((await explainSocketPath(dir))!, /one of \S+\/node\.sock, \S+\/regtest\/node\.sock$/);
  });
});

Deno.test("socket path: a regular file, a FIFO, a path too long to connect to", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bitcoin.conf`, "regtest=1\n");
    assertEquals(
      await explainSocketPath(`${dir}/bitcoin.conf`, await connectError(`${dir}/bitcoin.conf`)),
      `${dir}/bitcoin.conf is a regular file (10 bytes), not a socket: give the node's socket ` +
        `(bitcoin-node -ipcbind=unix listens on <datadir>/node.sock, <datadir>/<chain>/node.sock on test chains)`,
    );
    const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert(fifo.success);
    assertMatch((await explainSocketPath(`${dir}/fifo`))!, /fifo is a FIFO, not a socket: give the node's socket/);
    const long = `${dir}/${"d".repeat(MAX_SOCKET_PATH_BYTES)}/node.sock`;
    const bytes = new TextEncoder().encode(long).length;
    assertEquals(
      await explainSocketPath(long),
      `${long} is ${bytes} bytes long, more than a Unix socket address holds (107): ` +
        `give a shorter path to the socket, e.g. a symlink to it`,
    );
  });
});

Deno.test("socket path: a socket is not the problem, unless nobody listens on it; absent is left to the caller", async () => {
  await withDir(async (dir) => {
    const sock = `${dir}/node.sock`;
    assertEquals(
      await explainSocketPath(sock, await connectError(sock)),
      undefined,
      "absent: the node may start later",
    );
    await staleSocket(sock);
    const refused = await connectError(sock);
    assert(refused instanceof Deno.errors.ConnectionRefused, String(refused));
    assertMatch((await explainSocketPath(sock, refused))!, /node\.sock is a socket nobody is listening on/);
    assertEquals(await explainSocketPath(sock), undefined, "before connecting, a socket is what we want");
    await Deno.remove(sock);
    const l = Deno.listen({ transport: "unix", path: sock });
    try {
      assertEquals(await explainSocketPath(sock, new Error("some other failure")), undefined);
    } finally {
      l.close();
    }
    // A symlink is followed: to a directory, it is a directory.
    await Deno.mkdir(`${dir}/datadir`);
    await Deno.symlink(`${dir}/datadir`, `${dir}/link`);
    assertMatch((await explainSocketPath(`${dir}/link`))!, /link is a directory, not a socket/);
  });
});
