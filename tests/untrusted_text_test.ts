/**
 * What the node sends ends up in logs: a transaction under --debug, an exception or abort reason,
 * messages we do not expect. End to end against the C++ peer, with the exporter as a subprocess:
 * whatever the bytes, parsing them is bounded, the exporter keeps answering /metrics, and every
 * log line stays bounded in length and in rate.
 */
import * as $ from "capnp-es";
import { Message as RpcMessage } from "capnp-es/capnp/rpc";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { DEFAULT_LOG_LIMITS } from "../src/log.ts";

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const utf8 = (s: string) => new TextEncoder().encode(s).length;

/** Capnp RPC messages, framed as on the socket, for the peer's `garbage` command. */
function frames(count: number, fill: (root: RpcMessage, i: number) => void): string {
  let hex = "";
  for (let i = 0; i < count; i++) {
    const m = new $.Message();
    fill(m.initRoot(RpcMessage), i);
    hex += toHex(new Uint8Array(m.toArrayBuffer()));
  }
  return hex;
}

/** Stops the exporter; one that does not stop on SIGTERM (a blocked event loop) is killed. */
async function stopOrKill(exp: ExporterProc): Promise<number> {
  try {
    exp.child.kill("SIGTERM");
  } catch { /* already gone */ }
  const kill = setTimeout(() => {
    try {
      exp.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  try {
    return await exp.exitCode();
  } finally {
    clearTimeout(kill);
  }
}

// 19 bytes: version, the segwit marker and flag, then an input count of 2^64-1, then a lock time.
const NINETEEN = "01000000" + "0001" + "ffffffffffffffffff" + "00000000";
// A real transaction with a witness (the genesis coinbase, given one): its txid is the genesis one.
const GENESIS_BODY = "010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d01" +
  "04455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64" +
  "206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a8" +
  "28e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac";
const SEGWIT = "01000000" + "0001" + GENESIS_BODY + "01" + "0151" + "00000000";

Deno.test("--debug: a 19-byte malformed transaction is logged with txid=?, and /metrics keeps answering", async () => {
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 0");
  const exp = ExporterProc.start({ socketPath: peer.socketPath, args: ["--debug"] });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    // The peer answers `fire` once the exporter has answered the callback: a parser that loops
    // never answers (and the node's notification thread waits on it).
    await peer.ok(`fire txAdded ${NINETEEN}`);
    await peer.ok(`fire txRemoved ${NINETEEN} 0`);
    await peer.ok(`fire txAdded ${SEGWIT}`);
    await peer.ok(`fire txAdded ${"ff".repeat(100_000)}`);
    const m = samples(await exp.scrape());
    assertEquals([m.get("bitcoin_up"), m.get("bitcoin_mempool_tx_added_total")], ["1", "3"]);
    await exp.waitLog(/mempool tx added txid=\? size=100000/);
    assert(exp.lines.some((l) => l.endsWith("DEBUG mempool tx added txid=? size=19")), exp.lines.join("\n"));
    assert(exp.lines.some((l) => l.endsWith("DEBUG mempool tx removed (expiry) txid=? size=19")));
    assert(
      exp.lines.some((l) =>
        l.includes("mempool tx added txid=4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b size=")
      ),
    );
  } finally {
    assertEquals(await stopOrKill(exp), 0, exp.lines.join("\n").slice(-4000));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("a 1 MiB abort reason from the node is logged as one line of at most 2 KiB", async () => {
  // A stock v31 node: the exporter holds no subscription, so the abort's disconnect is harmless.
  const peer = await TestPeer.start({ flavour: "v31" });
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to/);
    const reason = `stack overflow\n${"A".repeat(1 << 20)}`;
    await peer.ok(`garbage ${frames(1, (root) => root._initAbort().reason = reason)}`, 30_000);
    const line = await exp.waitLog(/peer aborted/);
    assert(utf8(line) <= DEFAULT_LOG_LIMITS.maxLineBytes, `${utf8(line)} bytes`);
    assertMatch(line, /peer aborted: stack overflow\\nAAAA+… \[truncated \d+ chars\]$/);
    assert(exp.lines.every((l) => utf8(l) <= DEFAULT_LOG_LIMITS.maxLineBytes));
    // It reconnects and serves as before.
    await peer.waitStatus((s) => s.connected === "1");
    assertStringIncludes(await exp.scrape(), "bitcoin_up");
  } finally {
    assertEquals(await stopOrKill(exp), 0);
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("20000 Release messages for exports we never had: bounded WARN lines, one count for the rest", async () => {
  const n = 20_000;
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 0");
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    await peer.ok(
      `garbage ${
        frames(n, (root, i) => {
          const r = root._initRelease();
          r.id = 100_000 + i;
          r.referenceCount = 1;
        })
      }`,
      30_000,
    );
    // The callback's answer comes after the Releases on the same stream: all of them were read.
    await peer.ok(`fire blockConnected 300 ${"66".repeat(32)} 0`);
    assertEquals(samples(await exp.scrape()).get("bitcoin_blocks_connected_total"), "1");
  } finally {
    assertEquals(await stopOrKill(exp), 0);
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
  // Lines written plus the summaries' counts (written at the window's end or at exit) are every one.
  const written = exp.lines.filter((l) => /WARN {2}ipc: peer released unknown export \d+$/.test(l)).length;
  const suppressed = exp.lines.map((l) =>
    /suppressed (\d+) similar lines like "ipc: peer released unknown export #"/.exec(l)
  )
    .reduce((sum, m) => sum + (m ? Number(m[1]) : 0), 0);
  assertEquals(written + suppressed, n, exp.lines.slice(-5).join("\n"));
  assert(written <= 3 * DEFAULT_LOG_LIMITS.perKind.other, `${written} lines written`);
});
