/**
 * `--web.config.file`: the Prometheus exporter-toolkit's web configuration (TLS and basic auth), read
 * once at startup. The file format is exporter-toolkit's (docs/web-configuration.md), so a file
 * written for node_exporter works here, with the limits Deno sets (README "TLS and basic auth"):
 *
 * - `tls_server_config`: `cert_file` and `key_file` (PEM; relative paths are taken against the
 *   config file's directory, as exporter-toolkit does), `min_version` / `max_version`. Deno's TLS
 *   (rustls) serves TLS 1.2 and 1.3 and takes no version bounds, so a bound that would narrow that
 *   (`min_version: TLS13`, `max_version: TLS12`) is refused rather than silently not applied;
 *   `min_version: TLS10`/`TLS11` are met (nothing below 1.2 is served). Client certificates,
 *   cipher suites and curve preferences cannot be set under Deno and are refused likewise.
 * - `http_server_config`: `headers` (added to every response, except the ones the server owns);
 *   `http2` is accepted and has no effect (HTTP/1.1 is served).
 * - `basic_auth_users`: user name to bcrypt hash.
 *
 * Every mistake is one line naming the field (main.ts exits 2).
 */
import { errorText } from "../util/errors.ts";

export interface TlsConfig {
  certFile: string;
  keyFile: string;
}

export interface WebConfig {
  /** The config file's absolute path. */
  path: string;
  tls?: TlsConfig;
  /** User name → bcrypt hash; empty: no authentication. */
  users: Map<string, string>;
  /** Extra response headers (http_server_config.headers). */
  headers: [string, string][];
}

export class WebConfigError extends Error {
  override name = "WebConfigError";
}

/** The paths a config makes the exporter read (the file itself, its certificate and key). */
export function webConfigReads(c: WebConfig): string[] {
  return c.tls ? [c.path, c.tls.certFile, c.tls.keyFile] : [c.path];
}

const TLS_VERSIONS = ["TLS10", "TLS11", "TLS12", "TLS13"];
/** bcrypt's modular crypt format: $2a$/$2b$/$2y$, a two-digit cost, 53 characters of salt and hash. */
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;
/** The headers exporter-toolkit lets a config set; the rest are the server's own. */
const ALLOWED_HEADERS = [
  "Strict-Transport-Security",
  "X-Content-Type-Options",
  "X-Frame-Options",
  "X-XSS-Protection",
  "Content-Security-Policy",
];

/** Reads and checks the file at `path` (absolute). Throws WebConfigError (one line) for any mistake. */
export async function loadWebConfig(path: string): Promise<WebConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new WebConfigError(`--web.config.file ${path}: cannot read it (${errorText(e)})`);
  }
  return await parseWebConfig(text, path);
}

