/**
 * Trims capnp-es's generated modules to what the exporter uses (issue 21: every byte of generated
 * TypeScript loaded costs RSS, ~10 MiB per MB of source, and the full generation is 1.5 MB).
 *
 * What is kept is read from the exporter's own code, so there is no second list to keep in step:
 * every name src/ imports from gen/, and every method src/ names by ordinal
 * (`named(X$Client.methods, N, "name")`, or `X$Client.methods[N]`). From those roots the kept
 * declarations' references are followed across files; everything else goes:
 * - an interface's method table keeps the methods named, the others become `undefined` (so an
 *   ordinal src/ does not name fails `named()` when the module loads: run `deno task gen`);
 * - the call wrappers of `X$Client`, the `$Server`, `$Server$Target` and `$Promise` classes (our own
 *   RPC, src/ipc/rpc.ts, calls and serves through the method tables, never through those);
 * - interface-typed field accessors of structs (src/ipc passes capabilities by their index in the
 *   message's cap table: src/ipc/capnp.ts `capIndexAt`/`setCapAt`), which is what lets a kept
 *   `Init.makeChain` leave the Chain interface's module unloaded;
 * - imports of names no longer referenced, and whole import lines with none left.
 *
 * Works on the text capnp-es writes: top-level declarations start in column 0, class members at two
 * spaces; a shape it does not recognise is kept whole, never guessed at.
 */

/** Where src/ uses generated code: names imported per gen file, and method ordinals per interface client. */
export interface Uses {
  /** gen-relative file ("chain.ts", "v30/init.ts") → names imported from it. */
  readonly names: Map<string, Set<string>>;
  /** "file#Client$Name" → method ordinals named. */
  readonly methods: Map<string, Set<number>>;
}

/** In `Uses.methods`: every method of the interface. */
export const ALL = -1;

/** Reads src/'s uses of gen/ from its sources (`files`: path relative to the repository → text). */
export function usesOf(files: Map<string, string>): Uses {
  const names = new Map<string, Set<string>>();
  const methods = new Map<string, Set<number>>();
  const add = <K, V>(m: Map<K, Set<V>>, k: K, v: V) => {
    let s = m.get(k);
    if (!s) m.set(k, s = new Set());
    s.add(v);
  };
  for (const [path, text] of files) {
    const dir = path.slice(0, path.lastIndexOf("/") + 1);
    /** local name → "file#name" */
    const alias = new Map<string, string>();
    for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+"([^"]+)"/g)) {
      const file = genFile(dir, m[2]);
      if (file === undefined) continue;
      for (const part of m[1].split(",")) {
        const p = part.trim().replace(/^type\s+/, "");
        if (!p) continue;
        const [name, local] = p.split(/\s+as\s+/);
        add(names, file, name);
        alias.set(local ?? name, `${file}#${name}`);
      }
    }
    for (const m of text.matchAll(/named\(\s*([\w$]+)\.methods,\s*(\d+)\s*,/g)) {
      const target = alias.get(m[1]);
      if (target) add(methods, target, Number(m[2]));
    }
    // An ordinal that is not a literal (a loop over a table of callbacks we serve): every method.
    for (const m of text.matchAll(/named\(\s*([\w$]+)\.methods,\s*(?![\s\d])/g)) {
      const target = alias.get(m[1]);
      if (target) add(methods, target, ALL);
    }
    for (const m of text.matchAll(/([\w$]+)\.methods\[(\d+)\]/g)) {
      const target = alias.get(m[1]);
      if (target) add(methods, target, Number(m[2]));
    }
  }
  return { names, methods };
}

/** The gen-relative file an import specifier names, when it is one of gen/'s. */
function genFile(fromDir: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const parts = fromDir.split("/").filter(Boolean);
  for (const seg of spec.split("/")) {
    if (seg === "..") parts.pop();
    else if (seg !== ".") parts.push(seg);
  }
  return parts[0] === "gen" ? parts.slice(1).join("/") : undefined;
}

interface Block {
  /** The declared name (class, interface, const, type), or the owner a statement assigns to. */
  name: string | undefined;
  declares: boolean;
  lines: string[];
}

