import { assert, assertEquals, assertStringIncludes } from "../../tests/support/assert.ts";
import { HttpServer } from "./server.ts";

function start(overrides: Partial<ConstructorParameters<typeof HttpServer>[0]> = {}) {
  return new HttpServer({
    hostname: "127.0.0.1",
    port: 0,
    handler: (req) => new Response(`${req.method} ${new URL(req.url).pathname}\n`),
    ...overrides,
  });
}

async function raw(port: number, request: string): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new TextEncoder().encode(request));
  let out = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await c.read(buf);
    if (n === null) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  c.close();
  return out;
}

Deno.test("keep-alive: several requests on one connection, HEAD has no body", async () => {
  const s = start();
  try {
    const out = await raw(
      s.addr.port,
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c?q=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const responses = out.split("HTTP/1.1 ").slice(1);
    assertEquals(responses.length, 3, out);
    assertStringIncludes(responses[0], "GET /a");
    assert(!responses[1].includes("HEAD /b"), "HEAD body omitted");
    assertStringIncludes(responses[1], "Content-Length: 8");
    assertStringIncludes(responses[2], "GET /c");
  } finally {
    await s.shutdown();
  }
});

Deno.test("slowloris: a request head not finished in time is answered 408 and closed", async () => {
  const s = start({ headerTimeoutMs: 300 });
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
    await c.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    const buf = new Uint8Array(1024);
    const n = await c.read(buf);
    assert(n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("HTTP/1.1 408"));
    assertEquals(await c.read(buf), null, "closed after 408");
    c.close();
    // A connection that never sends anything is closed silently.
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
    assertEquals(await idle.read(buf), null);
    idle.close();
  } finally {
    await s.shutdown();
  }
});

Deno.test("bounded: connection limit, head size, bodies, malformed requests", async () => {
  // Two requests parked in the handler hold both slots: nothing can be evicted, so a third gets 503.
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const s = start({
    maxConnections: 2,
    handler: async (req) => {
      if (new URL(req.url).pathname === "/park") await gate;
      return new Response(`${req.method} ${new URL(req.url).pathname}\n`);
    },
  });
  try {
    const parked = [
      raw(s.addr.port, "GET /park HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      raw(s.addr.port, "GET /park HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ];
    while (s.connections < 2) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    assertStringIncludes(await raw(s.addr.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "HTTP/1.1 503");
    release();
    for (const p of parked) assertStringIncludes(await p, "GET /park");
    assertStringIncludes(
      await raw(s.addr.port, `GET /${"a".repeat(10000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      "HTTP/1.1 431",
    );
    assertStringIncludes(
      await raw(s.addr.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n"),
      "HTTP/1.1 413",
    );
    assertStringIncludes(
      await raw(s.addr.port, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
      "POST /x",
    );
    assertStringIncludes(await raw(s.addr.port, "NONSENSE\r\n\r\n"), "HTTP/1.1 400");
    assertStringIncludes(await raw(s.addr.port, "GET / HTTP/2.0\r\nHost: x\r\n\r\n"), "HTTP/1.1 505");
    assertStringIncludes(
      await raw(s.addr.port, "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
      "HTTP/1.1 501",
    );
  } finally {
    release();
    await s.shutdown();
  }
});

Deno.test("a failing handler is a 500, the server keeps serving, and the failure is reported at a bounded rate", async () => {
  const errors: string[] = [];
  const s = start({
    handler: () => {
      throw new Error("boom");
    },
    onError: (m) => errors.push(m),
  });
  try {
    for (let i = 0; i < 3; i++) {
      assertStringIncludes(
        await raw(s.addr.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        "HTTP/1.1 500",
      );
    }
    assertEquals(errors, ["handler failed: boom"], "one report per interval (10 s by default)");
  } finally {
    await s.shutdown();
  }
});

Deno.test("Reply: written as given, a HEAD gets its length only, a shared body is answered whole to every request", async () => {
  const body = new TextEncoder().encode("shared bytes\n");
  let reads = 0;
  const s = start({
    handler: (req) => {
      reads++;
      return {
        status: 200,
        headers: [["Content-Type", "text/plain"], ["Content-Length", "999"], ["X-Req", req.headers.get("x-a") ?? "-"]],
        body,
        shared: true,
      };
    },
  });
  try {
    const out = await raw(
      s.addr.port,
      "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n" +
        "GET /b HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\n\r\n" +
        "HEAD /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const responses = out.split("HTTP/1.1 ").slice(1);
    assertEquals(responses.length, 3, out);
    // The handler's Content-Length is dropped for the server's own; repeated fields read joined.
    const first = "200 OK\r\ncontent-type: text/plain\r\nx-req: 1, 2\r\nContent-Length: 13\r\n\r\nshared bytes\n";
    assertEquals(responses[0], first);
    assertEquals(responses[1], first, "the kept whole response, the head being the same");
    assertEquals(
      responses[2],
      "200 OK\r\ncontent-type: text/plain\r\nx-req: -\r\nContent-Length: 13\r\nConnection: close\r\n\r\n",
    );
    assertEquals(reads, 3);
  } finally {
    await s.shutdown();
  }
});
