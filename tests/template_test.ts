/**
 * The template collector (src/collectors/template.ts) end to end against the C++ peer on every
 * stock flavour: Mining.createNewBlock once at attach and once per new tip, never at scrape time,
 * every BlockTemplate destroyed, the peer's known template (fees 1000+2500+4000 sat, sigops
 * 1+4+8, three transactions) served, and a clean stop the node survives (v30 included).
 */
import { assert, assertEquals } from "./support/assert.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { TestPeer } from "./support/peer.ts";
import { scrapeUntil, waitFor } from "./support/wait.ts";

function callCount(status: Record<string, string>, method: string): number {
  const m = new RegExp(`(?:^|,)${method.replace(".", "\\.")}:(\\d+)`).exec(status.calls ?? "");
  return m ? Number(m[1]) : 0;
}

const HASH = (n: number) => n.toString(16).padStart(64, "0");

for (const flavour of ["v30", "v31", "master"]) {
  Deno.test(`template (${flavour}): one createNewBlock per new tip, none per scrape, every template destroyed`, async () => {
    const peer = await TestPeer.start({ flavour });
    const exp = ExporterProc.start({ socketPath: peer.socketPath, args: ["--collector.template"] });
    try {
      const body = await scrapeUntil(
        () => exp.scrape(),
        (s) => s.has("bitcoin_block_template_fees_satoshis"),
        "the first template",
      );
      const s = samples(body);
      assertEquals(s.get("bitcoin_block_template_fees_satoshis"), "7500");
      assertEquals(s.get("bitcoin_block_template_transactions"), "3");
      assertEquals(s.get("bitcoin_block_template_sigops"), "13");
      assert(s.has("bitcoin_block_template_age_seconds"));
      assert(!s.has("bitcoin_block_template_weight"), "weight is left out (METRICS.md)");
      const destroyed = (n: number) =>
        waitFor(`${n} templates destroyed`, async () => {
          const st = await peer.status();
          return callCount(st, "BlockTemplate.destroy") >= n ? st : undefined;
        });
      let st = await destroyed(1);
      assertEquals(callCount(st, "createNewBlock"), 1, st.calls);
      // Scrapes read nothing from the node's Mining.
      for (let i = 0; i < 5; i++) await exp.scrape();
      st = await peer.status();
      assertEquals(callCount(st, "createNewBlock"), 1, "no createNewBlock at scrape time");
      // A new tip: one more template.
      await peer.ok(`set tip 300 ${HASH(300)}`);
      st = await destroyed(2);
      assertEquals(callCount(st, "createNewBlock"), 2, st.calls);
      assertEquals(st.templates_live, "0", "every template destroyed");
      assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
      assert(!peer.notices.some((n) => n.startsWith("crash")), peer.notices.join(" | "));
    } finally {
      await exp.stop().catch(() => {});
      assertEquals(await peer.stop(), 0, `the node survived; notices: ${peer.notices.join(" | ")}`);
    }
  });
}

Deno.test("template: off by default (no createNewBlock, no family)", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_up") === "1", "bitcoin_up 1");
    const body = await exp.scrape();
    assert(!body.includes("bitcoin_block_template_"), "no template family");
    assertEquals(callCount(await peer.status(), "createNewBlock"), 0);
  } finally {
    await exp.stop().catch(() => {});
    assertEquals(await peer.stop(), 0);
  }
});
