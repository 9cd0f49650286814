/**
 * An HttpServer run by tests/http_hostile_test.ts in a child process whose descriptor limit is
 * lowered (ulimit -n), so that accept() fails with EMFILE. Prints `{"port":N}`, then answers each
 * line on stdin: `stats` with a JSON line of its counters and reports, `stop` by shutting down.
 */
import { HttpServer } from "../../src/http/server.ts";

// Deno sets up signal handling on first use and panics if it cannot get a descriptor for it then:
// set it up now, while there are descriptors (the exporter does the same, listening for SIGTERM).
const onTerm = () => {};
Deno.addSignalListener("SIGTERM", onTerm);

const errors: string[] = [];
const server = new HttpServer({
  hostname: "127.0.0.1",
  port: 0,
  maxConnections: 10_000, // the descriptor limit, not the cap, is what runs out
  acceptBackoffMinMs: 10,
  acceptBackoffMaxMs: 200,
  handler: () => new Response("ok\n"),
  onError: (m) => errors.push(m),
});
console.log(JSON.stringify({ port: server.addr.port }));

let buf = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const cmd = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (cmd === "stats") {
      console.log(
        JSON.stringify({ acceptFailures: server.stats?.acceptFailures, errors: errors.length, first: errors[0] }),
      );
    } else if (cmd === "stop") {
      await server.shutdown();
      Deno.removeSignalListener("SIGTERM", onTerm);
      Deno.exit(0);
    }
  }
}
await server.shutdown();
