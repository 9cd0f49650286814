/**
 * The exporter's HTTP endpoints, exporter-toolkit style:
 *
 * - the telemetry path (`/metrics`, `--web.telemetry-path`): node readings are refreshed (shared,
 *   cached, bounded by a timeout) before rendering, one render shared by every request of a refresh
 *   and at most one refresh per floor (shared_render.ts), and the scrapes in flight are capped; the
 *   format is negotiated from `Accept` (OpenMetrics 1.0.0 when preferred, else the text format
 *   0.0.4) and the body gzipped when `Accept-Encoding` allows it;
 * - `/`: a small landing page (name, version, the node's flavour and connection, a link);
 * - `/-/healthy`: 200 while the process serves; `/-/ready`: 200 once the HTTP server serves, the
 *   node connected or not (README "Endpoints" says why);
 * - with `basic_auth_users` in the web config, every path needs a valid user (401 otherwise).
 *
 * GET and HEAD only (405 for other methods), 404 for other paths.
 */
import { CONTENT_TYPE, type Format, type MetricsRegistry, OPENMETRICS_CONTENT_TYPE } from "../metrics/registry.ts";
import { SharedRender } from "./shared_render.ts";
import type { Logger } from "../log.ts";
import type { BasicAuth } from "./basic_auth.ts";
import type { HttpBusy } from "./busy.ts";
import type { HttpRequest, Reply } from "./server.ts";
import { errorText } from "../util/errors.ts";
import { DEFAULTS } from "../cli/defaults.ts";

export interface LandingInfo {
  version: string;
  /** The connected node's flavour, if one is connected. */
  flavour?: string;
  /** Whether the node is connected and answering (bitcoin_up). */
  up: boolean;
  socketPath: string;
}

export interface WebHandlerOptions {
  registry: MetricsRegistry;
  /** Brings scrape-time readings up to date; must settle within the scrape timeout. */
  refresh: () => Promise<void>;
  log: Logger;
  /** Where metrics are served (default /metrics). */
  telemetryPath?: string;
  maxInFlight?: number;
  /** What the landing page shows, read per request. */
  landing?: () => LandingInfo;
  /** Basic authentication (web config basic_auth_users); none when absent or empty. */
  auth?: BasicAuth;
  /** Headers added to every response (web config http_server_config.headers). */
  headers?: [string, string][];
  /** The least time between two refreshes and renders (DEFAULTS.scrapeFloorMs). */
  floorMs?: number;
  /** The exporter's state; a render made in another is not reused (SharedRenderOptions.state). */
  state?: () => unknown;
  /** Receives the shared render, for its counters (tests and benchmarks). */
  onRender?: (r: SharedRender) => void;
  /** Where the render's stretch is measured (busy.ts). */
  busy?: HttpBusy;
}

export function webHandler(o: WebHandlerOptions): (req: HttpRequest) => Promise<Reply> {
  const path = o.telemetryPath ?? "/metrics";
  const metrics = metricsHandler({ ...o, path });
  // Each configured header replaces any of the same name, as Headers.set would.
  const configured = new Set((o.headers ?? []).map(([k]) => k.toLowerCase()));
  const withHeaders = (res: Reply): Reply => {
    if (configured.size === 0) return res;
    res.headers = [...res.headers.filter(([k]) => !configured.has(k.toLowerCase())), ...o.headers!];
    return res;
  };
  return async (req) => {
    const url = new URL(req.url);
    if (o.auth?.enabled) {
      const verdict = await o.auth.check(req.headers.get("authorization"));
      if (verdict === "busy") {
        return withHeaders(text(429, "Too many authentication attempts; retry later\n", { "Retry-After": "1" }));
      }
      if (verdict !== "ok") {
        // No log line per failure: a flood of them would be a flood of lines (and is an attacker's
        // to repeat); the 401 is the answer.
        return withHeaders(
          text(401, "Unauthorized\n", { "WWW-Authenticate": 'Basic realm="bitcoind-ipc-exporter", charset="UTF-8"' }),
        );
      }
    }
    if (url.pathname === path) return withHeaders(await metrics(req));
    const page = url.pathname === "/"
      ? () => html(landingPage(o.landing?.(), path))
      : url.pathname === "/-/healthy"
      ? () => text(200, "Healthy\n")
      : url.pathname === "/-/ready"
      ? () => text(200, "Ready\n")
      : undefined;
    if (!page) return withHeaders(text(404, "Not Found\n"));
    if (req.method !== "GET" && req.method !== "HEAD") {
      return withHeaders(text(405, "Method Not Allowed\n", { Allow: "GET, HEAD" }));
    }
    return withHeaders(page());
  };
}

