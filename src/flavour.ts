/**
 * The Bitcoin Core IPC flavours the exporter serves, and what each one can give. The session decides
 * the flavour once per connection by probing (src/ipc/detect.ts); everything else asks this table
 * what to read and which metrics exist, so a metric a flavour cannot provide is absent, never zero.
 *
 * The multiprocess work comes in generations of the same `Init` interface: `pr-trace` (makeChain
 * @4, makeNode @5, makeTracing @7); `pr-ipc`, either the branch pr/ipc of 2024 (makeNode @2,
 * makeChain @3, and its own Chain and Node ordinals: schemas/pr-ipc/) or pr/trace's base without
 * Tracing (pr/trace's Init, Chain and Node); and the one rebased over stock makeRpc @4, named here by
 * what it offers rather than by branch (branch names move with every rebase): `chain5` is Chain at
 * Init @5 with no Node (bitcoin/bitcoin#29409), `chain5-node` is Chain at @5 and Node at @6
 * (bitcoin/bitcoin#10102).
 */

export const FLAVOURS = ["pr-trace", "pr-ipc", "chain5-node", "chain5", "v30", "v31", "v32"] as const;
export type Flavour = typeof FLAVOURS[number];

export interface FlavourTraits {
  /** One line for logs and --help. */
  readonly description: string;
  /** `Chain.handleNotifications`: every chain and mempool event counter. */
  readonly chainNotifications: boolean;
  /** `Tracing.traceUtxoCache`. */
  readonly utxoTrace: boolean;
  /** Where the node gauges come from: Node/Chain getters, JSON-RPC over IPC, or Mining alone. */
  readonly gauges: "node" | "rpc" | "mining";
  /** Which Mining generation drives the tip (`waitTipChanged`), if the Chain events do not. */
  readonly tipWatch: "v30" | "v31" | "v32" | undefined;
  /** Blocks connected/disconnected are derived from tip changes (needs JSON-RPC getblockheader). */
  readonly derivedBlocks: boolean;
  /** `Node.getNetLocalAddresses` exists (not on pr/ipc of 2024). */
  readonly netLocalAddresses: boolean;
  /** `Chain.getPruneHeight` exists (not on pr/ipc of 2024). */
  readonly pruneHeight: boolean;
}

export const FLAVOUR_TRAITS: Record<Flavour, FlavourTraits> = {
  "pr-trace": {
    description: "multiprocess branch with Chain, Node and Tracing",
    chainNotifications: true,
    utxoTrace: true,
    gauges: "node",
    tipWatch: undefined,
    derivedBlocks: false,
    netLocalAddresses: true,
    pruneHeight: true,
  },
  "pr-ipc": {
    // Both generations (2024 and pr/trace's base) are served with what the 2024 one has.
    description: "multiprocess branch pr/ipc with Chain and Node (no Tracing)",
    chainNotifications: true,
    utxoTrace: false,
    gauges: "node",
    tipWatch: undefined,
    derivedBlocks: false,
    netLocalAddresses: false,
    pruneHeight: false,
  },
  "chain5-node": {
    description: "multiprocess work rebased over makeRpc (bitcoin/bitcoin#10102): Chain @5 and Node @6",
    chainNotifications: true,
    utxoTrace: false,
    gauges: "node",
    tipWatch: undefined,
    derivedBlocks: false,
    netLocalAddresses: true,
    pruneHeight: true,
  },
  chain5: {
    // No Node: the gauges come from JSON-RPC over makeRpc @4, which has every one of them.
    description: "Chain interface rebased over makeRpc (bitcoin/bitcoin#29409): Chain @5, Rpc @4, no Node",
    chainNotifications: true,
    utxoTrace: false,
    gauges: "rpc",
    tipWatch: undefined,
    derivedBlocks: false,
    netLocalAddresses: false,
    pruneHeight: true,
  },
  v30: {
    description: "stock v30: Mining (makeMining @2)",
    chainNotifications: false,
    utxoTrace: false,
    gauges: "mining",
    tipWatch: "v30",
    derivedBlocks: false,
    netLocalAddresses: false,
    pruneHeight: false,
  },
  v31: {
    description: "stock v31: Mining (makeMining @3)",
    chainNotifications: false,
    utxoTrace: false,
    gauges: "mining",
    tipWatch: "v31",
    derivedBlocks: false,
    netLocalAddresses: false,
    pruneHeight: false,
  },
  v32: {
    description: "stock master / v32: Mining and JSON-RPC over IPC (makeRpc @4)",
    chainNotifications: false,
    utxoTrace: false,
    gauges: "rpc",
    tipWatch: "v32",
    derivedBlocks: true,
    netLocalAddresses: false,
    pruneHeight: false,
  },
};

export function isFlavour(s: string): s is Flavour {
  return (FLAVOURS as readonly string[]).includes(s);
}
