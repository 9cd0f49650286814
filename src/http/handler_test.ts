import { assertEquals } from "../../tests/support/assert.ts";
import { acceptsGzip, landingPage, negotiateFormat } from "./handler.ts";

Deno.test("negotiateFormat: OpenMetrics 1.0.0 only when weighed above the text format", () => {
  const cases: [string | null, string][] = [
    [null, "text"],
    ["", "text"],
    ["*/*", "text"],
    ["text/plain", "text"],
    ["application/openmetrics-text", "openmetrics"],
    ["application/openmetrics-text; version=1.0.0; charset=utf-8", "openmetrics"],
    // Prometheus 2.x and 3.x defaults.
    [
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      "openmetrics",
    ],
    [
      "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
      "openmetrics",
    ],
    // scrape_protocols: [PrometheusText0.0.4] first.
    ["text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4", "text"],
    ["application/openmetrics-text;version=0.0.1", "text"], // a version we do not write
    ["application/openmetrics-text;q=0", "text"],
    ["application/openmetrics-text;q=0.5, text/plain;q=0.5", "text"], // a tie: the default
    ["APPLICATION/OpenMetrics-Text", "openmetrics"],
    ["application/openmetrics-text;q=nonsense", "text"],
  ];
  for (const [accept, want] of cases) assertEquals(negotiateFormat(accept), want, String(accept));
});

Deno.test("acceptsGzip: by name or through *, never at q=0", () => {
  const cases: [string | null, boolean][] = [
    [null, false],
    ["identity", false],
    ["gzip", true],
    ["gzip, deflate, br", true],
    ["GZIP;q=0.5", true],
    ["gzip;q=0", false],
    ["*", true],
    ["*;q=0", false],
    ["gzip;q=0, *", false], // named beats *
    ["x-gzip", true],
  ];
  for (const [header, want] of cases) assertEquals(acceptsGzip(header), want, String(header));
});

Deno.test("landingPage: escapes what it shows", () => {
  const page = landingPage({ version: "1", flavour: "<x>", up: true, socketPath: '/a"b&c' }, "/m?<");
  assertEquals(page.includes("<x>"), false);
  assertEquals(page.includes("flavour &#60;x&#62; (socket /a&#34;b&#38;c)"), true);
  assertEquals(page.includes('href="/m?&#60;"'), true);
});