interface Parsed {
  header: string[];
  /** local name → "file#name" of its import */
  imports: Map<string, string>;
  /** import lines in order: [specifier's file, names] */
  importLines: { file: string; spec: string; names: string[] }[];
  blocks: Block[];
}

function parse(file: string, text: string): Parsed {
  const lines = text.split("\n");
  const header: string[] = [];
  const importLines: Parsed["importLines"] = [];
  const imports = new Map<string, string>();
  const blocks: Block[] = [];
  const pending: string[] = [];
  const dir = `gen/${file.slice(0, file.lastIndexOf("/") + 1)}`;
  let i = 0;
  while (i < lines.length && (lines[i].startsWith("//") || lines[i].startsWith("import * as $"))) {
    header.push(lines[i++]);
  }
  for (; i < lines.length; i++) {
    const l = lines[i];
    const imp = /^import \{ ([^}]*) \} from "([^"]+)";$/.exec(l);
    if (imp) {
      const target = genFile(dir, imp[2]);
      if (target === undefined) throw new Error(`gen/${file}: unexpected import ${l}`);
      const names = imp[1].split(",").map((s) => s.trim()).filter(Boolean);
      importLines.push({ file: target, spec: imp[2], names });
      for (const n of names) imports.set(n, `${target}#${n}`);
      continue;
    }
    if (l === "") continue;
    // A doc comment belongs to the declaration after it.
    if (l.startsWith("/*") || l.startsWith("//")) {
      const start = i;
      if (l.startsWith("/*")) { while (!lines[i].includes("*/")) i++; }
      pending.push(...lines.slice(start, i + 1));
      continue;
    }
    if (/^\s|^[}\])*]/.test(l)) {
      if (!blocks.length) throw new Error(`gen/${file}:${i + 1}: continuation before any declaration`);
      blocks[blocks.length - 1].lines.push(l);
      continue;
    }
    const decl = /^export (?:abstract )?(?:class|interface|const|type|enum|function) ([\w$]+)/.exec(l);
    const owner = decl ? decl[1] : /^([\w$]+)[.(]/.exec(l)?.[1];
    blocks.push({
      name: owner === "$" ? /\(([\w$]+)\./.exec(l)?.[1] : owner,
      declares: !!decl,
      lines: [...pending.splice(0), l],
    });
  }
  return { header, imports, importLines, blocks };
}

/** A class body's members: each starts at two spaces of indentation; deeper lines and closers belong to it. */
function members(body: string[]): string[][] {
  const out: string[][] = [];
  for (const l of body) {
    if (/^ {2}[^ }\]]/.test(l) || !out.length) out.push([l]);
    else out[out.length - 1].push(l);
  }
  return out;
}

/** The method table of an `X$Client` class, with the entries not in `keep` made `undefined`. */
function trimMethodTable(member: string[], keep: Set<number>): string[] {
  const text = member.join("\n");
  const m = /^ {2}static readonly methods: \[\n([\s\S]*?)\n? {2}\] = \[\n?([\s\S]*?)\n? {2}\];$/.exec(text);
  if (!m) {
    if (/^ {2}static readonly methods: \[\n {2}\] = \[\];$/.test(text)) return member;
    throw new Error(`unrecognised method table:\n${text.slice(0, 200)}`);
  }
  const types = m[1].split("\n").map((s) => s.trim().replace(/,$/, ""));
  const values = m[2].split(/\n {4}\},?\n?/).map((s) => s.trim()).filter(Boolean).map((s) => `${s}\n    }`);
  if (types.length !== values.length) throw new Error("method table: types and values differ in length");
  const t: string[] = [], v: string[] = [];
  values.forEach((value, i) => {
    const id = Number(/methodId: (\d+)/.exec(value)?.[1]);
    if (id !== i) throw new Error(`method table: entry ${i} has methodId ${id}`);
    const kept = keep.has(i) || keep.has(ALL);
    t.push(kept ? `    ${types[i]}` : "    undefined");
    v.push(kept ? `    ${value}` : "    undefined");
  });
  return [
    "  static readonly methods: [",
    t.join(",\n"),
    "  ] = [",
    v.join(",\n"),
    "  ];",
  ];
}

