/**
 * A bare exporter: the least a Deno exporter of this shape runs, for bench/mem.ts's breakdown. It answers
 * every 64-byte frame on a Unix socket with a 16-byte write (as callbacks are answered) and serves a
 * fixed ~24 kB body to every HTTP request (as scrapes are), on Deno's own ops and a timer. No Cap'n
 * Proto, no metrics, no exporter code: what it costs is Deno's share of the exporter's footprint.
 *
 *   deno run --allow-net --allow-read=SOCKET --allow-write=SOCKET bench/bare_exporter.ts SOCKET PORT
 *
 * When the socket closes: prints the number of frames answered and its heap (Deno.memoryUsage()) as
 * one line of JSON, and exits.
 */
const [socketPath, port] = Deno.args;
const FRAME = 64;
const body = new TextEncoder().encode("bare_sample 1\n".repeat(1600));
const head = new TextEncoder().encode(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);

async function writeAll(w: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let at = 0; at < b.length;) at += await w.write(b.subarray(at));
}

async function serveHttp(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  try {
    // One answer per read: the bench's client sends one small request and waits for the answer.
    while (await conn.read(buf) !== null) {
      await writeAll(conn, head);
      await writeAll(conn, body);
    }
  } catch {
    // the client went away
  } finally {
    conn.close();
  }
}

async function answerFrames(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(65536);
  const view = new DataView(buf.buffer);
  const answer = new Uint8Array(16);
  const answerView = new DataView(answer.buffer);
  let have = 0;
  let answered = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) return answered;
    have += n;
    let at = 0;
    for (; have - at >= FRAME; at += FRAME) {
      answerView.setUint32(0, view.getUint32(at + 4, true), true); // a word of the frame, as a decoder reads one
      await writeAll(conn, answer);
      answered++;
    }
    buf.copyWithin(0, at, have);
    have -= at;
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(port) });
(async () => {
  for await (const c of listener) serveHttp(c);
})();
const keepAlive = setInterval(() => {}, 1000);
const conn = await Deno.connect({ transport: "unix", path: socketPath });
const answered = await answerFrames(conn);
console.log(JSON.stringify({ answered, ...Deno.memoryUsage() }));
clearInterval(keepAlive);
listener.close();
