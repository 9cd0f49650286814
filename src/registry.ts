/**
 * Prometheus exposition (text format 0.0.4): each metric is a family whose value is read from the
 * collectors' state at scrape time, so the hot path only bumps plain numbers. Formatting and
 * escaping are prom-client's, byte for byte (registry_test.ts holds them to prom-client's own output),
 * without loading prom-client: under Deno's Node compatibility it cost 15 MiB of the exporter's RSS
 * (bench/mem.ts). Exact integer counters above 2^53 are printed from bigints.
 */

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

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export class MetricsRegistry {
  readonly #families: Family[] = [];
  readonly #names = new Set<string>();
  /** Per family: its HELP and TYPE lines, and per label set the sample line up to its value, reused every scrape. */
  readonly #templates = new Map<string, { head: string; lines: Map<string, string> }>();

  add(...families: Family[]): void {
    for (const f of families) {
      if (this.#names.has(f.name)) throw new Error(`metric ${f.name} defined twice`);
      this.#names.add(f.name);
      this.#families.push(f);
    }
  }

  get names(): string[] {
    return this.#families.map((f) => f.name);
  }

  /**
   * The text exposition of every family that has a value now. Each family's head and each label
   * set's line are formatted and escaped once; later scrapes reuse that text and only print the
   * values, so a scrape costs the event loop (which the node's callbacks share) microseconds.
   */
  render(): Promise<string> {
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
      let t = this.#templates.get(f.name);
      if (!t) this.#templates.set(f.name, t = { head: head(f), lines: new Map() });
      out += t.head;
      for (const s of samples) {
        const key = labelKey(s.labels);
        let line = t.lines.get(key);
        if (line === undefined) t.lines.set(key, line = `${f.name}${formatLabels(s.labels)} `);
        out += line + formatValue(s.value) + "\n";
      }
    }
    return Promise.resolve(out);
  }
}

/** `# HELP` and `# TYPE`, as prom-client writes them. */
function head(f: Family): string {
  return `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
}

/** `{a="x",b="y"}` (or nothing), label values escaped as prom-client does. */
function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts: string[] = [];
  for (const name in labels) parts.push(`${name}="${escapeHelp(labels[name]).replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  let k = "";
  for (const name in labels) k += `${name}\u0000${labels[name]}\u0001`;
  return k;
}

/** As prom-client prints numbers (but NaN as the text format spells it; prom-client writes "Nan"). */
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
  return `${head(f)}${f.name} ${v}`;
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
