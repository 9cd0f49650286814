/**
 * The scrape endpoint. GET/HEAD /metrics only; node readings are refreshed (shared, cached, bounded
 * by a timeout) before rendering, and the number of scrapes in flight is capped.
 */
import { CONTENT_TYPE, type MetricsRegistry } from "./registry.ts";
import type { Logger } from "./log.ts";
import { errorText } from "./util/errors.ts";

export interface MetricsHandlerOptions {
  registry: MetricsRegistry;
  /** Brings scrape-time readings up to date; must settle within the scrape timeout. */
  refresh: () => Promise<void>;
  log: Logger;
  path?: string;
  maxInFlight?: number;
}

export function metricsHandler(o: MetricsHandlerOptions): (req: Request) => Promise<Response> {
  const path = o.path ?? "/metrics";
  const maxInFlight = o.maxInFlight ?? 16;
  let inFlight = 0;
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== path) return text(404, "Not Found\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, "Method Not Allowed\n", { Allow: "GET, HEAD" });
    }
    if (inFlight >= maxInFlight) return text(503, "Too many concurrent scrapes\n", { "Retry-After": "1" });
    inFlight++;
    try {
      await o.refresh();
      const body = await o.registry.render();
      return new Response(req.method === "HEAD" ? null : body, {
        status: 200,
        headers: { "Content-Type": CONTENT_TYPE, "Content-Length": String(new TextEncoder().encode(body).length) },
      });
    } catch (e) {
      o.log.error(`rendering metrics failed: ${errorText(e)}`);
      return text(500, "Internal Server Error\n");
    } finally {
      inFlight--;
    }
  };
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}
