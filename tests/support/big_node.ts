/** A large node's JSON-RPC answers, built on the recorded real ones (cardinality test, scrape-round bench). */
import { CONNECTION_TYPES, PEER_NETWORKS, TRANSPORTS } from "../../src/collectors/network.ts";

const FIXTURES = new URL("../fixtures/stock-master-regtest/rpc-more/", import.meta.url).pathname;

/** `n` peers built on the recorded real peer, cycling through every label value Core uses. */
export function bigPeerInfo(n: number): unknown[] {
  const real = JSON.parse(Deno.readTextFileSync(FIXTURES + "getpeerinfo.json"))[0];
  return Array.from({ length: n }, (_, i) => {
    const connectionType = CONNECTION_TYPES[i % CONNECTION_TYPES.length];
    const { minping: _minping, ...rest } = real;
    return {
      ...rest,
      // Every fifth peer has not answered a ping yet (Core leaves minping out); the others span 100 µs … 1000 s.
      ...(i % 5 === 0 ? {} : { minping: 10 ** ((i % 8) - 4) }),
      bip152_hb_to: i % 3 === 0,
      bip152_hb_from: i % 4 === 0,
      id: i,
      addr: `203.0.113.${i % 256}:${8333 + i}`,
      network: PEER_NETWORKS[Math.floor(i / CONNECTION_TYPES.length) % PEER_NETWORKS.length],
      connection_type: connectionType,
      inbound: connectionType === "inbound",
      transport_protocol_type: TRANSPORTS[i % TRANSPORTS.length],
      session_id: (i.toString(16) + "ab").padStart(64, "0"),
    };
  });
}

/** `n` bans shaped like the recorded real ones. */
export function bigBanList(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`,
    ban_created: 1795626503,
    banned_until: 1795712903,
    ban_duration: 86400,
    time_remaining: 86400,
  }));
}
