/**
 * An exact running sum of satoshi amounts without a BigInt allocation per addition.
 *
 * Each amount is below 2^51 (21e14 sat), so adding it to a Number below 2^52 stays exact; whenever
 * the Number part reaches 2^52 it is folded into a BigInt. A sync from genesis passes 2^53 in these
 * sums, where a float would start rounding.
 */
const FOLD_AT = 2 ** 52;

export class ExactSum {
  #small = 0;
  #big = 0n;

  /** Adds an integer amount with |amount| < 2^52. */
  add(amount: number): void {
    const s = this.#small + amount;
    if (s >= FOLD_AT || s <= -FOLD_AT) {
      this.#big += BigInt(s);
      this.#small = 0;
    } else {
      this.#small = s;
    }
  }

  get value(): bigint {
    return this.#big + BigInt(this.#small);
  }

  toString(): string {
    return this.value.toString();
  }
}
