import { assertEquals } from "../../tests/support/assert.ts";
import { groupPeers, PEER_SERIES_MAX } from "./network.ts";

Deno.test("groupPeers: peers counted by label set; values outside Core's strings are `unknown`", () => {
  const m = groupPeers([
    { inbound: true, network: "ipv4", connectionType: "inbound", transport: "v2" },
    { inbound: true, network: "ipv4", connectionType: "inbound", transport: "v2" },
    { inbound: false, network: "onion", connectionType: "block-relay-only", transport: "v1" },
    { inbound: false, network: "203.0.113.7", connectionType: "evil\nlabel", transport: "v9" },
  ]);
  assertEquals([...m.entries()], [
    ["inbound\0ipv4\0inbound\0v2", 2],
    ["outbound\0onion\0block-relay-only\0v1", 1],
    ["outbound\0unknown\0unknown\0unknown", 1],
  ]);
  assertEquals(PEER_SERIES_MAX, 512);
});
