/**
 * Blocks as the node's callbacks see them, in the node's order, as scripts for the peer's
 * `script <rounds> <file>` command (one `fire` per line; tests/peer/README.md).
 *
 * When the node connects a block, `ConnectBlock` runs on the validation thread and traces each
 * transaction's coins in order (coinbase first): every input's coin spent, then every output's coin
 * added (`UtxoCacheTrace.spend` / `.add`). Then, removing the block's transactions from the mempool,
 * the transactions that conflicted with it leave (`transactionRemovedFromMempool`, reason conflict;
 * those mined leave with the block and are not announced), and the validation interface announces
 * `blockConnected` with the block's `BlockInfo` (the serialized block in `data`) and
 * `updatedBlockTip`. Each callback holds the node's thread until the client answers it.
 */

/** MemPoolRemovalReason::CONFLICT. */
const CONFLICT = 4;
const HASH_108 = "3f1e6c2d8a9b4e7f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071";

/**
 * Regtest block 108 exactly as a real multiprocess node (pr/trace) traced it: the callbacks from
 * /work/shared/fixtures/pr-trace-regtest (observed.json, the block's second connection after the
 * reorg; frame 00305 is its blockConnected, 631 bytes of block data): the coinbase's coin, then two
 * transactions each spending a mature coinbase coin (heights 1 and 2) and creating one coin.
 */
export function recordedRegtestBlock(): string[] {
  return [
    "utxoAdd 5001100000 108 0 1",
    "utxoSpend 5000000000 1 0 1",
    "utxoAdd 4999000000 108 0 0",
    "utxoSpend 5000000000 2 0 1",
    "utxoAdd 4999900000 108 0 0",
    `blockConnected 108 ${HASH_108} 0 631`,
    "updatedBlockTip",
  ];
}

export interface BlockShape {
  /** Transactions, the coinbase included. */
  txs: number;
  /** Coins spent (inputs), over the non-coinbase transactions. */
  spends: number;
  /** Coins created (outputs to the UTXO set: OP_RETURN outputs are not), the coinbase's included. */
  adds: number;
  /** Mempool transactions the block conflicted with (announced as removed, reason conflict). */
  conflicts: number;
  /** The serialized block carried in blockConnected's BlockInfo.data. */
  blockBytes: number;
  height: number;
}

/**
 * A mainnet-sized block: the counts of a full block of recent years (about 3,000 transactions,
 * 7,000 inputs, 9,000 UTXO-set outputs, 1.6 MB serialized; the same coin counts as the README's
 * cost table), in the order of the recorded block above, inputs and outputs spread evenly over the
 * transactions.
 */
export const MAINNET_BLOCK: BlockShape = {
  txs: 3000,
  spends: 7000,
  adds: 9000,
  conflicts: 2,
  blockBytes: 1_600_000,
  height: 800_000,
};

/** `shape` scaled down by `f` (for --quick / --smoke), keeping its proportions. */
export function scaled(shape: BlockShape, f: number): BlockShape {
  const k = (x: number, min: number) => Math.max(min, Math.round(x * f));
  return {
    ...shape,
    txs: k(shape.txs, 2),
    spends: k(shape.spends, 1),
    adds: k(shape.adds, 2),
    conflicts: Math.min(shape.conflicts, k(shape.conflicts, 0)),
    blockBytes: k(shape.blockBytes, 1000),
  };
}

/** The script of a block of `shape`, in the node's order. */
export function blockScript(shape: BlockShape): string[] {
  const out: string[] = [];
  const h = shape.height;
  // The coinbase: its payout coin (its witness commitment is OP_RETURN, never a coin), no inputs.
  out.push(`utxoAdd 325000000 ${h} 0 1`);
  const others = shape.txs - 1;
  let spendsLeft = shape.spends, addsLeft = shape.adds - 1;
  for (let t = 0; t < others; t++) {
    const txsLeft = others - t;
    const ins = Math.max(1, Math.round(spendsLeft / txsLeft));
    const outs = Math.max(1, Math.round(addsLeft / txsLeft));
    for (let i = 0; i < ins && spendsLeft > 0; i++, spendsLeft--) {
      // Coins of all ages and values: what the trace carries is the same size whatever they are.
      out.push(`utxoSpend ${10_000 + ((t * 7919 + i * 104_729) % 99_000_000)} ${h - 1 - ((t + i) % 100_000)} ${i} 0`);
    }
    for (let o = 0; o < outs && addsLeft > 0; o++, addsLeft--) {
      out.push(`utxoAdd ${546 + ((t * 6151 + o * 7877) % 50_000_000)} ${h} ${o} 0`);
    }
  }
  const tx = "02000000" + "00".repeat(246); // a 250-byte transaction
  for (let c = 0; c < shape.conflicts; c++) out.push(`txRemoved ${tx} ${CONFLICT}`);
  out.push(
    `blockConnected ${h} ${"00".repeat(12)}${h.toString(16).padStart(8, "0")}${"ab".repeat(16)} 0 ${shape.blockBytes}`,
  );
  out.push("updatedBlockTip");
  return out;
}
