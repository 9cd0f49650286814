/**
 * Drives the C++ reference test peer (tests/peer) over its stdin/stdout control protocol; see
 * tests/peer/README.md. Every command gets one reply line (`ok ...` / `err ...`); lines starting
 * with `! ` are notices, kept in order and waitable.
 */
const root = new URL("../../", import.meta.url).pathname;
export const PEER_BIN = `${root}tests/peer/build/bitcoind-ipc-test-peer`;

let built: Promise<void> | undefined;

/** Builds the peer if needed (cached by tests/peer/build.sh). Fails loudly: never skipped. */
export function ensurePeerBuilt(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [`${root}tests/peer/build.sh`],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`building the C++ test peer failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
  })();
  return built;
}

/** Recorded JSON-RPC answers of a real stock master node (tools/extract_rpc_fixtures.ts). */
export const RPC_FIXTURES = `${root}tests/fixtures/stock-master-regtest/rpc`;

export interface PeerOptions {
  noCrash?: boolean;
  socketPath?: string;
  /** Which bitcoin-node to play: branch (default), branch-notrace, pr-ipc, chain5-node, chain5, v30, v31, master (alias v32). */
  flavour?: string;
  /** Directory of recorded JSON-RPC answers; RPC_FIXTURES unless given, none if false. */
  rpcFixtures?: string | false;
  extraArgs?: string[];
}

export class TestPeer {
  readonly notices: string[] = [];
  readonly #replies: string[] = [];
  #waiters: (() => void)[] = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #pending: Promise<unknown> = Promise.resolve();
  #readDone: Promise<void>;
  #exited = false;

  private constructor(readonly child: Deno.ChildProcess, readonly socketPath: string, readonly dir: string) {
    this.#stdin = child.stdin.getWriter();
    this.#readDone = this.#read();
  }

  static async start(options: PeerOptions = {}): Promise<TestPeer> {
    await ensurePeerBuilt();
    const dir = await Deno.makeTempDir({ prefix: "ipc-peer-" });
    const socketPath = options.socketPath ?? `${dir}/node.sock`;
    const rpcFixtures = options.rpcFixtures ?? RPC_FIXTURES;
    const args = [
      "--socket",
      socketPath,
      ...(options.noCrash ? ["--no-crash"] : []),
      ...(options.flavour ? ["--flavour", options.flavour] : []),
      ...(rpcFixtures ? ["--rpc-fixtures", rpcFixtures] : []),
      ...(options.extraArgs ?? []),
    ];
    const child = new Deno.Command(PEER_BIN, { args, stdin: "piped", stdout: "piped", stderr: "inherit" }).spawn();
    const peer = new TestPeer(child, socketPath, dir);
    await peer.waitNotice(/^listening/);
    return peer;
  }

  async #read(): Promise<void> {
    const lines = this.child.stdout.pipeThrough(new TextDecoderStream());
    let buf = "";
    for await (const chunk of lines) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("! ")) this.notices.push(line.slice(2));
        else if (line.startsWith("ok") || line.startsWith("err")) this.#replies.push(line);
        for (const w of this.#waiters.splice(0)) w();
      }
    }
    this.#exited = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  #changed(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        clearTimeout(t);
        resolve(true);
      };
      this.#waiters.push(wake);
    });
  }

  /** Sends one command and returns its reply line. Commands are serialised. */
  cmd(line: string, timeoutMs = 10_000): Promise<string> {
    const run = this.#pending.then(async () => {
      await this.#stdin.write(new TextEncoder().encode(line + "\n"));
      const deadline = Date.now() + timeoutMs;
      while (this.#replies.length === 0) {
        if (this.#exited) {
          throw new Error(`peer exited before answering "${line}"; notices: ${this.notices.join(" | ")}`);
        }
        if (!await this.#changed(deadline - Date.now()) && this.#replies.length === 0) {
          throw new Error(`peer did not answer "${line}" within ${timeoutMs} ms`);
        }
      }
      return this.#replies.shift()!;
    });
    this.#pending = run.catch(() => {});
    return run;
  }

  /** Like cmd, but throws unless the reply is `ok`; returns its key=value fields. */
  async ok(line: string, timeoutMs?: number): Promise<Record<string, string>> {
    const reply = await this.cmd(line, timeoutMs);
    if (!reply.startsWith("ok")) throw new Error(`peer: "${line}" → ${reply}`);
    return fields(reply);
  }

  async status(): Promise<Record<string, string>> {
    return await this.ok("status");
  }

  /** Waits for a notice matching `re` (also one already received since `from`). */
  async waitNotice(re: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.notices.slice(from).find((n) => re.test(n));
      if (found) return found;
      if (this.#exited) throw new Error(`peer exited without notice ${re}; notices: ${this.notices.join(" | ")}`);
      if (!await this.#changed(deadline - Date.now())) {
        const again = this.notices.slice(from).find((n) => re.test(n));
        if (again) return again;
        throw new Error(`no notice ${re} within ${timeoutMs} ms; notices: ${this.notices.join(" | ")}`);
      }
    }
  }

  /** Polls `status` until `pred` holds. */
  async waitStatus(pred: (s: Record<string, string>) => boolean, timeoutMs = 10_000): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status();
      if (pred(s)) return s;
      if (Date.now() > deadline) throw new Error(`peer status never matched: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Quits the peer and returns its exit code. */
  async stop(): Promise<number> {
    if (!this.#exited) {
      try {
        await this.#stdin.write(new TextEncoder().encode("quit\n"));
      } catch { /* already gone */ }
    }
    try {
      await this.#stdin.close();
    } catch { /* already closed */ }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    const status = await this.child.status;
    clearTimeout(t);
    await this.#readDone;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    return status.code;
  }

  /** The peer's exit code once it exits by itself (e.g. a reproduced node crash). */
  async exitCode(): Promise<number> {
    const status = await this.child.status;
    await this.#readDone;
    return status.code;
  }
}

export function fields(reply: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of reply.split(/\s+/).slice(1)) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}
