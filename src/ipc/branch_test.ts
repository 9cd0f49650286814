import { assertEquals, assertThrows } from "../../tests/support/assert.ts";
import { countJsonArrayObjects, feeRateSatPerVb } from "./branch.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

Deno.test("ban-list JSON: counts top-level objects, skipping strings and nesting", () => {
  const one = '{"version":1,"ban_created":1,"banned_until":2,"address":"1.2.3.4/32"}';
  assertEquals(countJsonArrayObjects(utf8("[]\0"), "t"), 0);
  assertEquals(countJsonArrayObjects(utf8(" [ ] "), "t"), 0);
  assertEquals(countJsonArrayObjects(utf8(`[${one}]\0`), "t"), 1);
  assertEquals(countJsonArrayObjects(utf8(`[${one},${one},\n${one}]`), "t"), 3);
  // Brackets, braces, commas and escaped quotes inside strings and nested values count for nothing.
  assertEquals(countJsonArrayObjects(utf8('[{"a":"},{\\"]","b":[{},{}],"c":{"d":[1,2]}},{}]'), "t"), 2);
});

Deno.test("ban-list JSON: anything but an array of objects is refused with the reason", () => {
  for (
    const bad of ["", "{}", "[1]", '["x"]', "[{}", "[{},]", "[,{}]", "[{}{}]", "[{}] x", '[{"a":"]', "[{]}", "null"]
  ) {
    assertThrows(() => countJsonArrayObjects(utf8(bad), "Node.getBanned"), Error, "Node.getBanned");
  }
});

Deno.test("CFeeRate: FeeFrac (fee Int64, size Int32) and the pre-v30 Int64 sat/kvB, as sat/vB", () => {
  const feeFrac = (fee: bigint, size: number) => {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, fee, true);
    v.setInt32(8, size, true);
    return b;
  };
  assertEquals(feeRateSatPerVb(feeFrac(100n, 1000), "t"), 0.1);
  assertEquals(feeRateSatPerVb(feeFrac(0n, 1000), "t"), 0);
  assertEquals(feeRateSatPerVb(feeFrac(2_500_000n, 1000), "t"), 2500);
  // GetFeePerK rounds down to whole sat/kvB: 1001 sat over 3 vB is 333666.666... sat/kvB.
  assertEquals(feeRateSatPerVb(feeFrac(1001n, 3), "t"), 333.666);
  assertEquals(feeRateSatPerVb(feeFrac(-1n, 3), "t"), -0.334); // towards -infinity, as EvaluateFeeDown
  assertEquals(feeRateSatPerVb(feeFrac(0n, 0), "t"), undefined); // CFeeRate{}: no fee rate
  const old = new Uint8Array(8);
  new DataView(old.buffer).setBigInt64(0, 1000n, true);
  assertEquals(feeRateSatPerVb(old, "t"), 1);
  assertThrows(() => feeRateSatPerVb(new Uint8Array(4), "Chain.relayMinFee"), Error, "4-byte fee rate");
});
