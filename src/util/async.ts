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
