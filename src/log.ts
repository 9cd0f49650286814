/**
 * Line-oriented logging to stderr, one line per event, in one of three formats (`--log.format`):
 * - `text` (default): `2026-01-01T00:00:00.000Z INFO  message`; colour only when stderr is a
 *   terminal and NO_COLOR is unset, so journald and files get plain text;
 * - `logfmt`: `time=2026-01-01T00:00:00.000Z level=info msg="message"`, as Prometheus's own;
 * - `json`: `{"time":"2026-01-01T00:00:00.000Z","level":"info","msg":"message"}`.
 * The message is the same text in all three (cleaned as below, then quoted for logfmt and JSON).
 *
 * Much of what is logged comes from the node (exception reasons, unknown messages, transaction
 * data), so the logger, not each caller, bounds it:
 * - one event is one line: control characters, line and paragraph separators and bidi overrides
 *   are escaped (`\n`, `\x1b`, `\u2028`), so node text can neither forge lines nor drive a terminal;
 * - every line is at most `maxLineBytes` of UTF-8 (2 KiB): longer text is cut, ending in
 *   `… [truncated N chars]`; the work done is bounded by the limit, not by the message's size;
 * - each kind of line is rate-limited: at most `perKind` lines per window; the rest are counted,
 *   and when the window ends one `suppressed N similar lines` summary stands for them. The kind is
 *   the caller's explicit key, or the message's first 80 characters with every run of digits (and
 *   the hex letters around them) collapsed to `#`, so "released unknown export 17" and "… 18" are
 *   one kind. A global limit per window caps many distinct kinds; debug lines have their own
 *   budgets, so a flood of them never silences a warning;
 * - the table of kinds is an LRU of at most `maxKinds` entries (an evicted entry's count is
 *   reported first): bounded memory whatever the node sends.
 */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const COLOUR: Record<Level, string> = { debug: "\x1b[90m", info: "\x1b[32m", warn: "\x1b[33m", error: "\x1b[31m" };

export interface Logger {
  readonly debugEnabled: boolean;
  /** `kind` groups lines for rate limiting; by default it is derived from the message. */
  debug(msg: string, kind?: string): void;
  info(msg: string, kind?: string): void;
  warn(msg: string, kind?: string): void;
  error(msg: string, kind?: string): void;
}

/** A Logger that can report the counts it holds back (at shutdown). */
export interface FlushableLogger extends Logger {
  /** Writes the `suppressed N similar lines` summaries of every window still open. */
  flush(): void;
}

