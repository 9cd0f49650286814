import { createHash } from "node:crypto";
import { assertEquals } from "../../tests/support/assert.ts";
import { sha256 } from "./sha256.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("sha256: the FIPS 180-4 examples", () => {
  const enc = new TextEncoder();
  assertEquals(hex(sha256(new Uint8Array())), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assertEquals(hex(sha256(enc.encode("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assertEquals(
    hex(sha256(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256: agrees with node:crypto at every length around the block and padding boundaries", () => {
  let seed = 1;
  for (let len = 0; len <= 300; len++) {
    const data = new Uint8Array(len).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    assertEquals(hex(sha256(data)), createHash("sha256").update(data).digest("hex"), `length ${len}`);
  }
});
