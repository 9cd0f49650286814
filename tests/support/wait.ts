/** Waiting in tests: one poll loop, bounded by a generous deadline (never a timed assertion). */
import { samples } from "./exporter.ts";

/** Polls `fn` until it returns something other than undefined (a rejection counts as not yet). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve().then(fn).catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Scrapes until `pred` holds for the samples; returns that exposition. */
export async function scrapeUntil(
  scrape: () => Promise<string>,
  pred: (s: Map<string, string>) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<string> {
  let last = "";
  try {
    return await waitFor(what, async () => {
      last = await scrape();
      return pred(samples(last)) ? last : undefined;
    }, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}; last /metrics:\n${last}`);
  }
}
