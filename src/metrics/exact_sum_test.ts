import { assertEquals } from "../../tests/support/assert.ts";
import { ExactSum } from "./exact_sum.ts";

Deno.test("ExactSum stays exact past 2^53 where a float sum rounds", () => {
  const sum = new ExactSum();
  let float = 0;
  const amount = 2_099_999_997_690_001; // odd, near the largest possible single amount
  for (let i = 0; i < 9; i++) {
    sum.add(amount);
    float += amount;
  }
  assertEquals(sum.value, 18_899_999_979_210_009n);
  assertEquals(sum.toString(), "18899999979210009");
  // The float accumulation has lost the low digits: the reason this type exists.
  assertEquals(BigInt(float) === sum.value, false);
});

Deno.test("ExactSum handles many small amounts and zero", () => {
  const sum = new ExactSum();
  assertEquals(sum.toString(), "0");
  for (let i = 0; i < 1000; i++) sum.add(5_000_000_000);
  assertEquals(sum.value, 5_000_000_000_000n);
});
