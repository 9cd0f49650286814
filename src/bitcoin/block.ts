/**
 * The counts getblockstats gives that need no undo data, read from a serialized block the node
 * already pushed (the branches' blockConnected carries it): defined as Bitcoin Core's getblockstats
 * (src/rpc/blockchain.cpp) defines them:
 * - `txs`: every transaction, coinbase included (`block.vtx.size()`);
 * - `outs`: every output, the coinbase's included;
 * - `ins`, `totalSize`, `totalWeight`: of the transactions other than the coinbase (`ins` counts
 *   their inputs, `totalSize` sums `GetTotalSize()`, the serialization with witness, and
 *   `totalWeight` sums `GetTransactionWeight()`, 3 × the size without witness + the size with it).
 * The coinbase is the first transaction (a valid block has exactly one, first).
 *
 * The bytes come from the node and are parsed as untrusted, like tx.ts: every read is checked
 * against the end of the buffer and every count against the bytes left, so a malformed block costs
 * at most one pass over its bytes and ends in `undefined`. A block can be 4 MB: `BlockCounter`
 * parses a bounded number of transactions per `step`, so a caller can yield to the event loop
 * between steps (`countBlock`).
 */

/** getblockstats' counts that a serialized block gives without undo data. */
export interface BlockCounts {
  txs: number;
  ins: number;
  outs: number;
  totalSize: number;
  totalWeight: number;
}

const HEADER_BYTES = 80;
/** Bitcoin Core's MAX_SIZE: the largest CompactSize it accepts. */
const MAX_SIZE = 0x02000000;
const MIN_TX_BYTES = 4 + 1 + 1 + 4; // version, no inputs, no outputs, lock time
const MIN_INPUT_BYTES = 32 + 4 + 1 + 4; // outpoint, empty script, sequence
const MIN_OUTPUT_BYTES = 8 + 1; // value, empty script
const WITNESS_SCALE_FACTOR = 4;

class Malformed extends Error {}

/** Parses a serialized block a bounded number of transactions at a time. */
export class BlockCounter {
  #at = HEADER_BYTES;
  #txs = 0;
  #done = 0;
  #ins = 0;
  #outs = 0;
  #size = 0;
  #weight = 0;
  #failed = false;

  constructor(readonly bytes: Uint8Array) {
    try {
      if (bytes.length < HEADER_BYTES) throw new Malformed();
      this.#txs = this.#count(MIN_TX_BYTES);
      if (this.#txs === 0) throw new Malformed(); // a block has its coinbase
    } catch (e) {
      if (!(e instanceof Malformed)) throw e;
      this.#failed = true;
    }
  }

  /**
   * Parses up to `maxTxs` more transactions. Returns the counts once the whole block is parsed,
   * `undefined` when it is not a block (malformed, or bytes after its last transaction), or `false`
   * while transactions are left.
   */
  step(maxTxs: number): BlockCounts | undefined | false {
    if (this.#failed) return undefined;
    try {
      for (let n = 0; n < maxTxs && this.#done < this.#txs; n++, this.#done++) this.#tx(this.#done === 0);
      if (this.#done < this.#txs) return false;
      if (this.#at !== this.bytes.length) throw new Malformed();
      return { txs: this.#txs, ins: this.#ins, outs: this.#outs, totalSize: this.#size, totalWeight: this.#weight };
    } catch (e) {
      if (!(e instanceof Malformed)) throw e;
      this.#failed = true;
      return undefined;
    }
  }

  /** One transaction (Core's UnserializeTransaction), counted. */
  #tx(coinbase: boolean): void {
    const start = this.#at;
    this.#skip(4); // version
    let nIn = this.#count(MIN_INPUT_BYTES);
    let flags = 0;
    if (nIn === 0) {
      // Empty input list: the segwit marker; the flags byte follows.
      flags = this.#byte();
      if (flags !== 0) nIn = this.#count(MIN_INPUT_BYTES);
    }
    for (let i = 0; i < nIn; i++) {
      this.#skip(36); // outpoint
      this.#skip(this.#count(1)); // scriptSig
      this.#skip(4); // sequence
    }
    // With flags 0 after an empty input list, Core reads no outputs.
    const nOut = nIn === 0 && flags === 0 ? 0 : this.#count(MIN_OUTPUT_BYTES);
    for (let i = 0; i < nOut; i++) {
      this.#skip(8); // value
      this.#skip(this.#count(1)); // scriptPubKey
    }
    let witnessBytes = 0;
    if (flags !== 0) {
      if (flags !== 1) throw new Malformed(); // unknown optional data
      const witnessStart = this.#at;
      let anyWitness = false;
      for (let i = 0; i < nIn; i++) {
        const items = this.#count(1);
        for (let j = 0; j < items; j++) this.#skip(this.#count(1));
        if (items > 0) anyWitness = true;
      }
      if (!anyWitness) throw new Malformed(); // Core: "Superfluous witness record"
      // Without witness: no marker and flags byte, no witness stacks.
      witnessBytes = 2 + this.#at - witnessStart;
    }
    this.#skip(4); // lock time
    this.#outs += nOut;
    if (coinbase) return;
    const size = this.#at - start;
    this.#ins += nIn;
    this.#size += size;
    this.#weight += (size - witnessBytes) * (WITNESS_SCALE_FACTOR - 1) + size;
  }

  #skip(n: number): void {
    if (n > this.bytes.length - this.#at) throw new Malformed();
    this.#at += n;
  }

  #byte(): number {
    if (this.#at >= this.bytes.length) throw new Malformed();
    return this.bytes[this.#at++];
  }

  /** A CompactSize, canonical and at most MAX_SIZE, as Core reads it. */
  #compactSize(): number {
    const first = this.#byte();
    if (first < 0xfd) return first;
    const n = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    if (n > this.bytes.length - this.#at) throw new Malformed();
    let v = 0;
    for (let i = 0; i < n; i++) v += this.bytes[this.#at + i] * 2 ** (8 * i);
    this.#at += n;
    if (v < (n === 2 ? 0xfd : n === 4 ? 0x10000 : 0x100000000) || v > MAX_SIZE) throw new Malformed();
    return v;
  }

  /** A count of items that each take at least `minBytes`: more than the bytes left can hold is malformed. */
  #count(minBytes: number): number {
    const n = this.#compactSize();
    if (n * minBytes > this.bytes.length - this.#at) throw new Malformed();
    return n;
  }
}

/** Transactions parsed per step: a few hundred microseconds of the event loop at most. */
export const TXS_PER_STEP = 500;

/**
 * The block's counts, parsed `TXS_PER_STEP` transactions per event-loop turn (a full 4 MB block is a
 * few turns, none long enough to hold a node callback waiting), or undefined if the bytes are not
 * a block. `signal` ends it early (undefined).
 */
export async function countBlock(bytes: Uint8Array, signal?: AbortSignal): Promise<BlockCounts | undefined> {
  const counter = new BlockCounter(bytes);
  for (;;) {
    const r = counter.step(TXS_PER_STEP);
    if (r !== false) return r;
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (signal?.aborted) return undefined;
  }
}
