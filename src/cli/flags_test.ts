import { assertEquals, assertThrows } from "../../tests/support/assert.ts";
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
  ];
  for (const [args, message] of cases) {
    const e = assertThrows(() => parseFlags(args, SPECS), FlagError);
    assertEquals(e.message.startsWith(message), true, `${JSON.stringify(args)}: ${e.message}`);
    assertEquals(e.message.includes("\n"), false);
  }
});
