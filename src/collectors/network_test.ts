import { assertEquals } from "../../tests/support/assert.ts";
import { pingSeconds } from "../ipc/branch.ts";
import {
  groupPeers,
  HIGH_BANDWIDTH_SERIES_MAX,
  PEER_SERIES_MAX,
  peerQuality,
  PING_BUCKETS,
  PING_SERIES_MAX,
} from "./network.ts";

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

Deno.test("peerQuality: minimum pings by network (peers without a ping not observed), BIP152 high-bandwidth counted", () => {
  const base = { inbound: false, connectionType: "outbound-full-relay", transport: "v2" };
  const q = peerQuality([
    { ...base, network: "ipv4", minPingSeconds: 0.00011938, hbTo: false, hbFrom: true },
    { ...base, network: "ipv4", minPingSeconds: 0.3, hbTo: true, hbFrom: false },
    { ...base, network: "ipv4", hbTo: false, hbFrom: false }, // no pong yet
    { ...base, network: "onion", minPingSeconds: 20, hbTo: true, hbFrom: true },
    { ...base, network: "evil\nnet", minPingSeconds: 0.01 },
  ]);
  assertEquals([...q.keys()], ["ipv4", "onion", "unknown"]);
  const ipv4 = q.get("ipv4")!;
  assertEquals(ipv4.ping.counts.reduce((a, b) => a + b), 2);
  assertEquals(ipv4.ping.counts[0], 1); // ≤ 1 ms
  assertEquals(ipv4.ping.counts[PING_BUCKETS.indexOf(0.5)], 1); // (0.25, 0.5]
  assertEquals(ipv4.ping.sum, 0.00011938 + 0.3);
  assertEquals([ipv4.hbTo, ipv4.hbFrom], [1, 1]);
  assertEquals(q.get("onion")!.ping.counts[PING_BUCKETS.length], 1); // +Inf
  assertEquals(PING_SERIES_MAX, 128);
  assertEquals(HIGH_BANDWIDTH_SERIES_MAX, 16);
});

Deno.test("pingSeconds: NodeStats.minPingTime is microseconds; the no-ping sentinel (microseconds::max()) is no reading", () => {
  assertEquals(pingSeconds(119n), 0.000119);
  assertEquals(pingSeconds(2_500_000n), 2.5);
  assertEquals(pingSeconds(0x7fff_ffff_ffff_ffffn), undefined);
  assertEquals(pingSeconds(-1n), undefined);
});
