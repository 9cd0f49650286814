/**
 * Prometheus exposition, in the text format 0.0.4 and in OpenMetrics 1.0.0. Each metric is a family
 * whose value is read from the collectors' state at scrape time, so the hot path only bumps plain
 * numbers. Each family's head and each label set's escaped text are made once and reused every
 * scrape; only the values are printed per scrape.
 *
 * The format (escaping and number formatting) is the one prom-client wrote, byte for byte, before
 * it was replaced by this file (it cost ~10 MiB of RSS and broke `deno compile`; README "Library
 * choices"). Exact integer counters above 2^53 print as integers.
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
  read(): Sample[] | number | bigint | HistogramValue | HistogramSample[] | undefined;
}

/** One labelled histogram of a histogram family that has several (e.g. one per network). */
export interface HistogramSample {
  labels: Labels;
  value: HistogramValue;
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

/** The text format 0.0.4, served unless the scraper asks for OpenMetrics. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

export type Format = "text" | "openmetrics";

/**
 * Base units a family name may end in (before `_total`), announced as OpenMetrics `# UNIT`
 * (which must be a suffix of the name, OpenMetrics 1.0 "Unit").
 */
const UNITS = ["seconds", "bytes", "ratio", "celsius", "meters", "grams", "joules", "volts", "amperes"];

/** A family's text, made once per format: its head, and the line prefix of each label set. */
interface Template {
  head: string;
  /** The sample name as printed (OpenMetrics counters gain `_total`; ours have it already). */
  sample: string;
  lines: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricsRegistry {
  readonly #families: Family[] = [];
  readonly #names = new Set<string>();
  readonly #templates = { text: new Map<string, Template>(), openmetrics: new Map<string, Template>() };

  add(...families: Family[]): void {
    for (const f of families) {
      if (this.#names.has(f.name)) throw new Error(`metric ${f.name} defined twice`);
      if (!NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
      // OpenMetrics names a counter family without its `_total`; ours all carry it, as 0.0.4 wants.
      if (f.type === "counter" && !f.name.endsWith("_total")) throw new Error(`counter ${f.name} must end in _total`);
      this.#names.add(f.name);
      this.#families.push(f);
    }
  }

  get names(): string[] {
    return this.#families.map((f) => f.name);
  }

  /**
   * The exposition of every family that has a value now. Escaping is done once per family and
   * label set and reused; a scrape only prints values, so it costs the event loop (which the node's
   * callbacks share) microseconds, not milliseconds.
   */
  render(format: Format = "text"): string {
    let out = "";
    for (const f of this.#families) {
      const v = f.read();
      if (v === undefined) continue;
      if (typeof v === "object" && !Array.isArray(v)) {
        out += renderHistogram(f, v, format);
        continue;
      }
      if (f.type === "histogram" && Array.isArray(v)) {
        out += renderLabelledHistograms(f, v as HistogramSample[], format);
        continue;
      }
      const samples = (typeof v === "number" || typeof v === "bigint" ? [{ value: v as number }] : v) as Sample[];
      if (samples.length === 0) continue;
      const t = this.#template(f, samples, format);
      out += t.head;
      for (const s of samples) {
        const value = typeof s.value === "bigint" ? String(s.value) : formatValue(s.value);
        out += t.lines.get(labelKey(s.labels))! + value + "\n";
      }
    }
    return format === "openmetrics" ? out + "# EOF\n" : out;
  }

  #template(f: Family, samples: Sample[], format: Format): Template {
    const cache = this.#templates[format];
    let t = cache.get(f.name);
    if (!t) {
      t = { head: familyHead(f, format), sample: f.name, lines: new Map() };
      cache.set(f.name, t);
    }
    for (const s of samples) {
      const key = labelKey(s.labels);
      if (!t.lines.has(key)) t.lines.set(key, `${t.sample}${formatLabels(s.labels)} `);
    }
    return t;
  }
}

/**
 * Labelled histograms of one family (none: the family is left out): each label set's cumulative
 * `_bucket` series (its labels, then `le`), `_sum` and `_count`.
 */
function renderLabelledHistograms(f: Family, hs: HistogramSample[], format: Format): string {
  if (hs.length === 0) return "";
  let out = familyHead(f, format, "histogram");
  for (const { labels, value: h } of hs) {
    const l = formatLabels(labels);
    const inner = l === "" ? "" : l.slice(1, -1) + ",";
    let cumulative = 0;
    for (let i = 0; i <= h.bounds.length; i++) {
      cumulative += h.counts[i];
      const le = i < h.bounds.length ? formatValue(h.bounds[i]) : "+Inf";
      out += `${f.name}_bucket{${inner}le="${le}"} ${cumulative}\n`;
    }
    out += `${f.name}_sum${l} ${formatValue(h.sum)}\n${f.name}_count${l} ${cumulative}\n`;
  }
  return out;
}

/** `# HELP`, `# TYPE` (and for OpenMetrics `# UNIT`) lines of a family. */
function familyHead(f: Family, format: Format, type: string = f.type): string {
  if (format === "text") return `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${type}\n`;
  const family = type === "counter" ? f.name.slice(0, -"_total".length) : f.name;
  const unit = UNITS.find((u) => family.endsWith(`_${u}`));
  return `# HELP ${family} ${escapeOpenMetrics(f.help)}\n# TYPE ${family} ${type}\n` +
    (unit ? `# UNIT ${family} ${unit}\n` : "");
}

/** `{a="x",b="y"}` with values escaped as the text format wants (`\\`, `\n`, `\"`); "" for none. */
function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts: string[] = [];
  for (const name in labels) {
    if (!LABEL_NAME.test(name)) throw new Error(`invalid label name ${JSON.stringify(name)}`);
    parts.push(`${name}="${escapeOpenMetrics(labels[name])}"`);
  }
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  let k = "";
  for (const name in labels) k += `${name}\u0000${labels[name]}\u0001`;
  return k;
}

/** Numbers as Go's Prometheus client and prom-client print them (JavaScript's shortest round trip). */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** HELP in the text format 0.0.4: backslash and line feed escaped. */
function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Label values (both formats) and OpenMetrics HELP: backslash, line feed and double quote escaped. */
function escapeOpenMetrics(text: string): string {
  return escapeHelp(text).replace(/"/g, '\\"');
}

/** The histogram: cumulative `_bucket{le}` series, then `_sum` and `_count`. */
function renderHistogram(f: Family, h: HistogramValue, format: Format): string {
  let out = familyHead(f, format, "histogram");
  let cumulative = 0;
  for (let i = 0; i <= h.bounds.length; i++) {
    cumulative += h.counts[i];
    const le = i < h.bounds.length ? formatValue(h.bounds[i]) : "+Inf";
    out += `${f.name}_bucket{le="${le}"} ${cumulative}\n`;
  }
  return out + `${f.name}_sum ${formatValue(h.sum)}\n${f.name}_count ${cumulative}\n`;
}
