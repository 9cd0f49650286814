/**
 * node_exporter-style switches, one pair per registered collector: `--collector.<name>` turns it on,
 * `--no-collector.<name>` off. A collector that is off is never created: it subscribes to nothing,
 * calls nothing and serves no family. Generated from the registry (mod.ts), so a new collector gets
 * its switches with its registration line.
 */
import type { CollectorSpec } from "./collector.ts";

export class CollectorFlagError extends Error {
  override name = "CollectorFlagError";
}

/** `--collector.NAME` / `--no-collector.NAME` (also as `=true|false`). */
const FLAG = /^--(no-)?collector\.([a-z0-9_]+)(?:=(true|false))?$/;

/**
 * Splits the collector switches out of `args`: which collectors are on (each spec's default unless
 * switched), and the other arguments in order. Unknown names and contradictions are errors.
 */
export function collectorSwitches(
  args: readonly string[],
  specs: readonly CollectorSpec[],
): { enabled: Set<string>; rest: string[] } {
  const known = new Map(specs.map((s) => [s.name, s]));
  const chosen = new Map<string, boolean>();
  const rest: string[] = [];
  for (const arg of args) {
    if (arg === "--") {
      rest.push(...args.slice(args.indexOf(arg)));
      break;
    }
    const m = FLAG.exec(arg);
    if (!m) {
      // `--collector.NAME.SETTING` is a collector's setting (e.g. --collector.template.interval), parsed
      // with the other flags; anything else that starts like a switch is a mistake.
      if (/^--(no-)?collector\./.test(arg) && !/^--collector\.[a-z0-9_]+\.[a-z0-9_-]+(=|$)/.test(arg)) {
        throw new CollectorFlagError(`invalid collector flag: ${arg.slice(0, 80)}`);
      }
      rest.push(arg);
      continue;
    }
    const [, no, name, value] = m;
    if (!known.has(name)) {
      throw new CollectorFlagError(
        `unknown collector "${name}" in ${arg}: expected one of ${[...known.keys()].join(", ")}`,
      );
    }
    const on = (no === undefined) === (value !== "false");
    if (chosen.has(name) && chosen.get(name) !== on) {
      throw new CollectorFlagError(`collector ${name} is switched both on and off`);
    }
    chosen.set(name, on);
  }
  const enabled = new Set(specs.filter((s) => chosen.get(s.name) ?? s.defaultEnabled !== false).map((s) => s.name));
  return { enabled, rest };
}

/** The --help lines for the switches. */
export function collectorHelp(specs: readonly CollectorSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length)) + "--[no-]collector.".length + 2;
  return specs.map((s) => {
    const flag = `--[no-]collector.${s.name}`.padEnd(width);
    return `  ${flag}${s.help} (default ${s.defaultEnabled === false ? "off" : "on"})`;
  }).join("\n");
}