export interface MetricsHandlerOptions {
  registry: MetricsRegistry;
  refresh: () => Promise<void>;
  log: Logger;
  path?: string;
  maxInFlight?: number;
  /** The least time between two refreshes and renders (DEFAULTS.scrapeFloorMs). */
  floorMs?: number;
  state?: () => unknown;
  onRender?: (r: SharedRender) => void;
  busy?: HttpBusy;
}

/** The telemetry path alone (404 for any other). */
export function metricsHandler(o: MetricsHandlerOptions): (req: HttpRequest) => Promise<Reply> {
  const path = o.path ?? "/metrics";
  const maxInFlight = o.maxInFlight ?? 16;
  let inFlight = 0;
  const shared = new SharedRender({
    refresh: o.refresh,
    render: (f) => o.registry.render(f),
    floorMs: o.floorMs ?? DEFAULTS.scrapeFloorMs,
    state: o.state,
    busy: o.busy,
  });
  o.onRender?.(shared);
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== path) return text(404, "Not Found\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, "Method Not Allowed\n", { Allow: "GET, HEAD" });
    }
    if (inFlight >= maxInFlight) return text(503, "Too many concurrent scrapes\n", { "Retry-After": "1" });
    inFlight++;
    try {
      const format = negotiateFormat(req.headers.get("accept"));
      const { body, gzip } = await shared.body(format, acceptsGzip(req.headers.get("accept-encoding")));
      const headers: [string, string][] = [
        ["Content-Type", format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : CONTENT_TYPE],
        ["Vary", "Accept, Accept-Encoding"],
      ];
      if (gzip) headers.push(["Content-Encoding", "gzip"]);
      // The shared render's bytes, answered as they are (a HEAD gets their length only).
      return { status: 200, headers, body, shared: true };
    } catch (e) {
      o.log.error(`rendering metrics failed: ${errorText(e)}`);
      return text(500, "Internal Server Error\n");
    } finally {
      inFlight--;
    }
  };
}

/** Media ranges of an Accept header with their weights (RFC 9110 §12.5.1), at most 32 looked at. */
function weighted(header: string): { type: string; params: Map<string, string>; q: number }[] {
  return header.split(",").slice(0, 32).map((part) => {
    const [type, ...rest] = part.split(";").map((s) => s.trim());
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf("=");
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, ""));
    }
    const q = params.has("q") ? Number(params.get("q")) : 1;
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 };
  });
}

/**
 * OpenMetrics 1.0.0 when the client weighs it above the text format (Prometheus asks for it
 * first), else the text format 0.0.4 (also when nothing is said, or on a tie).
 */
export function negotiateFormat(accept: string | null): Format {
  if (!accept) return "text";
  let om = 0, text = 0;
  for (const r of weighted(accept)) {
    if (r.type === "application/openmetrics-text") {
      const v = r.params.get("version");
      if (v === undefined || v === "1.0.0") om = Math.max(om, r.q);
    } else if (r.type === "text/plain") {
      const v = r.params.get("version");
      if (v === undefined || v === "0.0.4") text = Math.max(text, r.q);
    } else if (r.type === "*/*" || r.type === "text/*") {
      text = Math.max(text, r.q);
    }
  }
  return om > text ? "openmetrics" : "text";
}

/** Whether `gzip` has a weight above 0 (by name or through `*`). */
export function acceptsGzip(header: string | null): boolean {
  if (!header) return false;
  let gzip: number | undefined, any: number | undefined;
  for (const r of weighted(header)) {
    if (r.type === "gzip" || r.type === "x-gzip") gzip = r.q;
    else if (r.type === "*") any = r.q;
  }
  return (gzip ?? any ?? 0) > 0;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The landing page, as node_exporter's: what this is, and where the metrics are. */
export function landingPage(info: LandingInfo | undefined, path: string): string {
  const socket = info ? ` (socket ${escapeHtml(info.socketPath)})` : "";
  const node = !info
    ? ""
    : info.up
    ? `<p>Node: up, flavour ${escapeHtml(info.flavour ?? "unknown")}${socket}.</p>\n`
    : `<p>Node: down (not connected or not answering; retrying)${
      info.flavour === undefined ? "" : `, last flavour ${escapeHtml(info.flavour)}`
    }${socket}.</p>\n`;
  const version = info ? ` ${escapeHtml(info.version)}` : "";
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>bitcoind-ipc-exporter</title></head>
<body>
<h1>bitcoind-ipc-exporter${version}</h1>
<p>Prometheus exporter for Bitcoin Core over its multiprocess IPC socket.</p>
${node}<ul>
<li><a href="${escapeHtml(path)}">Metrics</a></li>
<li><a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></li>
</ul>
</body>
</html>
`;
}

const encoder = new TextEncoder();

function html(body: string): Reply {
  return { status: 200, headers: [["Content-Type", "text/html; charset=utf-8"]], body: encoder.encode(body) };
}

function text(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: [["Content-Type", "text/plain; charset=utf-8"], ...Object.entries(headers)],
    body: encoder.encode(body),
  };
}
