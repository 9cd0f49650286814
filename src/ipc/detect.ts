/**
 * What the node is, decided once per connection by probes that read nothing. The `Init` interface
 * ID is the same in every flavour while its ordinals mean different things (makeChain @4 on the
 * multiprocess branches is makeRpc @4 on stock master), so each capability is proven with one
 * harmless call of its own interface before anything is read through it. Any answer that fits no
 * known flavour is a FlavourError, never a guess. The result is one immutable record.
 */
import type * as $ from "capnp-es";
import type { Context } from "../../gen/mp/proxy.ts";
import { Init$Client } from "../../gen/init.ts";
import { Init$Client as InitV30$Client } from "../../gen/v30/init.ts";
import { Init$Client as InitV31$Client } from "../../gen/v31/init.ts";
import { Init$Client as InitV32$Client } from "../../gen/v32/init.ts";
import { Mining$Client } from "../../gen/mining.ts";
import { Mining$Client as MiningV30$Client } from "../../gen/v30/mining.ts";
import { Rpc$Client } from "../../gen/rpc.ts";
import { Chain$Client } from "../../gen/chain.ts";
import type { Flavour } from "../flavour.ts";
import { FlavourError } from "./errors.ts";
import { named } from "./methods.ts";
import type { RemoteCap } from "./rpc.ts";

/** Which Mining schema generation the node's Init served (v30 encodes waitTipChanged differently). */
export type MiningGeneration = "v30" | "v31" | "v32";

/** What the connected node offers: its flavour and the capabilities proven during detection. */
export interface NodeInterfaces {
  readonly flavour: Flavour;
  /** What each probe answered, in order, for the log and for errors. */
  readonly probes: readonly string[];
  /** Multiprocess branches. */
  readonly chain?: RemoteCap;
  readonly node?: RemoteCap;
  /** pr/trace only. */
  readonly tracing?: RemoteCap;
  /** Stock releases. */
  readonly mining?: { readonly cap: RemoteCap; readonly generation: MiningGeneration };
  /** Stock master / v32: JSON-RPC over IPC. */
  readonly rpc?: RemoteCap;
}

type ContextMethod = $.Method<$.Struct & { _initContext(): Context }, $.Struct>;

/** The two kinds of probe, made by the session (each call carries our Thread). */
export interface Prober {
  /** Calls an `Init.make*` method: the capability, or undefined when the node answered "unimplemented". */
  make(method: ContextMethod): Promise<RemoteCap | undefined>;
  /** One harmless call proving `cap` is `method`'s interface; rejects with the node's reason otherwise. */
  prove(cap: RemoteCap, method: ContextMethod, build?: (params: $.Struct) => void): Promise<void>;
}

/** The request the Rpc probe sends: answered by every node that has JSON-RPC, changes nothing. */
export const RPC_PROBE_REQUEST = '{"jsonrpc":"2.0","id":"probe","method":"getblockcount"}';

const probes = {
  makeNode5: { what: "makeNode@5", method: named(Init$Client.methods, 5, "makeNode") },
  makeChain4: { what: "makeChain@4", method: named(Init$Client.methods, 4, "makeChain") },
  makeTracing7: { what: "makeTracing@7", method: named(Init$Client.methods, 7, "makeTracing") },
  makeMining3: { what: "makeMining@3", method: named(InitV31$Client.methods, 3, "makeMining") },
  makeRpc4: { what: "makeRpc@4", method: named(InitV32$Client.methods, 4, "makeRpc") },
  makeMining2: { what: "makeMining@2", method: named(InitV30$Client.methods, 2, "makeMining") },
  chainGetHeight: { what: "Chain.getHeight", method: named(Chain$Client.methods, 1, "getHeight"), of: "a Chain" },
  miningIsTestChain: {
    what: "Mining.isTestChain",
    method: named(Mining$Client.methods, 0, "isTestChain"),
    of: "a Mining interface",
  },
  miningV30IsTestChain: {
    what: "Mining.isTestChain",
    method: named(MiningV30$Client.methods, 0, "isTestChain"),
    of: "a Mining interface",
  },
  rpcExecute: { what: "Rpc.executeRpc", method: named(Rpc$Client.methods, 0, "executeRpc"), of: "an Rpc interface" },
} as const;

