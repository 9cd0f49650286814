/**
 * One render for every scraper: the telemetry path's bodies, shared.
 *
 * A scrape is a refresh of the node readings (one round of reads, itself reused for
 * DEFAULTS.scrapeCacheMs) and a render of every family. Both run on the event loop that also
 * answers the node's callbacks, so their cost must not grow with the number of scrapers:
 *
 * - requests that arrive while a refresh is in flight wait for it and get its bytes;
 * - after a refresh, the next one starts no sooner than `floorMs` later: requests in between get
 *   the last bodies (so `bitcoin_*` values are at most `floorMs` older than a fresh render's);
 * - each body (format × gzip) is rendered once per refresh, on first demand, and kept beside it.
 *
 * So a client looping on /metrics costs at most one refresh and render (per format asked for) per
 * `floorMs`, however fast it loops; a Prometheus HA pair scraping at once shares one.
 */
import type { Format } from "../metrics/registry.ts";
import type { HttpBusy } from "./busy.ts";

export interface SharedRenderOptions {
  /** Brings scrape-time readings up to date (the supervisor's scrape round). */
  refresh: () => Promise<void>;
  /** The exposition in a format, from the readings as they are now. */
  render: (format: Format) => string;
  /** The least time between two refreshes; bodies are reused within it. */
  floorMs: number;
  /**
   * The exporter's state in one cheap value (whether the node is up, its flavour): bodies made in
   * another state are never reused, so a scrape right after the node connects or goes away shows it.
   */
  state?: () => unknown;
  /** The clock (tests give their own). */
  now?: () => number;
  /** Where the render's stretch is measured (busy.ts). */
  busy?: HttpBusy;
}

/** Bodies smaller than this go out uncompressed: gzip's header and trailer would eat the gain. */
export const GZIP_MIN_BYTES = 256;

interface Body {
  body: Uint8Array;
  gzip: boolean;
}

/**
 * gzip through the web-standard CompressionStream (Deno's own, no Node layer: node:zlib's
 * gzipSync was 2× faster per body, 100-150 µs against 275-430 µs, but loading node:zlib cost RSS,
 * issue 21, and with one render per floor the difference is tens of µs a second). It runs in
 * its own turns, not in the render's, so a callback waits behind neither in full.
 */
async function gzipped(plain: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([plain as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface Snapshot {
  /** When its refresh settled. */
  at: number;
  /** The state it was made in (SharedRenderOptions.state). */
  state: unknown;
  /** Rendered bodies by `format` + gzip (a gzip body while it is being compressed: its promise). */
  bodies: Map<string, Body | Promise<Body>>;
}

export class SharedRender {
  readonly #o: SharedRenderOptions;
  readonly #now: () => number;
  #last?: Snapshot;
  #refreshing?: Promise<Snapshot>;
  /** Refreshes started (each one round of node reads at most). */
  refreshes = 0;
  /** Bodies rendered (each a render of every family in one format, gzipped or not). */
  renders = 0;

  constructor(o: SharedRenderOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
  }

  /**
   * The body for this format, gzipped when `gzip` and large enough to gain from it (`gzip` in the
   * answer says whether it is). Shared with every request of the same refresh.
   */
  async body(format: Format, gzip: boolean): Promise<Body> {
    const snap = await this.#snapshot();
    const key = `${format}${gzip ? "+gzip" : ""}`;
    const kept = snap.bodies.get(key);
    if (kept) return kept;
    // The plain body of this format first (the gzipped one is made from it, not rendered again).
    let plain = snap.bodies.get(format) as Body | undefined;
    if (!plain) {
      this.renders++;
      const start = performance.now();
      plain = { body: new TextEncoder().encode(this.#o.render(format)), gzip: false };
      this.#o.busy?.since("render", start);
      snap.bodies.set(format, plain);
    }
    if (!gzip || plain.body.length < GZIP_MIN_BYTES) return plain;
    // Requests that arrive while it is compressed share the one compression.
    const p = gzipped(plain.body).then((body) => ({ body, gzip: true }));
    snap.bodies.set(key, p);
    p.catch(() => snap.bodies.delete(key));
    return await p;
  }

  #snapshot(): Promise<Snapshot> {
    if (this.#refreshing) return this.#refreshing;
    const last = this.#last;
    if (last && this.#now() - last.at < this.#o.floorMs && last.state === this.#o.state?.()) {
      return Promise.resolve(last);
    }
    this.refreshes++;
    const p = this.#o.refresh().then(() => {
      const snap: Snapshot = { at: this.#now(), state: this.#o.state?.(), bodies: new Map() };
      this.#last = snap;
      return snap;
    });
    this.#refreshing = p;
    // Settled either way: a failed refresh is every waiter's failure, and the next request retries.
    p.then(() => this.#refreshing = undefined, () => this.#refreshing = undefined);
    return p;
  }
}
