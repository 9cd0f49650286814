/**
 * Prometheus exposition through prom-client: each metric is a family whose value is read from the
 * collectors' state at scrape time, so the hot path only bumps plain numbers and never touches the
 * library. prom-client formats and escapes; the exception is exact integer counters above 2^53,
 * which prom-client can only print as floats, rendered here in the same format.
 */
import client from "prom-client";

export type MetricType = "counter" | "gauge" | "histogram";
export type Labels = Record<string, string>;
export interface Sample {
  labels?: Labels;
  value: number;
}

/** A metric family: `read` returns its samples now, or undefined to leave the family out. */
export interface Family {
  name: string;
  help: string;
  type: MetricType;
  read(): Sample[] | number | bigint | HistogramValue | undefined;
}

/** A histogram's state: `counts[i]` observations fell in (bounds[i-1], bounds[i]]; the last slot is +Inf. */
export interface HistogramValue {
  bounds: readonly number[];
  counts: readonly number[];
  sum: number;
}

/** Observations into fixed buckets: one array increment per observation. */
export class Histogram implements HistogramValue {
  readonly counts: number[];
  sum = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }
  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
  }
}

export const CONTENT_TYPE = client.Registry.PROMETHEUS_CONTENT_TYPE;

/** The prom-client metric protocol, backed by a sample list fixed for one render. */
class SnapshotMetric {
  samples: Sample[] = [];
  readonly aggregator = "sum";
  constructor(readonly name: string, readonly help: string, readonly type: MetricType) {}
  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.samples.map((s) => ({ value: s.value, labels: s.labels ?? {} })),
      aggregator: this.aggregator,
    };
  }
}

export class MetricsRegistry {
  readonly #families: Family[] = [];
  readonly #prom = new client.Registry();
  readonly #snapshots = new Map<string, SnapshotMetric>();
  /** Per family and label set: prom-client's rendering with the value cut off, reused every scrape. */
  readonly #templates = new Map<string, { head: string; lines: Map<string, string> }>();

  add(...families: Family[]): void {
    for (const f of families) {
      if (this.#snapshots.has(f.name)) throw new Error(`metric ${f.name} defined twice`);
      const m = new SnapshotMetric(f.name, f.help, f.type);
      this.#snapshots.set(f.name, m);
      // deno-lint-ignore no-explicit-any
      this.#prom.registerMetric(m as any);
      this.#families.push(f);
    }
  }

  get names(): string[] {
    return this.#families.map((f) => f.name);
  }

  /**
   * The text exposition of every family that has a value now. prom-client formats and escapes each
   * family and label set once; later scrapes reuse that text and only print the values, so a scrape
   * costs the event loop (which the node's callbacks share) microseconds, not milliseconds.
   */
  async render(): Promise<string> {
    let out = "";
    for (const f of this.#families) {
      const v = f.read();
      if (v === undefined) continue;
      if (typeof v === "bigint") {
        out += renderExact(f, v) + "\n";
        continue;
      }
      if (typeof v === "object" && !Array.isArray(v)) {
        out += renderHistogram(f, v);
        continue;
      }
      const samples = typeof v === "number" ? [{ value: v }] : v;
      if (samples.length === 0) continue;
      const t = await this.#template(f, samples);
      out += t.head;
      for (const s of samples) out += t.lines.get(labelKey(s.labels))! + formatValue(s.value) + "\n";
    }
    return out;
  }

  async #template(f: Family, samples: Sample[]): Promise<{ head: string; lines: Map<string, string> }> {
    let t = this.#templates.get(f.name);
    if (t && samples.every((s) => t!.lines.has(labelKey(s.labels)))) return t;
    const snap = this.#snapshots.get(f.name)!;
    snap.samples = samples.map((s) => ({ labels: s.labels, value: 0 }));
    const text = (await this.#prom.getSingleMetricAsString(f.name)).split("\n");
    const head = text.slice(0, 2).join("\n") + "\n";
    t ??= { head, lines: new Map() };
    samples.forEach((s, i) => {
      const line = text[2 + i];
      t!.lines.set(labelKey(s.labels), line.slice(0, line.lastIndexOf(" ") + 1));
    });
    this.#templates.set(f.name, t);
    return t;
  }
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  let k = "";
  for (const name in labels) k += `${name}\u0000${labels[name]}\u0001`;
  return k;
}

/** As prom-client prints numbers. */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function renderExact(f: Family, v: bigint): string {
  return `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n${f.name} ${v}`;
}

/** The text format's histogram: cumulative `_bucket{le}` series, then `_sum` and `_count`. */
function renderHistogram(f: Family, h: HistogramValue): string {
  let out = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} histogram\n`;
  let cumulative = 0;
  for (let i = 0; i <= h.bounds.length; i++) {
    cumulative += h.counts[i];
    const le = i < h.bounds.length ? formatValue(h.bounds[i]) : "+Inf";
    out += `${f.name}_bucket{le="${le}"} ${cumulative}\n`;
  }
  return out + `${f.name}_sum ${formatValue(h.sum)}\n${f.name}_count ${cumulative}\n`;
}
