/**
 * The node's P2P network, read at scrape time: connected peers by direction, network, connection
 * type and transport; bans; whether networking is on; connections in and out; the time offset.
 * JSON-RPC flavours (v32, chain5) from getpeerinfo, listbanned and getnetworkinfo in the shared
 * round; the multiprocess branches from Node getters (getNodesStats, getBanned, getNetworkActive,
 * getNodeCount) and, for the time offset, getnetworkinfo through Node.executeRpc.
 *
 * Cardinality is bounded by construction: a peer is reduced to four labels, each taken from Core's
 * own fixed set of strings (anything else is `unknown`), and only the label sets present are
 * served; no per-peer or per-address label exists. Bans are a count.
 *
 * Peer quality the same way, aggregated by network only: each connected peer's minimum ping
 * observed into a histogram per network, made afresh at each read (a snapshot of the peers
 * connected now, not a cumulative count: never rate() it), and the BIP152 high-bandwidth peers
 * counted by direction and network.
 */
import * as branch from "../ipc/branch.ts";
import { type Family, Histogram, type HistogramSample, type Sample } from "../metrics/registry.ts";
import type { CollectorContext, CollectorSpec } from "./collector.ts";
import type { Answer } from "./rpc_round.ts";
import { ScrapedCollector } from "./scraped.ts";

/** Core's strings (GetNetworkName, ConnectionTypeAsString, TransportTypeAsString); others are `unknown`. */
export const PEER_NETWORKS = ["ipv4", "ipv6", "onion", "i2p", "cjdns", "not_publicly_routable", "internal"] as const;
export const CONNECTION_TYPES = [
  "outbound-full-relay",
  "block-relay-only",
  "manual",
  "addr-fetch",
  "feeler",
  "inbound",
  "private-broadcast",
] as const;
export const TRANSPORTS = ["v1", "v2", "detecting"] as const;
/** The most series bitcoin_peer_connections can have: every label's values (and `unknown`) combined. */
export const PEER_SERIES_MAX = 2 * (PEER_NETWORKS.length + 1) * (CONNECTION_TYPES.length + 1) * (TRANSPORTS.length + 1);

/** Ping bucket bounds, seconds: LAN and same-city peers (1 ms) up to Tor/I2P peers on a bad day (10 s). */
export const PING_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The most series bitcoin_peer_ping_seconds can have: per network, every bucket, +Inf, _sum and _count. */
export const PING_SERIES_MAX = (PEER_NETWORKS.length + 1) * (PING_BUCKETS.length + 3);
/** The most series bitcoin_peers_high_bandwidth can have: direction × network. */
export const HIGH_BANDWIDTH_SERIES_MAX = 2 * (PEER_NETWORKS.length + 1);

/** One connected peer as far as the metrics see it (the branches' Node.getNodesStats gives the same). */
export type PeerSummary = branch.PeerSummary;

export interface NetworkReadings {
  /** Peers by label set (key: the four labels joined). */
  peers: Map<string, number>;
  /** Peer quality by network (every network with a connected peer). */
  quality: Map<string, PeerQuality>;
  banned: number;
  networkActive: boolean;
  connectionsIn: number;
  connectionsOut: number;
  timeOffset: number;
}

const known = (set: readonly string[], v: string): string => set.includes(v) ? v : "unknown";

