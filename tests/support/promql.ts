/**
 * What tests need from PromQL text: the exporter metric selectors in an expression, the family each
 * one reads, and the dashboard's and the alerting rules' expressions with what they say about
 * flavours. Not a parser: exporter metric names are unambiguous (`bitcoin_…`, `bitcoind_ipc_exporter_…`,
 * and the process families every exporter serves, `process_…`, `deno_…`).
 */
import type { Flavour } from "../../src/flavour.ts";

const root = new URL("../../", import.meta.url).pathname;

/**
 * Families the dashboard and the alerts are written against that this build does not serve yet
 * (with the issue that adds each). Once served they are checked like every other (tests decide by
 * whether the build serves them), so an entry here goes when its family lands. Empty: every family
 * they read is served (issue 12's landed as bitcoin_block_timestamp_seconds,
 * bitcoin_peer_connections and bitcoin_blockchain_size_bytes).
 */
export const PENDING: Record<string, string> = {};

export interface Selector {
  /** As written: the name and its `{…}` matchers, if any. */
  text: string;
  name: string;
  /** The family it reads (a histogram's `_bucket`/`_sum`/`_count` series belong to their family). */
  family: string;
  matchers: string;
}

export function selectors(expr: string, families: readonly string[]): Selector[] {
  const out: Selector[] = [];
  for (const m of expr.matchAll(/\b((?:bitcoin|bitcoind_ipc_exporter|process|deno)_[A-Za-z0-9_]*)(\{[^}]*\})?/g)) {
    const name = m[1];
    const family = families.includes(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    out.push({ text: m[0], name, family, matchers: m[2] ?? "" });
  }
  return out;
}

export interface Query {
  /** Where it comes from, for messages: `panel "Height" A`, `alert BitcoinNodeDown`. */
  where: string;
  expr: string;
  /** The flavours that give its metrics; undefined: all. */
  flavours?: Flavour[];
}

/** Every target of every panel of a Grafana dashboard, with the panel's "Flavours: …." sentence. */
export function dashboardQueries(dashboard: { panels: Record<string, unknown>[] }): Query[] {
  const out: Query[] = [];
  const walk = (panels: Record<string, unknown>[]) => {
    for (const p of panels) {
      if (Array.isArray(p.panels)) walk(p.panels as Record<string, unknown>[]);
      const flavours = /Flavours: ([^.]+)\./.exec(String(p.description ?? ""))?.[1].split(", ") as
        | Flavour[]
        | undefined;
      for (const t of (p.targets ?? []) as { expr?: string; refId: string }[]) {
        if (t.expr) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr, flavours });
      }
    }
  };
  walk(dashboard.panels);
  return out;
}

export async function readDashboard(path = `${root}dashboards/bitcoind-ipc-exporter.json`) {
  return JSON.parse(await Deno.readTextFile(path));
}

/**
 * The alerting rules' expressions with their `flavours` annotation. The rules file is YAML; the
 * fields read here are each on lines of their own (`expr: >-` folded blocks included), which
 * tests/dashboard_test.ts holds the file to by comparing with `promtool check rules`' count.
 */
export async function alertQueries(path = `${root}alerts/bitcoind-ipc-exporter.rules.yml`): Promise<Query[]> {
  const lines = (await Deno.readTextFile(path)).split("\n");
  const out: Query[] = [];
  let cur: Query | undefined;
  for (let i = 0; i < lines.length; i++) {
    const alert = /^\s*- alert: (\S+)/.exec(lines[i]);
    if (alert) {
      cur = { where: `alert ${alert[1]}`, expr: "" };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const expr = /^(\s*)expr: (.*)$/.exec(lines[i]);
    if (expr) {
      if (expr[2] === ">-") {
        const parts: string[] = [];
        while (i + 1 < lines.length && lines[i + 1].startsWith(expr[1] + "  ")) parts.push(lines[++i].trim());
        cur.expr = parts.join(" ");
      } else cur.expr = expr[2];
      continue;
    }
    const fl = /^\s*flavours: "([^"]*)"/.exec(lines[i]);
    if (fl && fl[1] !== "all") cur.flavours = fl[1].split(" ") as Flavour[];
  }
  return out;
}