/** The JSON-RPC caller name and endpoint every executeRpc carries (see session.ts). */
export interface RpcIdentity {
  uri: string;
  user: string;
}

/**
 * The probe sequence:
 * 1. `makeNode@5`: a Node → a multiprocess branch: `makeChain@4` proven by `Chain.getHeight`, then
 *    `makeTracing@7` (pr/trace) or not (pr/ipc).
 * 2. Otherwise `makeMining@3` proven by `Mining.isTestChain` → stock v31+: `makeRpc@4` proven by an
 *    `Rpc.executeRpc` of getblockcount → v32 (master), else v31.
 * 3. Otherwise `makeMining@2` proven by the v30 `Mining.isTestChain` → v30.
 */
export async function detectFlavour(prober: Prober, rpc: RpcIdentity): Promise<NodeInterfaces> {
  const log: string[] = [];
  const fail = (what: string) =>
    new FlavourError(
      `unsupported IPC flavour: ${what} (probes: ${
        log.join("; ")
      }); supported: multiprocess branches pr/trace and pr/ipc, stock v30, v31 and master/v32`,
    );
  const make = async (p: { what: string; method: ContextMethod }): Promise<RemoteCap | undefined> => {
    try {
      const cap = await prober.make(p.method);
      log.push(`${p.what}: ${cap ? "ok" : "not implemented"}`);
      return cap;
    } catch (e) {
      if (!(e instanceof ProbeRefused)) throw e;
      log.push(`${p.what}: ${e.reason}`);
      throw fail(`Init.${p.what} failed: ${e.reason}`);
    }
  };
  const prove = async (
    p: { what: string; method: ContextMethod; of: string },
    cap: RemoteCap,
    build?: (params: $.Struct) => void,
  ): Promise<void> => {
    try {
      await prober.prove(cap, p.method, build);
      log.push(`${p.what}: ok`);
    } catch (e) {
      if (!(e instanceof ProbeRefused)) throw e;
      log.push(`${p.what}: ${e.reason}`);
      throw fail(`the object the node returned is not ${p.of} (${p.what} failed: ${e.reason})`);
    }
  };
  const done = (o: Omit<NodeInterfaces, "probes">): NodeInterfaces => Object.freeze({ ...o, probes: [...log] });

  const node = await make(probes.makeNode5);
  if (node) {
    const chain = await make(probes.makeChain4);
    if (!chain) throw fail("the node offers Node but no Chain");
    await prove(probes.chainGetHeight, chain);
    const tracing = await make(probes.makeTracing7);
    return done({ flavour: tracing ? "pr-trace" : "pr-ipc", node, chain, tracing });
  }
  const mining = await make(probes.makeMining3);
  if (mining) {
    await prove(probes.miningIsTestChain, mining);
    const rpcCap = await make(probes.makeRpc4);
    if (rpcCap) {
      await prove(probes.rpcExecute, rpcCap, (p) => {
        const params = p as InstanceType<typeof Rpc$Client.methods[0]["ParamsClass"]>;
        params.request = RPC_PROBE_REQUEST;
        params.uri = rpc.uri;
        params.user = rpc.user;
      });
    }
    return done(
      rpcCap
        ? { flavour: "v32", mining: Object.freeze({ cap: mining, generation: "v32" as const }), rpc: rpcCap }
        : { flavour: "v31", mining: Object.freeze({ cap: mining, generation: "v31" as const }) },
    );
  }
  const old = await make(probes.makeMining2);
  if (!old) throw fail("the node offers neither Node nor Mining");
  await prove(probes.miningV30IsTestChain, old);
  return done({ flavour: "v30", mining: Object.freeze({ cap: old, generation: "v30" as const }) });
}

/** The node answered a probe with an exception other than "unimplemented": its reason. */
export class ProbeRefused extends Error {
  override name = "ProbeRefused";
  constructor(readonly reason: string) {
    super(reason);
  }
}