/** The block as kept: members the exporter cannot use removed. */
function trimBlock(b: Block, methodKeep: Set<number> | undefined): Block | undefined {
  const n = b.name ?? "";
  if (b.declares && (/\$Server$|\$Server\$Target$|\$Promise$/.test(n))) return undefined;
  if (!b.declares || !/^export class /.test(b.lines[0])) return b;
  const [head, ...rest] = b.lines;
  const close = rest.pop();
  const kept: string[] = [];
  for (const mem of members(rest)) {
    const first = mem[0];
    if (n.endsWith("$Client")) {
      if (/^ {2}static readonly methods:/.test(first)) kept.push(...trimMethodTable(mem, methodKeep ?? new Set()));
      else if (/^ {2}(client: |static readonly interfaceId|constructor\()/.test(first)) kept.push(...mem);
      continue;
    }
    if (/^ {2}static readonly Server = /.test(first)) continue;
    if (mem.some((l) => /getInterfaceClientOrNullAt|setInterfacePointer/.test(l))) continue;
    kept.push(...mem);
  }
  return { ...b, lines: [head, ...kept, close!] };
}

/** Identifiers a block's code refers to (string literals left out). */
function references(lines: string[]): Set<string> {
  const code = lines.join("\n").replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return new Set(code.match(/[A-Za-z_$][\w$]*/g) ?? []);
}

/**
 * Trims every generated file (gen-relative path → text) to what `uses` reaches. Returns the new
 * texts; a file nothing reaches keeps its header and file ID only.
 */
export function trim(files: Map<string, string>, uses: Uses): Map<string, string> {
  const parsed = new Map<string, Parsed>();
  for (const [f, t] of files) parsed.set(f, parse(f, t));
  const trimmed = new Map<string, Map<string, Block>>(); // file → name → trimmed block
  const statements = new Map<string, Block[]>(); // "file#owner" → statements assigning to it
  for (const [f, p] of parsed) {
    const byName = new Map<string, Block>();
    for (const b of p.blocks) {
      if (!b.name) throw new Error(`gen/${f}: a top-level statement with no owner: ${b.lines[0]}`);
      if (b.declares) {
        const t = trimBlock(b, uses.methods.get(`${f}#${b.name}`));
        if (t) byName.set(b.name, t);
      } else {
        const k = `${f}#${b.name}`;
        statements.set(k, [...statements.get(k) ?? [], b]);
      }
    }
    trimmed.set(f, byName);
  }
  const keep = new Set<string>();
  const work: string[] = [];
  const reach = (k: string) => {
    if (!keep.has(k)) keep.add(k), work.push(k);
  };
  for (const [f, names] of uses.names) {
    if (!parsed.has(f)) throw new Error(`src/ imports gen/${f}, which the schemas do not generate`);
    for (const n of names) {
      if (!trimmed.get(f)!.has(n)) throw new Error(`src/ imports ${n} from gen/${f}, which does not declare it`);
      reach(`${f}#${n}`);
    }
  }
  for (const f of parsed.keys()) if (trimmed.get(f)!.has("_capnpFileId")) reach(`${f}#_capnpFileId`);
  while (work.length) {
    const k = work.pop()!;
    const [f, n] = k.split("#");
    const p = parsed.get(f)!;
    const own = trimmed.get(f)!;
    for (const b of [own.get(n)!, ...statements.get(k) ?? []]) {
      for (const r of references(b.lines)) {
        if (r !== n && own.has(r)) reach(`${f}#${r}`);
        else if (p.imports.has(r)) reach(p.imports.get(r)!);
      }
    }
  }
  const out = new Map<string, string>();
  for (const [f, p] of parsed) {
    const own = trimmed.get(f)!;
    const body: string[] = [];
    const used = new Set<string>();
    for (const b of p.blocks) {
      if (!b.name || !keep.has(`${f}#${b.name}`)) continue;
      const t = b.declares ? own.get(b.name)! : b;
      body.push(...t.lines);
      for (const r of references(t.lines)) used.add(r);
    }
    const importLines = p.importLines.flatMap(({ spec, names }) => {
      const left = names.filter((n) => used.has(n));
      return left.length ? [`import { ${left.join(", ")} } from "${spec}";`] : [];
    });
    out.set(f, [...p.header, ...importLines, ...body, ""].join("\n"));
  }
  return out;
}
