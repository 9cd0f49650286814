import { assertEquals } from "../../tests/support/assert.ts";
import { CHAIN_DIRS, socketInDatadir } from "./datadir.ts";

Deno.test("the socket in a datadir: bitcoin-cli's chain subdirectories", () => {
  assertEquals(Object.keys(CHAIN_DIRS), ["main", "test", "testnet4", "signet", "regtest"]);
  assertEquals(socketInDatadir("/home/u/.bitcoin", "main"), "/home/u/.bitcoin/node.sock");
  assertEquals(socketInDatadir("/home/u/.bitcoin/", "regtest"), "/home/u/.bitcoin/regtest/node.sock");
  assertEquals(socketInDatadir("/d", "test"), "/d/testnet3/node.sock");
  assertEquals(socketInDatadir("/d", "testnet4"), "/d/testnet4/node.sock");
  assertEquals(socketInDatadir("/d", "signet"), "/d/signet/node.sock");
});