/** Parses config text; `path` (absolute) names it in errors and anchors relative paths. */
export async function parseWebConfig(text: string, path: string): Promise<WebConfig> {
  const where = `--web.config.file ${path}`;
  const fail = (field: string, what: string): never => {
    throw new WebConfigError(`${where}: ${field}: ${what}`);
  };
  let doc: unknown;
  // An empty file (comments at most) is an empty config; js-yaml 5 calls it an error.
  if (text.split("\n").every((line) => /^\s*(?:#.*)?$/.test(line))) doc = null;
  else {
    // Loaded here, not imported at the top: js-yaml is an npm package, and most exporters run
    // without a web config (RSS, issue 21).
    const { load } = await import("js-yaml");
    try {
      // The default schema of YAML 1.2 core types; no custom tags, nothing executable.
      doc = load(text, { filename: path });
    } catch (e) {
      throw new WebConfigError(`${where}: not valid YAML: ${errorText(e).split("\n")[0]}`);
    }
  }
  const config: WebConfig = { path, users: new Map(), headers: [] };
  if (doc === null || doc === undefined) return config; // an empty file: plain HTTP, no auth (as exporter-toolkit)
  const top = mapping(doc, "the file", fail);
  const dir = path.slice(0, path.lastIndexOf("/") + 1) || "/";
  for (const [key, value] of Object.entries(top)) {
    if (key === "tls_server_config") {
      if (value === null) continue;
      const tls = mapping(value, key, fail);
      let certFile: string | undefined, keyFile: string | undefined;
      for (const [k, v] of Object.entries(tls)) {
        const field = `${key}.${k}`;
        switch (k) {
          case "cert_file":
            certFile = filePath(v, field, dir, fail);
            break;
          case "key_file":
            keyFile = filePath(v, field, dir, fail);
            break;
          case "min_version":
          case "max_version": {
            if (typeof v !== "string" || !TLS_VERSIONS.includes(v)) {
              fail(field, `expected one of ${TLS_VERSIONS.join(", ")}`);
            }
            if (k === "min_version" && v === "TLS13") {
              fail(
                field,
                "TLS13 cannot be enforced under Deno (its TLS takes no version bounds and serves 1.2 and 1.3); use TLS12",
              );
            }
            if (k === "max_version" && v !== "TLS13") {
              fail(field, `${v} cannot be enforced under Deno (its TLS serves 1.2 and 1.3); remove it or use TLS13`);
            }
            break;
          }
          case "client_auth_type":
            if (v !== "NoClientCert") {
              fail(
                field,
                "client certificates cannot be requested under Deno (Deno.listenTls has no such option); use NoClientCert or basic_auth_users",
              );
            }
            break;
          case "prefer_server_cipher_suites":
            break; // a preference with no effect on rustls's fixed order
          case "client_ca_file":
          case "client_allowed_sans":
          case "cipher_suites":
          case "curve_preferences":
          case "cert":
          case "key":
            fail(
              field,
              "not supported under Deno (Deno.listenTls takes only a certificate and key file here); remove it",
            );
            break;
          default:
            fail(field, "unknown field");
        }
      }
      if (certFile === undefined && keyFile === undefined) continue; // as exporter-toolkit: no TLS
      if (certFile === undefined) fail(`${key}.cert_file`, "missing (key_file is given)");
      if (keyFile === undefined) fail(`${key}.key_file`, "missing (cert_file is given)");
      config.tls = { certFile: certFile!, keyFile: keyFile! };
    } else if (key === "http_server_config") {
      if (value === null) continue;
      for (const [k, v] of Object.entries(mapping(value, key, fail))) {
        const field = `${key}.${k}`;
        if (k === "http2") {
          if (typeof v !== "boolean") fail(field, "expected true or false");
        } else if (k === "headers") {
          if (v === null) continue;
          for (const [name, hv] of Object.entries(mapping(v, field, fail))) {
            const allowed = ALLOWED_HEADERS.find((h) => h.toLowerCase() === name.toLowerCase());
            if (!allowed) {
              fail(`${field}.${name}`, `not one of the headers a config may set: ${ALLOWED_HEADERS.join(", ")}`);
            }
            if (typeof hv !== "string" || !/^[\x20-\x7e]*$/.test(hv)) {
              fail(`${field}.${name}`, "expected a string of printable ASCII");
            }
            config.headers.push([allowed!, hv as string]);
          }
        } else {
          fail(field, "unknown field");
        }
      }
    } else if (key === "basic_auth_users") {
      if (value === null) continue;
      for (const [user, hash] of Object.entries(mapping(value, key, fail))) {
        const field = `${key}.${user}`;
        if (user.includes(":")) fail(field, "a user name cannot contain ':' (basic auth splits at the first one)");
        if (typeof hash !== "string" || !BCRYPT.test(hash)) {
          fail(
            field,
            "expected a bcrypt hash ($2y$10$ and 53 characters, e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)",
          );
        }
        config.users.set(user, hash as string);
      }
    } else {
      fail(key, "unknown field (expected tls_server_config, http_server_config, basic_auth_users)");
    }
  }
  return config;
}

function mapping(
  v: unknown,
  field: string,
  fail: (field: string, what: string) => never,
): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(field, "expected a mapping");
  return v as Record<string, unknown>;
}

/** An absolute path Deno's permission flags can name (no comma, no line break). */
function filePath(v: unknown, field: string, dir: string, fail: (field: string, what: string) => never): string {
  if (typeof v !== "string" || v === "") fail(field, "expected a file path");
  const p = v as string;
  if (/[,\r\n]/.test(p)) {
    fail(field, "a path with a comma or line break cannot be named in Deno's permission flags; use one without");
  }
  return p.startsWith("/") ? p : `${dir}${p}`;
}
