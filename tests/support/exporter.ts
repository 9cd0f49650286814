/** Runs main.ts as a subprocess with exactly the narrow permissions it documents. */
const root = new URL("../../", import.meta.url).pathname;

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export function narrowFlags(socketPath: string, listen: string): string[] {
  return [`--allow-read=${socketPath}`, `--allow-write=${socketPath}`, `--allow-net=unix:${socketPath},${listen}`];
}

/** What `--check` needs: the socket alone (it listens on nothing). */
export function socketFlags(socketPath: string): string[] {
  return [`--allow-read=${socketPath}`, `--allow-write=${socketPath}`, `--allow-net=unix:${socketPath}`];
}

export interface ExporterProcOptions {
  socketPath: string;
  port?: number;
  args?: string[];
  /** Replaces the permission flags (to test the permission check). */
  permissions?: string[];
  /** Extra `deno run` flags after the permissions (profiling, V8 flags). */
  denoFlags?: string[];
  entry?: string;
  /** The exporter's arguments exactly (no --metrics-addr or socket path added). */
  raw?: string[];
  /** Extra environment variables for the exporter process (benchmarks: allocator settings). */
  env?: Record<string, string>;
  /**
   * The exporter's --web.scrape-floor. Tests default to 0s: they scrape right after an event and
   * expect to see it (the floor has tests of its own, src/http/shared_render_test.ts); benchmarks
   * give null, to run the exporter with its own default as deployed.
   */
  scrapeFloor?: string | null;
}

function floorArgs(floor: string | null | undefined): string[] {
  return floor === null ? [] : [`--web.scrape-floor=${floor ?? "0s"}`];
}

/**
 * A text log line without its timestamp and level: what a check on wording should read. A
 * timestamp holds any digits ("…T00:05:51.401Z" once failed a check for "401" in CI).
 */
export function logMessage(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z [A-Z]+ +/, "");
}

export class ExporterProc {
  readonly lines: string[] = [];
  #waiters: (() => void)[] = [];
  #stderrDone: Promise<void>;
  #stdout = "";
  #stdoutDone: Promise<void>;

  private constructor(readonly child: Deno.ChildProcess, readonly port: number) {
    this.#stderrDone = this.#read();
    this.#stdoutDone = (async () => {
      for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) this.#stdout += c;
    })();
  }

  static start(o: ExporterProcOptions): ExporterProc {
    const port = o.port ?? freePort();
    const listen = `127.0.0.1:${port}`;
    const args = [
      "run",
      "--no-prompt",
      "--cached-only",
      ...(o.permissions ?? narrowFlags(o.socketPath, listen)),
      ...(o.denoFlags ?? []),
      o.entry ?? `${root}main.ts`,
      ...(o.raw ?? ["--metrics-addr", listen, ...floorArgs(o.scrapeFloor), ...(o.args ?? []), o.socketPath]),
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...o.env },
    }).spawn();
    return new ExporterProc(child, port);
  }

  async #read(): Promise<void> {
    let buf = "";
    for await (const chunk of this.child.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        this.lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        for (const w of this.#waiters.splice(0)) w();
      }
    }
    if (buf) this.lines.push(buf);
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The log's messages, without timestamps and levels (`logMessage`). */
  get messages(): string[] {
    return this.lines.map(logMessage);
  }

  /** The first log line matching `re`, among lines `from` on (lines logged earlier do not count), waited for. */
  async waitLog(re: RegExp, timeoutMs = 15_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no log line ${re} within ${timeoutMs} ms:\n${this.lines.join("\n")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  url(path = "/metrics"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async scrape(): Promise<string> {
    const res = await fetch(this.url());
    const body = await res.text();
    if (res.status !== 200) throw new Error(`scrape: HTTP ${res.status}: ${body}`);
    return body;
  }

  /** Sends a signal and returns the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    return await this.exitCode();
  }

  async exitCode(): Promise<number> {
    const s = await this.child.status;
    await this.#stderrDone;
    await this.#stdoutDone;
    return s.code;
  }

  get stdout(): string {
    return this.#stdout;
  }
}

/** Runs main.ts to completion (for CLI tests). */
export async function runCli(
  args: string[],
  permissions: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--cached-only", ...permissions, `${root}main.ts`, ...args],
    cwd: root,
    stdin: "null",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Parses exposition text into `name{labels}` → value. */
export function samples(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    m.set(line.slice(0, sp), line.slice(sp + 1));
  }
  return m;
}
