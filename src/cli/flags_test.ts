import { assert, assertEquals, assertThrows } from "../../tests/support/assert.ts";
// The reader flags.ts replaces, here only to check that the two agree (the exporter never loads it).
import { parseArgs } from "node:util";
import { FlagError, parseFlags } from "./flags.ts";

const SPECS = {
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "metrics-addr": { type: "string" },
  "log.level": { type: "string" },
} as const;

Deno.test("flags: values separate or after '=', switches, short alias, positionals anywhere, last value wins", () => {
  assertEquals(
    parseFlags(
      ["--metrics-addr", "0.0.0.0:1", "a.sock", "--debug", "--log.level=warn", "-h", "--log.level=info"],
      SPECS,
    ),
    { values: { "metrics-addr": "0.0.0.0:1", debug: true, help: true, "log.level": "info" }, positionals: ["a.sock"] },
  );
  // An empty value with '=', a value starting with '-' with '=', a lone '-' as a positional.
  assertEquals(parseFlags(["--log.level=", "--metrics-addr=-x", "-"], SPECS), {
    values: { "log.level": "", "metrics-addr": "-x" },
    positionals: ["-"],
  });
  // After "--" everything is positional, flags included.
  assertEquals(parseFlags(["--debug", "--", "--help", "-h", "x"], SPECS), {
    values: { debug: true },
    positionals: ["--help", "-h", "x"],
  });
  assertEquals(parseFlags([], SPECS), { values: {}, positionals: [] });
});

Deno.test("flags: every refusal is one line naming the flag", () => {
  const cases: [string[], string][] = [
    [["--bogus", "x"], "unknown flag: --bogus"],
    [["--bogus=1"], "unknown flag: --bogus"],
    [["-x"], "unknown flag: -x"],
    [["-hh"], "unknown flag: -hh"],
    [["--toString"], "unknown flag: --toString"],
    [["--metrics-addr"], "--metrics-addr requires a value"],
    [["--metrics-addr", "--debug"], '--metrics-addr requires a value, and "--debug" looks like a flag'],
    [["--debug=1"], "--debug takes no value"],
    [[`--${"x".repeat(5000)}`], `unknown flag: --${"x".repeat(78)}...`],
    // What the user typed is quoted bounded and on one line, whatever it holds.
    [["--a\nb"], "unknown flag: --a\\x0ab"],
    [
      ["--metrics-addr", "-a\nb"],
      '--metrics-addr requires a value, and "-a\\x0ab" looks like a flag: write --metrics-addr=-a\\x0ab',
    ],
    [["--metrics-addr", `-${"x".repeat(5000)}`], `--metrics-addr requires a value, and "-${"x".repeat(79)}..."`],
  ];
  for (const [args, message] of cases) {
    const e = assertThrows(() => parseFlags(args, SPECS), FlagError);
    assertEquals(e.message.startsWith(message), true, `${JSON.stringify(args)}: ${e.message}`);
    assertEquals(e.message.includes("\n"), false);
    assert(e.message.length < 300, `${e.message.length} characters`); // each argument quoted at most 80 characters
  }
});

Deno.test("flags: the same values, positionals and refusals as node:util's parseArgs (strict), which this replaces", () => {
  const lines: string[][] = [
    [],
    ["--metrics-addr", "x"],
    ["--metrics-addr=x"],
    ["--metrics-addr="],
    ["--metrics-addr", ""],
    ["--metrics-addr", "-x"],
    ["--metrics-addr", "--debug"],
    ["--metrics-addr", "-"],
    ["--metrics-addr", "--"],
    ["--metrics-addr", "-5"],
    ["--metrics-addr=-x"],
    ["--metrics-addr"],
    ["--debug", "--metrics-addr"],
    ["--metrics-addr", "a", "--metrics-addr", "b"],
    ["--metrics-addr", " -x"],
    ["--metrics-addr", "a=b"],
    ["--metrics-addr=a=b"],
    ["--debug", "--debug"],
    ["--debug=true"],
    ["--debug="],
    ["--no-debug"],
    ["--bogus"],
    ["--bogus=1"],
    ["-h"],
    ["-h", "x"],
    ["-hx"],
    ["-x"],
    ["-h=1"],
    ["-"],
    [""],
    ["--", "--debug", "-h"],
    ["a", "--", "--"],
    ["--"],
    ["a", "--debug", "b"],
    ["--constructor"],
    ["--__proto__"],
    ["---debug"],
    ["--=x"],
    ["--DEBUG"],
    ["-- x"],
    ["--debug x"],
    ["--help", "--bogus"],
    ["--log.level", "warn", "s.sock", "--log.level=info", "-h"],
  ];
  const read = (f: () => { values: object; positionals: string[] }) => {
    try {
      const r = f();
      return { values: { ...r.values }, positionals: r.positionals };
    } catch {
      return "refused";
    }
  };
  for (const args of lines) {
    assertEquals(
      read(() => parseFlags(args, SPECS)),
      read(() => parseArgs({ args, options: SPECS, strict: true, allowPositionals: true })),
      JSON.stringify(args),
    );
  }
  // The one difference: grouped short aliases (parseArgs reads -hh as -h -h); the exporter has one alias.
  assertEquals(read(() => parseArgs({ args: ["-hh"], options: SPECS, strict: true, allowPositionals: true })), {
    values: { help: true },
    positionals: [],
  });
  assertEquals(read(() => parseFlags(["-hh"], SPECS)), "refused");
});
