// Writes packaging/bitcoind-ipc-exporter.service from the NixOS module (`deno task unit`).
import { evalModule, PACKAGING_HEADER, PACKAGING_OPTIONS, renderUnit } from "../tests/support/unit.ts";

const e = await evalModule(PACKAGING_OPTIONS);
await Deno.writeTextFile(
  new URL("../packaging/bitcoind-ipc-exporter.service", import.meta.url),
  renderUnit(e.service, PACKAGING_HEADER),
);
