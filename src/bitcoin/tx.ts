/**
 * Just enough transaction parsing for debug logs: the txid (double SHA-256 of the serialization
 * without witness data), displayed byte-reversed as Bitcoin Core does. Never on the normal hot path.
 */
import { createHash } from "node:crypto";

export function displayHash(bytes: Uint8Array): string {
  let s = "";
  for (let i = bytes.length - 1; i >= 0; i--) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

function sha256d(data: Uint8Array): Uint8Array {
  const once = createHash("sha256").update(data).digest();
  return new Uint8Array(createHash("sha256").update(once).digest());
}

/** The txid of a serialized transaction, or undefined if it does not parse. */
export function txid(tx: Uint8Array): string | undefined {
  try {
    return displayHash(sha256d(stripWitness(tx)));
  } catch {
    return undefined;
  }
}

function stripWitness(tx: Uint8Array): Uint8Array {
  if (tx.length < 10 || tx[4] !== 0x00 || tx[5] === 0x00) return tx; // no segwit marker/flag
  let at = 6;
  const varint = (): number => {
    const b = tx[at++];
    if (b < 0xfd) return b;
    const n = b === 0xfd ? 2 : b === 0xfe ? 4 : 8;
    let v = 0;
    for (let i = 0; i < n; i++) v += tx[at++] * 2 ** (8 * i);
    return v;
  };
  const bodyStart = at;
  const nIn = varint();
  for (let i = 0; i < nIn; i++) {
    at += 36;
    at += varint();
    at += 4;
  }
  const nOut = varint();
  for (let i = 0; i < nOut; i++) {
    at += 8;
    at += varint();
  }
  const bodyEnd = at;
  for (let i = 0; i < nIn; i++) {
    const items = varint();
    for (let j = 0; j < items; j++) at += varint();
  }
  if (at + 4 !== tx.length) throw new Error("trailing or missing bytes");
  const out = new Uint8Array(4 + (bodyEnd - bodyStart) + 4);
  out.set(tx.subarray(0, 4), 0);
  out.set(tx.subarray(bodyStart, bodyEnd), 4);
  out.set(tx.subarray(tx.length - 4), 4 + bodyEnd - bodyStart);
  return out;
}
