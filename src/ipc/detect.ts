/**
 * What the node is, decided once per connection by probes that read nothing. The `Init` interface
 * ID is the same in every flavour while its ordinals mean different things (makeChain @4 on the
 * multiprocess branches is makeRpc @4 on stock master and on the rebased multiprocess work; @5 is
 * makeNode on the branches and makeChain on the rebased work; @6 is makeWalletLoader on the branches
 * and makeNode on the rebased work), so each capability is proven with one harmless call of its own
 * interface before anything is read through it, and an Init method that is not harmless everywhere
 * is called only once the generation is known. Any answer that fits no known flavour is a
 * FlavourError, never a guess. The result is one immutable record.
 *
 * What each flavour's Init has at the ordinals probed (n/i: the node answers "unimplemented").
 * pr-ipc comes in two generations: the branch pr/ipc of 2024 (willcl-ark/bitcoin d2ccbd3f, before
 * stock Mining: schemas/pr-ipc/) and pr/trace's base without Tracing (2026, the Init, Chain and Node
 * of pr/trace):
 *
 * | ordinal | pr-trace         | pr-ipc (2026)    | pr-ipc (2024)    | chain5-node      | chain5 | v32    | v31    | v30    |
 * | ------- | ---------------- | ---------------- | ---------------- | ---------------- | ------ | ------ | ------ | ------ |
 * | @2      | throws           | throws           | Node             | throws           | throws | throws | throws | Mining |
 * | @3      | Mining           | Mining           | Chain            | Mining           | Mining | Mining | Mining | n/i    |
 * | @4      | Chain            | Chain            | makeWalletLoader | Rpc              | Rpc    | Rpc    | n/i    | n/i    |
 * | @5      | Node             | Node             | n/i              | Chain            | Chain  | n/i    | n/i    | n/i    |
 * | @6      | makeWalletLoader | makeWalletLoader | n/i              | Node             | n/i    | n/i    | n/i    | n/i    |
 * | @7      | Tracing          | n/i              | n/i              | makeWalletLoader | n/i    | n/i    | n/i    | n/i    |
 *
 * makeWalletLoader takes a Chain and sets up a wallet in the node: it is never called, so @6 is
 * probed only once @5 proved to be a Chain (the rebased generation), @7 only once @5 proved to be
 * a Node (the branches), and @4 only once @3 proved to be a Mining interface (stock). @2 is asked
 * for a Node only once @3 proved to be a Chain (pr/ipc of 2024; on v30 @2 is Mining, reached only
 * when @3 is not implemented).
 */
import type * as $ from "capnp-es";
import type { Context } from "../../gen/mp/proxy.ts";
import { Init$Client } from "../../gen/init.ts";
import { Init$Client as InitChain5$Client } from "../../gen/chain5/init.ts";
import { Init$Client as InitV30$Client } from "../../gen/v30/init.ts";
import { Init$Client as InitV31$Client } from "../../gen/v31/init.ts";
import { Init$Client as InitV32$Client } from "../../gen/v32/init.ts";
import { Rpc$Client } from "../../gen/rpc.ts";
import { Init$Client as InitPrIpc$Client } from "../../gen/pr-ipc/init.ts";
import type { Flavour } from "../flavour.ts";
import { FlavourError } from "./errors.ts";
import { named } from "./methods.ts";
import { loadBranchGenerations } from "./branch.ts";
import { loadStockGenerations } from "./stock.ts";
import type { RemoteCap } from "./rpc.ts";

/** Which Mining schema generation the node's Init served (v30 encodes waitTipChanged differently). */
export type MiningGeneration = "v30" | "v31" | "v32";

/**
 * Which Chain schema generation the node serves: pr/trace's (schemas/chain.capnp), the rebased one
 * (schemas/chain5/chain.capnp; its ordinals differ past the methods the exporter calls), or the
 * 2024 pr/ipc branch's (schemas/pr-ipc/chain.capnp; the methods the exporter calls are elsewhere).
 */
