import { assert, assertEquals, assertMatch, assertStringIncludes } from "../tests/support/assert.ts";
import { createLogger, DEFAULT_LOG_LIMITS, type Logger, type LoggerOptions, memoryLogger } from "./log.ts";

const utf8 = (s: string) => new TextEncoder().encode(s).length;

/** A logger on a fake clock, recording lines and the timers it asks for. */
function fake(options: Omit<LoggerOptions, "write" | "now" | "schedule"> = {}) {
  const lines: string[] = [];
  const timers: { at: number; fn: () => void }[] = [];
  const clock = { t: 1_000 };
  const log = createLogger({
    colour: false,
    ...options,
    write: (l) => lines.push(l),
    now: () => clock.t,
    schedule: (fn, ms) => timers.push({ at: clock.t + ms, fn }),
  });
  /** Moves the clock and runs the timers that are due. */
  const advance = (ms: number) => {
    clock.t += ms;
    for (const timer of timers.splice(0)) {
      if (timer.at <= clock.t) timer.fn();
      else timers.push(timer);
    }
  };
  return { log, lines, timers, clock, advance };
}

const body = (line: string) => line.replace(/^\S+ \S+\s+/, "");

Deno.test("log: one event is one line: newlines, escapes and bidi controls from the node are escaped", () => {
  const { log, lines } = fake();
  log.error(
    "peer aborted: bad\n2026-01-01T00:00:00.000Z INFO  forged\r\x1b[31mred\x1b[0m\t\u2028\u202eevil\u0085 😀 é ok \ud800x",
  );
  assertEquals(lines.length, 1);
  assertEquals(
    body(lines[0]),
    "peer aborted: bad\\n2026-01-01T00:00:00.000Z INFO  forged\\r\\x1b[31mred\\x1b[0m\\t\\u2028\\u202eevil\\x85 😀 é ok \\ud800x",
  );
  // deno-lint-ignore no-control-regex
  assert(!/[\x00-\x1f\x7f]/.test(lines[0]));
});

Deno.test("log: every line is at most 2 KiB, cut with a marker saying how much was left out", () => {
  const { log, lines } = fake();
  const reason = "x".repeat(60 * 1024 * 1024); // the 60 MiB exception reason that once made 377 MB of log
  log.warn(`connection to the node lost: peer aborted: ${reason}`);
  log.warn("é".repeat(5000));
  log.warn("😀".repeat(5000));
  log.warn("\n".repeat(5000));
  log.warn("short");
  assertEquals(lines.length, 5);
  for (const l of lines) assert(utf8(l) <= DEFAULT_LOG_LIMITS.maxLineBytes, `${utf8(l)} bytes`);
  const shown = body(lines[0]).length - body(lines[0]).replace(/… \[truncated \d+ chars\]$/, "").length;
  assert(shown > 0, "marker present");
  const kept = body(lines[0]).replace(/… \[truncated \d+ chars\]$/, "");
  const total = `connection to the node lost: peer aborted: ${reason}`.length;
  assertEquals(Number(/truncated (\d+) chars/.exec(lines[0])![1]), total - kept.length, "the marker counts the rest");
  assert(kept.length > 1900, `kept ${kept.length} characters`);
  assertMatch(lines[1], /é… \[truncated \d+ chars\]$/);
  // A surrogate pair is never split: the kept text is valid UTF-16.
  assert(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(lines[2]), "no lone high surrogate");
  assertMatch(lines[3], /(\\n)+… \[truncated \d+ chars\]$/);
  assertEquals(body(lines[4]), "short");
});

Deno.test("log: a flood of one kind is cut to the per-kind limit, then one summary counts the rest", () => {
  const { log, lines, advance, timers } = fake();
  const n = 10_000;
  for (let i = 0; i < n; i++) log.warn(`ipc: peer released unknown export ${i * 7919}`);
  const per = DEFAULT_LOG_LIMITS.perKind.other;
  assertEquals(lines.length, per);
  // The window's end is scheduled: the summary comes even if nothing else is logged.
  assertEquals(timers.length, 1);
  advance(DEFAULT_LOG_LIMITS.windowMs);
  assertEquals(lines.length, per + 1);
  assertStringIncludes(lines[per], `suppressed ${n - per} similar lines like "ipc: peer released unknown export #"`);
  assertStringIncludes(lines[per], "WARN");
  // A new window: the kind may log again.
  log.warn("ipc: peer released unknown export 5");
  assertEquals(lines.length, per + 2);
});

Deno.test("log: without timers the summary comes with the next line after the window", () => {
  const { log, lines, clock } = (() => {
    const lines: string[] = [];
    const clock = { t: 0 };
    const log = createLogger({ write: (l) => lines.push(l), colour: false, now: () => clock.t, schedule: null });
    return { log, lines, clock };
  })();
  for (let i = 0; i < 100; i++) log.error(`reading node state failed: timeout after ${i} ms`);
  assertEquals(lines.length, DEFAULT_LOG_LIMITS.perKind.other);
  clock.t += DEFAULT_LOG_LIMITS.windowMs;
  log.info("something else");
  assertEquals(lines.length, DEFAULT_LOG_LIMITS.perKind.other + 2);
  assertStringIncludes(lines.at(-2)!, "suppressed 80 similar lines");
  assertStringIncludes(lines.at(-1)!, "something else");
});

