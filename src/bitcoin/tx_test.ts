import { assert, assertEquals } from "../../tests/support/assert.ts";
import { txid, withoutWitness } from "./tx.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// The genesis block's coinbase: a legacy transaction with a well-known txid.
const GENESIS_TX = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d" +
  "0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e6420" +
  "6261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e039" +
  "09a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";
const GENESIS_TXID = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

// The same transaction with a segwit marker, flag and a two-item witness: same txid.
const body = GENESIS_TX.slice(8, -8);
const SEGWIT_TX = GENESIS_TX.slice(0, 8) + "0001" + body + "02" + "03aabbcc" + "00" + GENESIS_TX.slice(-8);

/** The 19 bytes that spun the old parser forever: segwit marker, then an input count of 2^64-1. */
const NINETEEN = "01000000" + "0001" + "ff" + "ffffffffffffffff" + "00000000";

// Every txid is computed in a worker (txids below), so that a parser that loops fails these tests
// instead of hanging the run: the old one looped on the 19 bytes, and misread every segwit
// transaction (`at += varint()` added to the offset read before the call), which could loop too.

Deno.test("txid of a legacy transaction (the genesis coinbase)", async () => {
  assertEquals(await txids([GENESIS_TX]), [GENESIS_TXID]);
  assertEquals(toHex(withoutWitness(hex(GENESIS_TX))!), GENESIS_TX);
});

Deno.test("txid of a segwit transaction leaves the witness out", async () => {
  // An empty transaction as Core reads it: no inputs, flags 0, so no outputs either.
  const [segwit, empty] = await txids([SEGWIT_TX, "02000000" + "0000" + "00000000"]);
  assertEquals(segwit, GENESIS_TXID);
  assertEquals(toHex(withoutWitness(hex(SEGWIT_TX))!), GENESIS_TX);
  assert(empty !== null);
});

const MALFORMED: [string, string][] = [
  ["19 bytes claiming 2^64-1 inputs after the segwit marker", NINETEEN],
  ["a legacy input count of 2^64-1", "01000000" + "ffffffffffffffffff" + "00".repeat(40)],
  ["an input count of 2^32-1", "01000000" + "feffffffff" + "00".repeat(60)],
  ["an input count above MAX_SIZE", "01000000" + "fe00000004" + "00".repeat(60)],
  ["a non-canonical CompactSize", "01000000" + "fd0100" + "00".repeat(60)],
  ["a script longer than the transaction", GENESIS_TX.slice(0, 82) + "fdffff" + GENESIS_TX.slice(84)],
  ["an output count the bytes cannot hold", GENESIS_TX.slice(0, 8 + 2 + 72 + 2 + 154 + 8) + "ff" + "ff".repeat(8)],
  ["segwit flags 2 (unknown optional data)", SEGWIT_TX.slice(0, 10) + "02" + SEGWIT_TX.slice(12)],
  ["a segwit flag with no witness at all", GENESIS_TX.slice(0, 8) + "0001" + body + "00" + GENESIS_TX.slice(-8)],
  ["a trailing byte", GENESIS_TX + "00"],
  ["nothing", ""],
  ["three bytes", "010000"],
  ["a version only", "01000000"],
];

Deno.test("malformed transactions: undefined, bounded (truncated, huge counts, the 19 bytes)", async () => {
  const inputs = [
    ...MALFORMED.map(([, h]) => h),
    // Every proper prefix of both valid forms.
    ...[GENESIS_TX, SEGWIT_TX].flatMap((t) => Array.from({ length: t.length / 2 }, (_, n) => t.slice(0, 2 * n))),
  ];
  const results = await txids(inputs);
  for (let i = 0; i < MALFORMED.length; i++) assertEquals(results[i], null, MALFORMED[i][0]);
  assert(results.slice(MALFORMED.length).every((r) => r === null), "every truncation is malformed");
});

Deno.test("mutated transactions never throw: a txid or undefined", async () => {
  const mutants: string[] = [];
  for (const base of [GENESIS_TX, SEGWIT_TX]) {
    for (let at = 0; at < base.length; at += 2) {
      for (const v of ["00", "01", "fd", "fe", "ff"]) mutants.push(base.slice(0, at) + v + base.slice(at + 2));
    }
  }
  const results = await txids(mutants);
  assertEquals(results.length, mutants.length);
  for (const [i, id] of results.entries()) assert(id === null || /^[0-9a-f]{64}$/.test(id), `${mutants[i]}: ${id}`);
  // In-process too: the same answers.
  assertEquals(mutants.map((m) => txid(hex(m)) ?? null), results);
});

/** txid of each hex string (null for undefined), computed in a worker given 30 s before it counts as looping. */
async function txids(inputs: string[], guardMs = 30_000): Promise<(string | null)[]> {
  const src = `import { txid } from ${JSON.stringify(new URL("./tx.ts", import.meta.url).href)};
    self.onmessage = (e) => {
      const out = e.data.map((h) => txid(Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16))) ?? null);
      self.postMessage(out);
    };`;
  const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<(string | null)[]>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the parser did not return within ${guardMs} ms: it loops`)), guardMs);
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
      worker.postMessage(inputs);
    });
  } finally {
    clearTimeout(timer);
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}
