/**
 * HTTP basic authentication against bcrypt hashes (web config `basic_auth_users`).
 *
 * bcrypt is slow by design (~70 ms per check at cost 10 here), and bcryptjs, pure JavaScript, runs
 * it on the event loop the node's callbacks share: its async API yields only after 100 ms of work,
 * so at common costs one check is one uninterrupted block. Hence:
 * - a verified user/password pair is cached (as exporter-toolkit does), keyed by a SHA-256 of the
 *   pair, so a scraper pays bcrypt once, not per scrape; the cache is bounded (least recently used
 *   out), and an entry is dropped if the config's hash for the user changes (it cannot at run time);
 * - checks run one at a time, and at most `maxChecksPerWindow` per window; a request over that
 *   budget is answered 429 with Retry-After and costs nothing, so a flood of wrong passwords holds
 *   the event loop for at most that many checks per window (about 4 × 70 ms per second by default)
 *   and never delays a cached scraper;
 * - a user not in the table is checked against a dummy hash of the same cost, so the time taken
 *   does not tell which user names exist.
 */

export type AuthResult = "ok" | "denied" | "busy";

export interface BasicAuthOptions {
  users: Map<string, string>;
  /** Verified pairs kept (least recently used out). */
  cacheSize?: number;
  /** bcrypt checks allowed per window; more are answered "busy" without checking. */
  maxChecksPerWindow?: number;
  windowMs?: number;
  /** Monotonic milliseconds (tests pass a fake clock). */
  now?: () => number;
}

/** What an authorization header carried, when it is well formed. */
function credentials(header: string | null): { user: string; password: string } | undefined {
  if (header === null) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!m || m[1].length > 1024) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export class BasicAuth {
  readonly #users: Map<string, string>;
  readonly #cache = new Map<string, string>(); // sha256(user:password) → the hash it was verified against
  readonly #cacheSize: number;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #dummy: string;
  #windowStart = -Infinity;
  #checks = 0;
  /** The check running now: checks run one after another. */
  #queue: Promise<unknown> = Promise.resolve();
  /** bcrypt checks done (tests, measurements). */
  checks = 0;

  constructor(o: BasicAuthOptions) {
    this.#users = o.users;
    this.#cacheSize = o.cacheSize ?? 100;
    this.#max = o.maxChecksPerWindow ?? 4;
    this.#windowMs = o.windowMs ?? 1000;
    this.#now = o.now ?? (() => performance.now());
    const cost = [...o.users.values()][0]?.slice(4, 6) ?? "10";
    // A hash no password matches (its 53 characters decode to a salt and a digest of zeros).
    this.#dummy = `$2b$${cost}$${".".repeat(53)}`;
  }

  get enabled(): boolean {
    return this.#users.size > 0;
  }

  async check(authorization: string | null): Promise<AuthResult> {
    const c = credentials(authorization);
    if (!c) return "denied";
    const hash = this.#users.get(c.user);
    const key = await digest(`${c.user}:${c.password}`);
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached === hash) {
      this.#cache.delete(key); // re-inserted: most recently used last
      this.#cache.set(key, cached);
      return "ok";
    }
    const t = this.#now();
    if (t - this.#windowStart >= this.#windowMs) {
      this.#windowStart = t;
      this.#checks = 0;
    }
    if (this.#checks >= this.#max) return "busy";
    this.#checks++;
    const run = this.#queue.then(async () => {
      // Loaded on the first check, not imported at the top: bcryptjs is an npm package that loads
      // node:crypto, and most exporters have no users (RSS, issue 21).
      const bcrypt = (await import("bcryptjs")).default;
      this.checks++;
      return bcrypt.compare(c.password, hash ?? this.#dummy);
    });
    this.#queue = run.catch(() => undefined);
    let ok: boolean;
    try {
      ok = await run;
    } catch {
      ok = false; // a hash bcryptjs cannot read (the config check admits none)
    }
    if (!ok || hash === undefined) return "denied";
    this.#cache.set(key, hash);
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return "ok";
  }
}

async function digest(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}
