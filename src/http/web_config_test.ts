import { assertEquals, assertStringIncludes } from "../../tests/support/assert.ts";
import { parseWebConfig, WebConfigError, webConfigReads } from "./web_config.ts";

const HASH = "$2b$10$x6LZkQm0UjoMmbXq/ahJZ.3EtYoDvvXPZ37xcY4v/6SJZqX6V1/Gy";

Deno.test("web config: exporter-toolkit's fields, relative paths against the config's directory", async () => {
  const c = await parseWebConfig(
    `tls_server_config:
  cert_file: tls/cert.pem
  key_file: /etc/x/key.pem
  min_version: TLS12
  max_version: TLS13
  client_auth_type: NoClientCert
http_server_config:
  http2: true
  headers:
    x-frame-options: deny
basic_auth_users:
  prometheus: ${HASH}
`,
    "/etc/exporter/web.yml",
  );
  assertEquals(c.tls, { certFile: "/etc/exporter/tls/cert.pem", keyFile: "/etc/x/key.pem" });
  assertEquals([...c.users], [["prometheus", HASH]]);
  assertEquals(c.headers, [["X-Frame-Options", "deny"]]);
  assertEquals(webConfigReads(c), ["/etc/exporter/web.yml", "/etc/exporter/tls/cert.pem", "/etc/x/key.pem"]);
  // An empty file, or empty sections: plain HTTP, no auth (as exporter-toolkit).
  for (const text of ["", "tls_server_config:\nbasic_auth_users:\n", "tls_server_config: {}\n"]) {
    const e = await parseWebConfig(text, "/w.yml");
    assertEquals([e.tls, e.users.size, webConfigReads(e)], [undefined, 0, ["/w.yml"]]);
  }
});

Deno.test("web config: every mistake is one line naming the field", async () => {
  const cases: [string, string][] = [
    ["tls_server_config: [1]", "tls_server_config: expected a mapping"],
    ["tls_config:\n  cert_file: a", "tls_config: unknown field"],
    ["tls_server_config:\n  cert_file: a", "tls_server_config.key_file: missing"],
    ["tls_server_config:\n  key_file: a", "tls_server_config.cert_file: missing"],
    ["tls_server_config:\n  cert_file: a,b\n  key_file: k", "tls_server_config.cert_file: a path with a comma"],
    [
      "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13",
      "tls_server_config.min_version: TLS13 cannot be enforced",
    ],
    [
      "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: SSL3",
      "tls_server_config.min_version: expected one of",
    ],
    [
      "tls_server_config:\n  cert_file: c\n  key_file: k\n  max_version: TLS12",
      "tls_server_config.max_version: TLS12 cannot be enforced",
    ],
    [
      "tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert",
      "tls_server_config.client_auth_type: client certificates",
    ],
    ["tls_server_config:\n  client_ca_file: ca.pem", "tls_server_config.client_ca_file: not supported under Deno"],
    ["tls_server_config:\n  cert_file: c\n  kye_file: k", "tls_server_config.kye_file: unknown field"],
    ["basic_auth_users:\n  alice: secret", "basic_auth_users.alice: expected a bcrypt hash"],
    [`basic_auth_users:\n  "a:b": ${HASH}`, "basic_auth_users.a:b: a user name cannot contain ':'"],
    ["http_server_config:\n  headers:\n    Content-Type: x", "http_server_config.headers.Content-Type: not one of"],
    ["http_server_config:\n  http2: yes please", "http_server_config.http2: expected true or false"],
    ["basic_auth_users: [\n", "not valid YAML"],
    ["- a\n- b\n", "the file: expected a mapping"],
  ];
  for (const [text, message] of cases) {
    let err: unknown;
    try {
      await parseWebConfig(text, "/etc/web.yml");
    } catch (e) {
      err = e;
    }
    if (!(err instanceof WebConfigError)) throw new Error(`${JSON.stringify(text)}: no WebConfigError: ${err}`);
    assertStringIncludes(err.message, `--web.config.file /etc/web.yml: ${message}`);
    assertEquals(err.message.includes("\n"), false, err.message);
  }
});
