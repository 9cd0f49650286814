/**
 * Naming a generated method by its ordinal, checked: `named(Node$Client.methods, 31, "getHeaderTip")`
 * fails when the module loads if ordinal 31 is not getHeaderTip in the generated schema, so a
 * mistyped ordinal can never send one method's call as another's.
 */
import type * as $ from "capnp-es";

export function named<M extends readonly ($.Method<$.Struct, $.Struct> | undefined)[], I extends number>(
  methods: M,
  ordinal: I,
  name: string,
): Exclude<M[I], undefined> {
  const m = methods[ordinal];
  if (!m) {
    // tools/gen/trim.ts keeps the methods src/ names: a new one needs a fresh generation.
    throw new Error(
      `schema mismatch: @${ordinal} (${name}) is not in the generated method table: run \`deno task gen\``,
    );
  }
  if (m.methodName !== name || m.methodId !== ordinal) {
    throw new Error(`schema mismatch: ${m?.interfaceName ?? "interface"} @${ordinal} is ${m?.methodName}, not ${name}`);
  }
  return m as Exclude<M[I], undefined>;
}
