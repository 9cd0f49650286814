/**
 * Prometheus exposition through prom-client: each metric is a family whose value is read from the
 * collectors' state at scrape time, so the hot path only bumps plain numbers and never touches the
 * library. prom-client formats and escapes; the exception is exact integer counters above 2^53,
 * which prom-client can only print as floats, rendered here in the same format.
 */
import client from "prom-client";

export type MetricType = "counter" | "gauge";
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
  read(): Sample[] | number | bigint | undefined;
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

  /** The text exposition of every family that has a value now. */
  async render(): Promise<string> {
    const parts: string[] = [];
    for (const f of this.#families) {
      const v = f.read();
      if (v === undefined) continue;
      if (typeof v === "bigint") {
        parts.push(renderExact(f, v));
        continue;
      }
      const snap = this.#snapshots.get(f.name)!;
      snap.samples = typeof v === "number" ? [{ value: v }] : v;
      if (snap.samples.length === 0) continue;
      parts.push(await this.#prom.getSingleMetricAsString(f.name));
    }
    return parts.join("\n") + "\n";
  }
}

function renderExact(f: Family, v: bigint): string {
  const help = f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
  return `# HELP ${f.name} ${help}\n# TYPE ${f.name} ${f.type}\n${f.name} ${v}`;
}