/** Counts peers by their (bounded) label set. */
export function groupPeers(peers: Iterable<PeerSummary>): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of peers) {
    const key = [
      p.inbound ? "inbound" : "outbound",
      known(PEER_NETWORKS, p.network),
      known(CONNECTION_TYPES, p.connectionType),
      known(TRANSPORTS, p.transport),
    ].join("\u0000");
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

/** One network's peers: their minimum pings (peers without a ping yet are not observed), BIP152 high-bandwidth counts. */
export interface PeerQuality {
  ping: Histogram;
  hbTo: number;
  hbFrom: number;
}

/** Peer quality by (bounded) network; a network without connected peers has no entry. */
export function peerQuality(peers: Iterable<PeerSummary>): Map<string, PeerQuality> {
  const m = new Map<string, PeerQuality>();
  for (const p of peers) {
    const network = known(PEER_NETWORKS, p.network);
    let q = m.get(network);
    if (!q) m.set(network, q = { ping: new Histogram(PING_BUCKETS), hbTo: 0, hbFrom: 0 });
    if (p.minPingSeconds !== undefined && Number.isFinite(p.minPingSeconds)) q.ping.observe(p.minPingSeconds);
    if (p.hbTo) q.hbTo++;
    if (p.hbFrom) q.hbFrom++;
  }
  return m;
}

/** getpeerinfo's answer as summaries; undefined (reported) when its shape is not Core's. */
export function peersFromRpc(a: Answer): PeerSummary[] | undefined {
  const list = a.array();
  if (!list) return undefined;
  const out: PeerSummary[] = [];
  for (const p of list) {
    const o = p && typeof p === "object" ? p as Record<string, unknown> : {};
    if (typeof o.inbound !== "boolean" || typeof o.network !== "string" || typeof o.connection_type !== "string") {
      return a.problem("a peer lacks inbound, network or connection_type");
    }
    if (typeof o.bip152_hb_to !== "boolean" || typeof o.bip152_hb_from !== "boolean") {
      return a.problem("a peer lacks bip152_hb_to or bip152_hb_from");
    }
    // minping is absent until the peer has answered a ping (Core leaves it out, not 0).
    if (o.minping !== undefined && (typeof o.minping !== "number" || !Number.isFinite(o.minping))) {
      return a.problem("a peer's minping is not a number");
    }
    out.push({
      inbound: o.inbound,
      network: o.network,
      connectionType: o.connection_type,
      // transport_protocol_type is Core 26+; older nodes speak v1 only.
      transport: typeof o.transport_protocol_type === "string" ? o.transport_protocol_type : "v1",
      minPingSeconds: o.minping as number | undefined,
      hbTo: o.bip152_hb_to,
      hbFrom: o.bip152_hb_from,
    });
  }
  return out;
}

export class NetworkCollector extends ScrapedCollector<NetworkReadings> {
  readonly name = "network";

  constructor(ctx: CollectorContext) {
    super(ctx, {
      rpc: (round) => {
        const peers = round.add("getpeerinfo", undefined, {
          feeds: ["bitcoin_peer_connections", "bitcoin_peer_ping_seconds", "bitcoin_peers_high_bandwidth"],
        });
        const banned = round.add("listbanned", undefined, { feeds: ["bitcoin_banned_addresses"] });
        // The branches: getnetworkinfo through Node.executeRpc for timeoffset (no getter has it).
        const net = round.add("getnetworkinfo", undefined, {
          node: true,
          feeds: ["bitcoin_network_active", "bitcoin_connections", "bitcoin_time_offset_seconds"],
        });
        return (answer) => {
          const n = answer(net, "getnetworkinfo");
          const p = peersFromRpc(answer(peers, "getpeerinfo"));
          return {
            peers: p && groupPeers(p),
            quality: p && peerQuality(p),
            banned: answer(banned, "listbanned").array()?.length,
            networkActive: n.bool("networkactive"),
            connectionsIn: n.num("connections_in"),
            connectionsOut: n.num("connections_out"),
            timeOffset: n.num("timeoffset"),
          };
        };
      },
      node: (session, opt) => {
        let quality: Map<string, PeerQuality> | undefined;
        return {
          peers: async () => {
            const p = await branch.getNodesStats(session, opt());
            quality = peerQuality(p);
            return groupPeers(p);
          },
          // From the same getNodesStats answer as `peers` (read just before it), not a second call.
          quality: () => Promise.resolve(quality),
          banned: () => branch.getBannedCount(session, opt()),
          networkActive: () => branch.getNetworkActive(session, opt()),
          connectionsIn: () => branch.getNodeCount(session, branch.ConnectionDirection.In, opt()),
          connectionsOut: () => branch.getNodeCount(session, branch.ConnectionDirection.Out, opt()),
        };
      },
    });
  }

  families(): Family[] {
    const r = () => this.readings;
    return [
      {
        name: "bitcoin_peer_connections",
        help:
          "Connected peers by direction, network, connection type and transport (Core's getpeerinfo strings; only label sets present are served).",
        type: "gauge",
        read: () => {
          const peers = r()?.peers;
          if (!peers) return undefined;
          const out: Sample[] = [];
          for (const [key, value] of peers) {
            const [direction, network, connection_type, transport] = key.split("\u0000");
            out.push({ labels: { direction, network, connection_type, transport }, value });
          }
          return out;
        },
      },
      {
        name: "bitcoin_peer_ping_seconds",
        help:
          "Connected peers' minimum ping (getpeerinfo minping) by network: a snapshot of the peers connected now, one observation per peer that has answered a ping (not cumulative: do not rate() it).",
        type: "histogram",
        read: () => {
          const q = r()?.quality;
          if (!q) return undefined;
          const out: HistogramSample[] = [];
          for (const [network, { ping }] of q) out.push({ labels: { network }, value: ping });
          return out;
        },
      },
      {
        name: "bitcoin_peers_high_bandwidth",
        help:
          "Connected BIP152 high-bandwidth compact-block peers by network: direction=to those we asked to push us new blocks (bip152_hb_to), from those that asked us (bip152_hb_from).",
        type: "gauge",
        read: () => {
          const q = r()?.quality;
          if (!q) return undefined;
          const out: Sample[] = [];
          for (const [network, x] of q) out.push({ labels: { direction: "to", network }, value: x.hbTo });
          for (const [network, x] of q) out.push({ labels: { direction: "from", network }, value: x.hbFrom });
          return out;
        },
      },
      this.gauge(
        "bitcoin_banned_addresses",
        "Entries in the node's ban list (addresses and subnets).",
        (x) => x.banned,
      ),
      this.gauge(
        "bitcoin_network_active",
        "Whether P2P networking is enabled (1) or switched off with setnetworkactive (0).",
        (x) => x.networkActive === undefined ? undefined : x.networkActive ? 1 : 0,
      ),
      {
        name: "bitcoin_connections",
        help: "Connected peers by direction.",
        type: "gauge",
        read: () => {
          const x = r();
          if (!x) return undefined;
          const out: Sample[] = [];
          if (x.connectionsIn !== undefined) out.push({ labels: { direction: "inbound" }, value: x.connectionsIn });
          if (x.connectionsOut !== undefined) out.push({ labels: { direction: "outbound" }, value: x.connectionsOut });
          return out;
        },
      },
      this.gauge(
        "bitcoin_time_offset_seconds",
        "The node's clock offset from its outbound peers' median (getnetworkinfo timeoffset).",
        (x) => x.timeOffset,
      ),
    ];
  }
}

export const networkCollector: CollectorSpec = {
  name: "network",
  help:
    "peers by direction/network/connection type/transport, peer ping and BIP152 high-bandwidth peers by network, bans, network active, connections in/out, time offset",
  create: (ctx) => new NetworkCollector(ctx),
};
