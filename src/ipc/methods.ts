/**
 * Naming a generated method by its ordinal, checked: `named(Node$Client.methods, 31, "getHeaderTip")`
 * fails when the module loads if ordinal 31 is not getHeaderTip in the generated schema, so a
 * mistyped ordinal can never send one method's call as another's.
 */
import type * as $ from "capnp-es";

export function named<M extends readonly $.Method<$.Struct, $.Struct>[], I extends number>(
  methods: M,
  ordinal: I,
  name: string,
): M[I] {
  const m = methods[ordinal];
  if (!m || m.methodName !== name || m.methodId !== ordinal) {
    throw new Error(`schema mismatch: ${m?.interfaceName ?? "interface"} @${ordinal} is ${m?.methodName}, not ${name}`);
  }
  return m;
}