Deno.test("log: many distinct kinds are capped by the global limit, counted in one summary", () => {
  const { log, lines, advance } = fake();
  const words = (i: number) => i.toString(26).replace(/\d/g, (d) => "qrstuvwxyz"[Number(d)]); // no digits
  for (let i = 0; i < 5000; i++) log.warn(`peer did not understand our ${words(i)} message`);
  assertEquals(lines.length, DEFAULT_LOG_LIMITS.global.other);
  advance(DEFAULT_LOG_LIMITS.windowMs);
  assertStringIncludes(lines.at(-1)!, `suppressed ${5000 - DEFAULT_LOG_LIMITS.global.other} more lines of other kinds`);
});

Deno.test("log: a debug flood never silences a warning or an error", () => {
  const { log, lines } = fake({ debug: true });
  for (let i = 0; i < 50_000; i++) log.debug(`utxo add value=${i} height=${i}`);
  for (let i = 0; i < 3000; i++) log.debug(`mempool tx added txid=${i.toString(16)} word${"abcdefghij"[i % 10]}`);
  log.warn("connection to the node lost");
  log.error("internal error");
  assertStringIncludes(lines.at(-2)!, "connection to the node lost");
  assertStringIncludes(lines.at(-1)!, "internal error");
  assert(lines.length <= DEFAULT_LOG_LIMITS.global.debug + 2, `${lines.length} lines`);
});

Deno.test("log: the table of kinds is bounded; an evicted kind reports its count first", () => {
  const { log, lines } = fake({ limits: { maxKinds: 3, perKind: { debug: 1, other: 1 } } });
  for (let i = 0; i < 5; i++) log.warn("alpha flood");
  log.warn("beta");
  log.warn("gamma");
  assertEquals(lines.length, 3);
  log.warn("delta"); // a fourth kind: alpha, the least recently used, goes, with its count
  assertEquals(lines.length, 5);
  assertStringIncludes(lines[3], `suppressed 4 similar lines like "alpha flood"`);
  assertStringIncludes(lines[4], "delta");
  // Many more kinds than the cap: one line each (below the global limit), no summary owed.
  const letters = "abcdefghijklmnopqrstuvwxyz";
  for (let i = 0; i < 100; i++) log.warn(`kind ${letters[i % 26]}${letters[Math.floor(i / 26)]}`);
  assertEquals(lines.length, 105);
});

Deno.test("log: an explicit kind groups different messages", () => {
  const { log, lines } = fake({ limits: { perKind: { debug: 2, other: 2 } } });
  for (const s of ["SIGHUP", "SIGHUP", "SIGHUP", "SIGUSR1"]) log.info(`${s}: nothing to do`, "signal");
  assertEquals(lines.map(body), ["SIGHUP: nothing to do", "SIGHUP: nothing to do"]);
});

Deno.test("log: flush() writes the counts still held; memoryLogger keeps working", () => {
  const log = memoryLogger(true);
  for (let i = 0; i < 30; i++) log.warn(`retry ${i}`);
  log.debug("debug line");
  assertEquals(log.lines.length, 21);
  log.flush();
  assertStringIncludes(log.lines.at(-1)!, "suppressed 10 similar lines");
  assertMatch(log.lines[0], /^\d{4}-\d\d-\d\dT\S+Z WARN {2}retry 0$/);
  assert(log.debugEnabled && !memoryLogger().debugEnabled);
  // The interface stays what callers implement: one-argument methods still satisfy it.
  const plain: Logger = { debugEnabled: false, debug: (_m: string) => {}, info() {}, warn() {}, error() {} };
  plain.info("x");
});

Deno.test("logfmt and json: the same cleaned text, quoted, one line, within the byte bound even when quoting doubles it", () => {
  for (const format of ["logfmt", "json"] as const) {
    const lines: string[] = [];
    const log = createLogger({ format, write: (l) => lines.push(l), schedule: null, level: "warn" });
    log.info("dropped below warn");
    log.warn('peer said "hi"\nforged level=error \\ done');
    log.error('"\\'.repeat(5000)); // every character needs an escape
    assertEquals(lines.length, 2, lines.join("\n"));
    const msg = format === "json"
      ? JSON.parse(lines[0]).msg
      : JSON.parse(/^time=\S+ level=warn msg=(".*")$/.exec(lines[0])![1]);
    assertEquals(msg, 'peer said "hi"\\nforged level=error \\ done');
    for (const l of lines) {
      assert(!l.includes("\n"));
      assert(new TextEncoder().encode(l).length <= DEFAULT_LOG_LIMITS.maxLineBytes, `${format}: ${l.length}`);
    }
    assertStringIncludes(lines[1], "… [truncated");
    if (format === "json") assertEquals(JSON.parse(lines[1]).level, "error");
  }
});