export interface LogLimits {
  /** Longest line written, in UTF-8 bytes, timestamp and level included. */
  maxLineBytes: number;
  /** Length of a rate-limit window. */
  windowMs: number;
  /** Lines of one kind per window: debug, and info/warn/error. */
  perKind: { debug: number; other: number };
  /** Lines of all kinds together per window: debug, and info/warn/error. */
  global: { debug: number; other: number };
  /** Kinds remembered at once (least recently used first out). */
  maxKinds: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = {
  maxLineBytes: 2048,
  windowMs: 10_000,
  perKind: { debug: 500, other: 20 },
  global: { debug: 2000, other: 200 },
  maxKinds: 1000,
};

export interface LoggerOptions {
  /** The same as `level: "debug"`. */
  debug?: boolean;
  /** The least severe level written (default info). */
  level?: Level;
  format?: "text" | "logfmt" | "json";
  write?: (line: string) => void;
  colour?: boolean;
  limits?: Partial<LogLimits>;
  /** Monotonic milliseconds, for the rate-limit windows (tests pass a fake clock). */
  now?: () => number;
  /**
   * Runs `fn` after `ms`, to write summaries when a window ends even if nothing else is logged;
   * null: summaries are written at the next line or at flush() only (no timers: tests).
   */
  schedule?: ((fn: () => void, ms: number) => void) | null;
}

/** Kept short: the kind key of a line is at most this many characters of its message. */
const KIND_PREFIX = 80;
/** Room kept for the truncation marker. */
const MARKER_RESERVE = 40;

interface Window {
  start: number;
  written: number;
  suppressed: number;
}

interface KindEntry extends Window {
  level: Level;
  kind: string;
}

export function createLogger(options: LoggerOptions = {}): FlushableLogger {
  const limits = { ...DEFAULT_LOG_LIMITS, ...options.limits };
  const min = options.debug ? ORDER.debug : ORDER[options.level ?? "info"];
  const format = options.format ?? "text";
  const encoder = new TextEncoder();
  const write = options.write ?? ((line: string) => {
    try {
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    } catch { /* stderr gone: nothing better to do */ }
  });
  const colour = format === "text" && (options.colour ?? (!Deno.noColor && Deno.stderr.isTerminal()));
  const now = options.now ?? (() => performance.now());
  const schedule = options.schedule === undefined
    ? (fn: () => void, ms: number) => Deno.unrefTimer(setTimeout(fn, ms))
    : options.schedule;

  const kinds = new Map<string, KindEntry>();
  // [debug, info/warn/error]
  const globals: Window[] = [{ start: -Infinity, written: 0, suppressed: 0 }, {
    start: -Infinity,
    written: 0,
    suppressed: 0,
  }];
  /** When the earliest window holding a suppressed count ends (Infinity: none does). */
  let nextDue = Infinity;
  let timerAt = Infinity;

  const line = (level: Level, msg: string) => {
    const time = new Date().toISOString();
    if (format === "text") {
      const tag = level.toUpperCase().padEnd(5);
      const head = `${time} ${colour ? `${COLOUR[level]}${tag}\x1b[0m` : tag} `;
      write(head + clean(msg, limits.maxLineBytes - head.length));
      return;
    }
    // The cleaned text is printable (escapes are ASCII), so quoting adds only `\\` and `\"`: at
    // most twice its length. Cut to fit, then cut again by what the quoting added.
    const head = format === "logfmt"
      ? `time=${time} level=${level} msg=`
      : `{"time":"${time}","level":"${level}","msg":`;
    const tail = format === "logfmt" ? "" : "}";
    const budget = limits.maxLineBytes - head.length - tail.length - 2;
    const cleaned = clean(msg, budget);
    let quoted = JSON.stringify(cleaned);
    const added = quoted.length - 2 - cleaned.length; // one ASCII byte per escape added
    if (added > 0) quoted = JSON.stringify(clean(msg, Math.max(0, budget - added)));
    write(head + quoted + tail);
  };
  const summary = (level: Level, n: number, what: string) => {
    const s = limits.windowMs / 1000;
    line(level, `suppressed ${n} ${what} in the last ${s} s (log rate limit)`);
  };
  const endKind = (e: KindEntry) => {
    if (e.suppressed > 0) summary(e.level, e.suppressed, `similar line${e.suppressed > 1 ? "s" : ""} like "${e.kind}"`);
  };
  const endGlobal = (cls: 0 | 1) => {
    const g = globals[cls];
    if (g.suppressed > 0) {
      summary(cls === 0 ? "debug" : "warn", g.suppressed, `more ${cls === 0 ? "debug " : ""}lines of other kinds`);
    }
  };
  const due = (at: number) => {
    if (at < nextDue) nextDue = at;
    if (schedule && timerAt === Infinity) {
      timerAt = at;
      schedule(() => {
        timerAt = Infinity;
        settle(now());
      }, Math.max(0, at - now()));
    }
  };
  /** Writes the summaries of every window that has ended; re-arms for the next. */
  const settle = (t: number) => {
    if (t < nextDue) {
      if (nextDue !== Infinity) due(nextDue);
      return;
    }
    nextDue = Infinity;
    for (const e of kinds.values()) {
      if (e.suppressed === 0) continue;
      if (t - e.start >= limits.windowMs) {
        endKind(e);
        e.start = t;
        e.written = 0;
        e.suppressed = 0;
      } else due(e.start + limits.windowMs);
    }
    for (const cls of [0, 1] as const) {
      const g = globals[cls];
      if (g.suppressed === 0) continue;
      if (t - g.start >= limits.windowMs) {
        endGlobal(cls);
        g.start = t;
        g.written = 0;
        g.suppressed = 0;
      } else due(g.start + limits.windowMs);
    }
  };

  const emit = (level: Level, msg: string, kind?: string) => {
    if (ORDER[level] < min) return;
    const t = now();
    if (t >= nextDue) settle(t);
    const cls = level === "debug" ? 0 : 1;
    const key = `${level} ${kind === undefined ? kindOf(msg) : kind.slice(0, KIND_PREFIX)}`;
    let e = kinds.get(key);
    if (e === undefined) {
      e = { start: t, written: 0, suppressed: 0, level, kind: key.slice(level.length + 1) };
      kinds.set(key, e);
      if (kinds.size > limits.maxKinds) {
        // Least recently used first: Map keeps insertion order and every use re-inserts.
        const [oldKey, old] = kinds.entries().next().value!;
        kinds.delete(oldKey);
        endKind(old);
      }
    } else {
      kinds.delete(key);
      kinds.set(key, e);
      if (t - e.start >= limits.windowMs) {
        endKind(e);
        e.start = t;
        e.written = 0;
        e.suppressed = 0;
      }
    }
    const g = globals[cls];
    if (t - g.start >= limits.windowMs) {
      endGlobal(cls);
      g.start = t;
      g.written = 0;
      g.suppressed = 0;
    }
    if (e.written >= (cls === 0 ? limits.perKind.debug : limits.perKind.other)) {
      e.suppressed++;
      due(e.start + limits.windowMs);
      return;
    }
    if (g.written >= (cls === 0 ? limits.global.debug : limits.global.other)) {
      g.suppressed++;
      due(g.start + limits.windowMs);
      return;
    }
    e.written++;
    g.written++;
    line(level, msg);
  };

  return {
    debugEnabled: min <= ORDER.debug,
    debug: (m, k) => emit("debug", m, k),
    info: (m, k) => emit("info", m, k),
    warn: (m, k) => emit("warn", m, k),
    error: (m, k) => emit("error", m, k),
    flush: () => {
      for (const e of kinds.values()) {
        endKind(e);
        e.suppressed = 0;
      }
      for (const cls of [0, 1] as const) {
        endGlobal(cls);
        globals[cls].suppressed = 0;
      }
      nextDue = Infinity;
    },
  };
}

/** The default rate-limit kind of a message: its start, numbers and hashes collapsed. */
export function kindOf(msg: string): string {
  return msg.slice(0, KIND_PREFIX).replace(/[0-9A-Fa-f]*[0-9][0-9A-Fa-f]*/g, "#");
}

/** C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, lone surrogates. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const NAMED: Record<number, string> = { 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t" };

/**
 * `msg` as one line of at most `maxBytes` UTF-8 bytes: unsafe characters escaped, the end cut with
 * a marker if it does not fit. Looks at no more than about `maxBytes` characters of `msg`.
 */
export function clean(msg: string, maxBytes: number): string {
  if (msg.length <= maxBytes && PRINTABLE_ASCII.test(msg)) return msg;
  if (msg.length * 3 <= maxBytes && !UNSAFE.test(msg)) return msg;
  const soft = Math.max(0, maxBytes - MARKER_RESERVE);
  let out = "";
  let bytes = 0;
  let i = 0;
  let cutAt = -1; // where the text stops if it must be truncated (leaves room for the marker)
  let cutOut = 0;
  while (i < msg.length) {
    const c = msg.charCodeAt(i);
    let piece: string;
    let units = 1;
    let size: number;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      piece = NAMED[c] ?? `\\x${c.toString(16).padStart(2, "0")}`;
      size = piece.length;
    } else if (c < 0x80) {
      piece = msg[i];
      size = 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < msg.length && (msg.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      piece = msg.slice(i, i + 2); // a surrogate pair: one 4-byte character
      units = 2;
      size = 4;
    } else if ((c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || (c >= 0xd800 && c <= 0xdfff)) {
      piece = `\\u${c.toString(16).padStart(4, "0")}`;
      size = 6;
    } else {
      piece = msg[i];
      size = c < 0x800 ? 2 : 3;
    }
    if (cutAt < 0 && bytes + size > soft) {
      cutAt = i;
      cutOut = out.length;
    }
    if (bytes + size > maxBytes) break;
    out += piece;
    bytes += size;
    i += units;
  }
  if (i >= msg.length) return out;
  return `${out.slice(0, cutOut)}… [truncated ${msg.length - cutAt} chars]`;
}

/** A logger that records lines, for tests. Summaries come at the next line or at flush(): no timers. */
export function memoryLogger(
  debug = false,
  options: Omit<LoggerOptions, "debug" | "write"> = {},
): FlushableLogger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(
    createLogger({ colour: false, schedule: null, ...options, debug, write: (l) => lines.push(l) }),
    { lines },
  );
}
