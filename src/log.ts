/**
 * Line-oriented logging to stderr: `2026-01-01T00:00:00.000Z INFO message key=value`.
 * Colour only when stderr is a terminal and NO_COLOR is unset, so journald and files get plain text.
 */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const COLOUR: Record<Level, string> = { debug: "\x1b[90m", info: "\x1b[32m", warn: "\x1b[33m", error: "\x1b[31m" };

export interface Logger {
  readonly debugEnabled: boolean;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(
  options: { debug?: boolean; write?: (line: string) => void; colour?: boolean } = {},
): Logger {
  const min = options.debug ? ORDER.debug : ORDER.info;
  const encoder = new TextEncoder();
  const write = options.write ?? ((line: string) => {
    try {
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    } catch { /* stderr gone: nothing better to do */ }
  });
  const colour = options.colour ?? (!Deno.noColor && Deno.stderr.isTerminal());
  const emit = (level: Level, msg: string) => {
    if (ORDER[level] < min) return;
    const tag = level.toUpperCase().padEnd(5);
    write(`${new Date().toISOString()} ${colour ? `${COLOUR[level]}${tag}\x1b[0m` : tag} ${msg}`);
  };
  return {
    debugEnabled: min <= ORDER.debug,
    debug: (m) => emit("debug", m),
    info: (m) => emit("info", m),
    warn: (m) => emit("warn", m),
    error: (m) => emit("error", m),
  };
}

/** A logger that records lines, for tests. */
export function memoryLogger(debug = false): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ debug, write: (l) => lines.push(l), colour: false }), { lines });
}
