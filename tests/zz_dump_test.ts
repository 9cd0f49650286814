import { TestPeer } from "./support/peer.ts";
import { ExporterProc } from "./support/exporter.ts";
const flavour = Deno.env.get("FL") ?? "master";
Deno.test("dump", async () => {
  const peer = await TestPeer.start({ flavour });
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  await exp.waitLog(/connected to/);
  await new Promise((r) => setTimeout(r, 1500));
  Deno.writeTextFileSync(`/tmp/expo-${flavour}.txt`, await exp.scrape());
  await exp.stop("SIGTERM");
  await peer.stop();
});
