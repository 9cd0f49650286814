/**
 * Small, checked accessors on top of capnp-es's serialization for what its generated getters get
 * wrong or do not offer: integer fields with non-zero defaults (capnp-es XORs Int32 with only 16 bits
 * of the default and returns UInt32 as signed after the XOR) and capability pointers, whose index
 * into the message's cap table we resolve ourselves because we run our own RPC layer.
 */
import * as $ from "capnp-es";

/** An Int32 field stored XOR its default, as the encoding specifies. */
export function int32Field(s: $.Struct, byteOffset: number, defaultValue: number): number {
  return ($.utils.getInt32(byteOffset, s) ^ defaultValue) | 0;
}

/** A UInt32 field stored XOR its default, always in [0, 2^32). */
export function uint32Field(s: $.Struct, byteOffset: number, defaultValue = 0): number {
  return ($.utils.getUint32(byteOffset, s) ^ defaultValue) >>> 0;
}

/** The cap-table index held by pointer `index` of `s`, or -1 when the pointer is null. */
export function capIndexAt(s: $.Struct, index: number): number {
  const p = $.utils.getPointer(index, s);
  const lo = p.segment.getUint32(p.byteOffset);
  const hi = p.segment.getUint32(p.byteOffset + 4);
  if (lo === 0 && hi === 0) return -1;
  if (lo !== 3) throw new TypeError(`pointer ${index} is not a capability`);
  return hi;
}

/** Stores a capability pointer (cap-table index) in pointer `index` of `s`. */
export function setCapAt(s: $.Struct, index: number, capIndex: number): void {
  $.utils.setInterfacePointer(capIndex, $.utils.getPointer(index, s));
}
