/**
 * Our trimmed schemas keep the node's identities: a type declared by name alone (never called) must
 * still carry the interface ID the node's full schema gives it.
 */
import { assertEquals } from "./support/assert.ts";
import { WalletLoader$Client } from "../gen/wallet.ts";
import { Init$Client } from "../gen/init.ts";

Deno.test("trimmed wallet.capnp: WalletLoader keeps the node's interface ID; the exporter loads none of the wallet interface", async () => {
  // 0xba10da251bfac23a: `capnp compile -ocapnp` of Bitcoin Core's full src/ipc/capnp/wallet.capnp (pr/trace).
  assertEquals(WalletLoader$Client.interfaceId, 0xba10da251bfac23an);
  assertEquals(Init$Client.methods[6].methodName, "makeWalletLoader");
  const gen = await Deno.readTextFile(new URL("../gen/wallet.ts", import.meta.url));
  assertEquals(/class Wallet\$Client\b/.test(gen), false, "the Wallet interface is not generated");
});
