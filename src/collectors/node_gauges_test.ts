import { assertEquals } from "../../tests/support/assert.ts";
import { pickField } from "./node_gauges.ts";

Deno.test("pickField: a field of the expected type is its value", () => {
  assertEquals(pickField({ result: { headers: 812345 } }, "getblockchaininfo", "headers", "number"), { value: 812345 });
  assertEquals(pickField({ result: 8 }, "getconnectioncount", undefined, "number"), { value: 8 });
  assertEquals(pickField({ result: { initialblockdownload: false } }, "m", "initialblockdownload", "boolean"), {
    value: false,
  });
});

Deno.test("pickField: missing, retyped or non-finite fields are problems named by where they are, never a zero", () => {
  assertEquals(
    pickField({ result: {} }, "getmempoolinfo", "size", "number"),
    "getmempoolinfo.size is missing in the node's answer",
  );
  assertEquals(
    pickField({ result: { size: "3" } }, "getmempoolinfo", "size", "number"),
    "getmempoolinfo.size is not a number in the node's answer",
  );
  assertEquals(
    pickField({ result: { size: null } }, "getmempoolinfo", "size", "number"),
    "getmempoolinfo.size is not a number in the node's answer",
  );
  assertEquals(
    pickField({ result: null }, "getnettotals", "totalbytesrecv", "number"),
    "getnettotals.totalbytesrecv is missing in the node's answer",
  );
  assertEquals(
    pickField({ error: { code: -32601, message: "Method not found" } }, "getconnectioncount", undefined, "number"),
    "getconnectioncount: getconnectioncount failed: Method not found",
  );
  // A hostile error text is bounded.
  const long = pickField({ error: { message: "x".repeat(100_000) } }, "m", undefined, "number") as string;
  assertEquals(long.length < 300, true);
});