export type ChainGeneration = "pr-trace" | "chain5" | "pr-ipc";

/**
 * Which Node schema generation the node serves: pr/trace's (schemas/node.capnp, also the rebased
 * #10102's) or the 2024 pr/ipc branch's (schemas/pr-ipc/node.capnp: one lower from @33 on).
 */
export type NodeGeneration = "pr-trace" | "pr-ipc";

/** What the connected node offers: its flavour and the capabilities proven during detection. */
export interface NodeInterfaces {
  readonly flavour: Flavour;
  /** What each probe answered, in order, for the log and for errors. */
  readonly probes: readonly string[];
  /** The multiprocess work (pr-trace, pr-ipc, chain5-node, chain5). */
  readonly chain?: RemoteCap;
  /** Set whenever `chain` is: the schema its calls are made in. */
  readonly chainGeneration?: ChainGeneration;
  /** pr-trace, pr-ipc, chain5-node. */
  readonly node?: RemoteCap;
  /** Set whenever `node` is: the schema its calls are made in. */
  readonly nodeGeneration?: NodeGeneration;
  /** pr-trace only. */
  readonly tracing?: RemoteCap;
  /** Stock releases. */
  readonly mining?: { readonly cap: RemoteCap; readonly generation: MiningGeneration };
  /** JSON-RPC over IPC: stock master / v32, and chain5 (which has no Node to read gauges from). */
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

/** A node's refusal is kept in the probe list up to this many characters (it is the node's text). */
const MAX_REASON = 200;

/**
 * The Chain and Node probes: their generated code is the branch generations' (branch_gen.ts),
 * loaded only when a probe needs it, which a stock node never does.
 */
const branchProbes = async () => (await loadBranchGenerations()).probes;
/** The Mining probes, likewise in the Mining generations' module (stock_gen.ts). */
const stockProbes = async () => (await loadStockGenerations()).probes;

const probes = {
  // The same call in both multiprocess generations (Init, method 5, params (context), one
  // capability back): makeNode on the branches, makeChain on the rebased work. Stock nodes lack it.
  init5: { what: "Init@5", method: named(InitChain5$Client.methods, 5, "makeChain") },
  makeChain4: { what: "makeChain@4", method: named(Init$Client.methods, 4, "makeChain") },
  makeTracing7: { what: "makeTracing@7", method: named(Init$Client.methods, 7, "makeTracing") },
  makeNode6: { what: "makeNode@6", method: named(InitChain5$Client.methods, 6, "makeNode") },
  makeRpc4Chain5: { what: "makeRpc@4", method: named(InitChain5$Client.methods, 4, "makeRpc") },
  makeMining3: { what: "makeMining@3", method: named(InitV31$Client.methods, 3, "makeMining") },
  makeRpc4: { what: "makeRpc@4", method: named(InitV32$Client.methods, 4, "makeRpc") },
  makeMining2: { what: "makeMining@2", method: named(InitV30$Client.methods, 2, "makeMining") },
  makeNode2: { what: "makeNode@2", method: named(InitPrIpc$Client.methods, 2, "makeNode") },
  rpcExecute: { what: "Rpc.executeRpc", method: named(Rpc$Client.methods, 0, "executeRpc"), of: "an Rpc interface" },
} as const;

/** The JSON-RPC caller name and endpoint every executeRpc carries (see session.ts). */
export interface RpcIdentity {
  uri: string;
  user: string;
}

/**
 * The probe sequence (what each answers per flavour is tested in tests/flavour_test.ts):
 * 1. `Init@5`: a capability on the multiprocess work (a Node on the branches, a Chain on the
 *    rebased work), "unimplemented" on stock releases (go to 4).
 * 2. `Chain.getHeight` on it: answered by the rebased work's Chain → `makeNode@6`: a Node, proven by
 *    `Node.getExitStatus` → chain5-node; "unimplemented" → `makeRpc@4` proven by an `Rpc.executeRpc`
 *    of getblockcount → chain5.
 * 3. Refused (on the branches it is a Node, and capnp refuses a Chain call on it before any node
 *    code runs) → `Node.getExitStatus` on it must answer (else neither a Chain nor a Node: error) →
 *    `makeChain@4` proven by `Chain.getHeight`, then `makeTracing@7` → pr-trace, or not → pr-ipc.
 * 4. `makeMining@3` proven by `Mining.isTestChain` → stock v31+: `makeRpc@4` proven by an
 *    `Rpc.executeRpc` of getblockcount → v32 (master), else v31. Refused (on pr/ipc of 2024 @3 is
 *    makeChain, and capnp refuses a Mining call on a Chain before any node code runs) →
 *    `Chain.getHeight` on it must answer (else neither: error) → `makeNode@2` proven by
 *    `Node.getExitStatus` → pr-ipc in the 2024 generation.
 * 5. Otherwise `makeMining@2` proven by the v30 `Mining.isTestChain` → v30.
 */
export async function detectFlavour(prober: Prober, rpc: RpcIdentity): Promise<NodeInterfaces> {
  const log: string[] = [];
  const fail = (what: string) =>
    new FlavourError(
      `unsupported IPC flavour: ${what} (probes: ${
        log.join("; ")
      }); supported: multiprocess branches pr/trace and pr/ipc (2024, and without Tracing on pr/trace's base), the multiprocess work rebased over makeRpc (Chain at Init @5, with or without Node at @6), stock v30, v31 and master/v32`,
    );
  // The node's text, kept to one bounded line.
  const reasonOf = (e: ProbeRefused) => {
    // deno-lint-ignore no-control-regex -- control characters are exactly what is removed
    const r = e.reason.replace(/[\x00-\x1f\x7f]+/g, " ");
    return r.length > MAX_REASON ? `${r.slice(0, MAX_REASON)}...` : r;
  };
  const make = async (p: { what: string; method: ContextMethod }): Promise<RemoteCap | undefined> => {
    try {
      const cap = await prober.make(p.method);
      log.push(`${p.what}: ${cap ? "ok" : "not implemented"}`);
      return cap;
    } catch (e) {
      if (!(e instanceof ProbeRefused)) throw e;
      log.push(`${p.what}: ${reasonOf(e)}`);
      throw fail(`${p.what.startsWith("Init@") ? "" : "Init."}${p.what} failed: ${reasonOf(e)}`);
    }
  };
  /** One proof; the node's refusal as a string, undefined when it answered. */
  const attempt = async (
    p: { what: string; method: ContextMethod },
    cap: RemoteCap,
    build?: (params: $.Struct) => void,
  ): Promise<string | undefined> => {
    try {
      await prober.prove(cap, p.method, build);
      log.push(`${p.what}: ok`);
      return undefined;
    } catch (e) {
      if (!(e instanceof ProbeRefused)) throw e;
      log.push(`${p.what}: ${reasonOf(e)}`);
      return reasonOf(e);
    }
  };
  const prove = async (
    p: { what: string; method: ContextMethod; of: string },
    cap: RemoteCap,
    build?: (params: $.Struct) => void,
  ): Promise<void> => {
    const refused = await attempt(p, cap, build);
    if (refused !== undefined) {
      throw fail(`the object the node returned is not ${p.of} (${p.what} failed: ${refused})`);
    }
  };
  const proveRpc = (cap: RemoteCap) =>
    prove(probes.rpcExecute, cap, (p) => {
      const params = p as InstanceType<typeof Rpc$Client.methods[0]["ParamsClass"]>;
      params.request = RPC_PROBE_REQUEST;
      params.uri = rpc.uri;
      params.user = rpc.user;
    });
  const done = (o: Omit<NodeInterfaces, "probes">): NodeInterfaces => Object.freeze({ ...o, probes: [...log] });

  const at5 = await make(probes.init5);
  if (at5) {
    // Chain first: the rebased work's @5. On the branches @5 is a Node, and this call is refused by
    // capnp itself (foreign interface ID) before it reaches the node's code.
    if (await attempt((await branchProbes()).chain5GetHeight, at5) === undefined) {
      // The rebased generation: @6 is makeNode here (on the branches it is makeWalletLoader, which
      // is why @6 waits for this proof).
      const node = await make(probes.makeNode6);
      if (node) {
        await prove((await branchProbes()).nodeGetExitStatus, node);
        return done({
          flavour: "chain5-node",
          chain: at5,
          chainGeneration: "chain5",
          node,
          nodeGeneration: "pr-trace",
        });
      }
      const rpcCap = await make(probes.makeRpc4Chain5);
      if (!rpcCap) throw fail("the node offers a Chain at Init @5 but neither Node (@6) nor Rpc (@4)");
      await proveRpc(rpcCap);
      return done({ flavour: "chain5", chain: at5, chainGeneration: "chain5", rpc: rpcCap });
    }
    const notNode = await attempt((await branchProbes()).nodeGetExitStatus, at5);
    if (notNode !== undefined) {
      throw fail(`the object Init @5 returned is neither a Chain nor a Node (Node.getExitStatus failed: ${notNode})`);
    }
    // The branches: @7 is makeTracing here (on the rebased work it is makeWalletLoader).
    const chain = await make(probes.makeChain4);
    if (!chain) throw fail("the node offers Node but no Chain");
    await prove((await branchProbes()).chainGetHeight, chain);
    const tracing = await make(probes.makeTracing7);
    // Without Tracing this is pr/trace's base (pr/ipc of 2026): pr/trace's Chain and Node.
    return done({
      flavour: tracing ? "pr-trace" : "pr-ipc",
      node: at5,
      nodeGeneration: "pr-trace",
      chain,
      chainGeneration: "pr-trace",
      tracing,
    });
  }
  const mining = await make(probes.makeMining3);
  if (mining) {
    const notMining = await attempt((await stockProbes()).miningIsTestChain, mining);
    if (notMining !== undefined) {
      // pr/ipc of 2024: @3 is makeChain there. @4 (makeWalletLoader there) is never asked.
      const notChain = await attempt((await branchProbes()).prIpcChainGetHeight, mining);
      if (notChain !== undefined) {
        throw fail(
          `the object Init @3 returned is neither a Mining interface nor a Chain (Mining.isTestChain failed: ${notMining}; Chain.getHeight failed: ${notChain})`,
        );
      }
      const node = await make(probes.makeNode2);
      if (!node) throw fail("the node offers a Chain at Init @3 but no Node at @2");
      await prove((await branchProbes()).prIpcNodeGetExitStatus, node);
      return done({ flavour: "pr-ipc", chain: mining, chainGeneration: "pr-ipc", node, nodeGeneration: "pr-ipc" });
    }
    const rpcCap = await make(probes.makeRpc4);
    if (rpcCap) {
      await proveRpc(rpcCap);
      return done({ flavour: "v32", mining: Object.freeze({ cap: mining, generation: "v32" as const }), rpc: rpcCap });
    }
    return done({ flavour: "v31", mining: Object.freeze({ cap: mining, generation: "v31" as const }) });
  }
  const old = await make(probes.makeMining2);
  if (!old) throw fail("the node offers neither Node, Chain nor Mining");
  await prove((await stockProbes()).miningV30IsTestChain, old);
  return done({ flavour: "v30", mining: Object.freeze({ cap: old, generation: "v30" as const }) });
}

/** The node answered a probe with an exception other than "unimplemented": its reason. */
export class ProbeRefused extends Error {
  override name = "ProbeRefused";
  constructor(readonly reason: string) {
    super(reason);
  }
}
