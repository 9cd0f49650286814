/**
 * The command line's long flags, read strictly: what node:util's `parseArgs` did for us (strict,
 * positionals allowed), without loading Deno's Node layer for it (issue 21: RSS).
 *
 * - `--name value` and `--name=value` for a flag that takes a value; the value may be empty when
 *   given with `=`, and a separate value that starts with "-" is refused as ambiguous (write
 *   `--name=-x`);
 * - `--name` (or a short alias, `-h`) for a boolean flag; `--name=...` on one is refused;
 * - `--` ends the flags: every argument after it is positional, as is a lone `-`;
 * - an unknown flag is refused; a flag given twice keeps the last value.
 *
 * Every refusal is a FlagError with a one-line message naming the flag.
 */

/** One flag: it takes a value (`string`) or is a switch (`boolean`), with an optional one-letter alias. */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
}

/** The values read, by flag name: a string, or true for a boolean flag given. */
export type FlagValues<S extends Record<string, FlagSpec>> = {
  [K in keyof S]?: S[K]["type"] extends "string" ? string : boolean;
};

export interface ParsedFlags<S extends Record<string, FlagSpec>> {
  values: FlagValues<S>;
  positionals: string[];
}

/** A command line the flags refuse: its message is one line naming the flag. */
export class FlagError extends Error {
  override name = "FlagError";
}

/** Reads `args` against `specs`. */
export function parseFlags<S extends Record<string, FlagSpec>>(args: readonly string[], specs: S): ParsedFlags<S> {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    let shown: string;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      shown = `--${name}`;
    } else {
      // One short alias per argument (`-h`); grouped letters are none of ours.
      shown = arg;
      name = (arg.length === 2 && byShort.get(arg[1])) || "";
    }
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) throw new FlagError(`unknown flag: ${oneLine(shown)}`);
    if (spec.type === "boolean") {
      if (inline !== undefined) throw new FlagError(`${shown} takes no value`);
      values[name] = true;
      continue;
    }
    if (inline !== undefined) {
      values[name] = inline;
      continue;
    }
    const next = args[i + 1];
    if (next === undefined) throw new FlagError(`${shown} requires a value`);
    if (next.startsWith("-") && next !== "-") {
      throw new FlagError(
        `${shown} requires a value, and "${oneLine(next)}" looks like a flag: write ${shown}=${
          oneLine(next)
        } if it is the value`,
      );
    }
    values[name] = next;
    i++;
  }
  return { values: values as FlagValues<S>, positionals };
}

/**
 * An argument as a message quotes it: at most 80 characters, and control characters (a line break
 * in a quoted argument) escaped, so the message stays one bounded line whatever was typed.
 */
function oneLine(arg: string): string {
  const cut = arg.length > 80 ? `${arg.slice(0, 80)}...` : arg;
  // deno-lint-ignore no-control-regex
  return cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
