/**
 * Timers that can be cancelled: one `delay`, one `deadline`, one jittered backoff (the shapes of
 * denoland/std's async module, written here because JSR is unreachable from the machines we build on).
 */

/** Resolves after `ms`, or at once (without rejecting) when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The error `deadline` rejects with when the time runs out. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * Settles like `p`, or rejects with DeadlineError after `ms`. The timer is always cleared, so a
 * pending deadline never keeps the process (or a test's leak check) waiting.
 */
export function deadline<T>(p: Promise<T>, ms: number, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/** One deadline of a `Deadlines` set (what `add` returns, for `remove`). */
export interface DeadlineEntry {
  readonly at: number;
  readonly expire: () => void;
}

/**
 * Many deadlines on one timer: the timer is armed for the earliest and re-armed only when an
 * earlier one is added or it fires. A call loop with a fixed timeout (each new deadline later than
 * the armed one) then costs a Set insert and delete per call, where `deadline` costs a setTimeout
 * and a clearTimeout (~2 µs in Deno 2.9: both are ops, against a trivial call of ~60 µs). A removed
 * entry leaves the timer armed; when it fires it finds nothing due and re-arms for what remains, or
 * stops. `close()` stops it for good (the owner's end), so no timer outlives its owner.
 */
export class Deadlines {
  readonly #entries = new Set<DeadlineEntry>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;
  #closed = false;

  /** Calls `expire` once `performance.now()` reaches `at`, unless removed first. */
  add(at: number, expire: () => void): DeadlineEntry {
    const entry = { at, expire };
    if (this.#closed) return entry;
    this.#entries.add(entry);
    if (at < this.#armedAt) this.#arm(at);
    return entry;
  }

  remove(entry: DeadlineEntry): void {
    this.#entries.delete(entry);
  }

  /** Settles like `p`, or rejects with DeadlineError after `ms`: `deadline` on this set's timer. */
  within<T>(p: Promise<T>, ms: number, what = "operation"): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = this.add(
        performance.now() + ms,
        () => reject(new DeadlineError(`${what} timed out after ${ms} ms`)),
      );
      p.then((v) => {
        this.remove(entry);
        resolve(v);
      }, (e) => {
        this.remove(entry);
        reject(e);
      });
    });
  }

  /** Resolves after `ms`, or at once (without rejecting) when `signal` aborts: `delay` on this set's timer. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.remove(entry);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const entry = this.add(performance.now() + ms, done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Deadlines waiting (for tests and stats). */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the timer is armed (for tests: a closed or drained set holds none). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Drops every deadline without expiring it and stops the timer; later adds are ignored. */
  close(): void {
    this.#closed = true;
    this.#entries.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const due: DeadlineEntry[] = [];
    for (const e of this.#entries) {
      if (e.at <= now) due.push(e);
      else if (e.at < next) next = e.at;
    }
    for (const e of due) this.#entries.delete(e);
    if (next < Infinity) this.#arm(next);
    for (const e of due) e.expire();
  }
}

/** Waits for `p` at most `ms`; resolves either way (whether `p` settled is not reported). */
export function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return deadline(p, ms).then(() => {}, () => {});
}

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

/** Capped exponential backoff with jitter: each wait is between half and all of the current step. */
export class Backoff {
  #step: number;
  constructor(readonly options: BackoffOptions) {
    this.#step = options.minMs;
  }
  /** The next wait in ms; the step doubles up to maxMs. */
  next(): number {
    const r = this.options.random ?? Math.random;
    const ms = this.#step * (0.5 + r() * 0.5);
    this.#step = Math.min(this.#step * 2, this.options.maxMs);
    return ms;
  }
  /** Back to the shortest wait (after a success). */
  reset(): void {
    this.#step = this.options.minMs;
  }
}
