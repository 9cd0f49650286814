/**
 * The exporter run in this process (app.ts `run`) with shortened timing, for tests whose point is a
 * timeout or an interval: they then take milliseconds instead of the production seconds. The HTTP
 * server, the socket and the node peer are as real as in the subprocess tests.
 */
import { run } from "../../src/app.ts";
import type { Timing } from "../../src/cli/defaults.ts";
import type { Flavour } from "../../src/flavour.ts";
import { memoryLogger } from "../../src/log.ts";
import { freePort } from "./exporter.ts";

export interface InProcessOptions {
  socketPath: string;
  timing?: Partial<Timing>;
  flavour?: Flavour;
  debug?: boolean;
}

export class InProcessExporter {
  readonly log = memoryLogger();
  readonly port = freePort();
  readonly exited: Promise<number>;
  #stop!: () => void;

  constructor(o: InProcessOptions) {
    const stop = new Promise<void>((r) => this.#stop = r);
    this.exited = run({
      socketPath: o.socketPath,
      listen: { hostname: "127.0.0.1", port: this.port, permission: `127.0.0.1:${this.port}` },
      debug: o.debug ?? false,
      flavour: o.flavour,
      log: this.log,
      version: "test",
      stop,
      // Tests scrape right after an event and expect it: no floor unless the test sets one.
      timing: { scrapeFloorMs: 0, ...o.timing },
    });
  }

  get lines(): string[] {
    return this.log.lines;
  }

  async scrape(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`scrape: HTTP ${res.status}: ${body}`);
    return body;
  }

  /** Stops it as a signal would; returns the exit code run() returned. */
  stop(): Promise<number> {
    this.#stop();
    return this.exited;
  }
}
