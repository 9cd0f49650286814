/**
 * A node that sends what no node sends, or stops reading: through the real socket, with the
 * exporter as a subprocess. Each attack is named after what it protects: the exporter's CPU and
 * memory stay bounded by what it receives, /metrics keeps answering, SIGTERM is handled, the node
 * (the C++ test peer, crash mode on: a disconnect with a live subscription exits 71) survives, and a
 * node that does not read gets its socket closed with a line saying why.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc } from "./support/exporter.ts";
import {
  floodingNode,
  hex,
  OBSOLETE_SAVE,
  pointerTree,
  procStats,
  rssPeak,
  scrape,
  sharedBlob,
} from "./support/hostile.ts";
import { delay } from "../src/util/async.ts";

const MIB = 1024 * 1024;

/** Stops the exporter with SIGTERM; one that does not stop within 10 s (a blocked event loop) is killed. */
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

/**
 * Sends `frame` from the node (the peer's `garbage`) while the exporter holds both subscriptions,
 * then checks what the attack protects. `maxCpu` and `maxRssGrowth` are generous: linear work is
 * milliseconds and a few MiB; the careless reader took 29 s of CPU and 1.7 GiB.
 */
async function attackFromNode(frame: Uint8Array, bounds: { maxCpuSeconds: number; maxRssGrowthMiB: number }) {
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 0");
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  const pid = exp.child.pid;
  let code: number | undefined;
  try {
    await exp.waitLog(/connected to/);
    await exp.waitLog(/subscribed to UTXO cache trace/);
    const before = procStats(pid);
    const peak = rssPeak(pid);
    // The reply may be an error: the node can end the connection (below) before its write of the
    // frame has settled. The exporter's line says it read the frame whole.
    await peer.cmd(`garbage ${hex(frame)}`, 60_000);
    await exp.waitLog(/peer sent a obsoleteSave message, which this client does not implement/, 30_000);
    // /metrics answers at once (the old reader held the event loop for the whole copy).
    const status = await Promise.race([scrape(exp.port), delay(5000).then(() => -1)]);
    assertEquals(status, 200, "/metrics answers during the attack");
    // The node answers our Unimplemented by ending the connection (rpc.c++ aborts on any echo but a
    // Resolve's), after ending its subscriptions; the exporter reconnects and subscribes again. (Its
    // line is the node's Abort, or a write that found the socket closed first.)
    await exp.waitLog(/connection to the node lost: (peer aborted: Peer did not implement|write failed)/, 30_000);
    await peer.waitNotice(/^disconnected/, 30_000);
    await peer.waitNotice(/^subscribed utxo/, 30_000, peer.notices.lastIndexOf("disconnected"));
    const after = procStats(pid);
    const peakMiB = await peak.stop();
    const cpu = after.cpuSeconds - before.cpuSeconds;
    assert(cpu < bounds.maxCpuSeconds, `${cpu.toFixed(2)} s of CPU for ${frame.length} bytes`);
    assert(
      peakMiB - before.rssMiB < bounds.maxRssGrowthMiB,
      `RSS ${before.rssMiB.toFixed(0)} → peak ${peakMiB.toFixed(0)} MiB for ${frame.length} bytes`,
    );
    assertEquals(await scrape(exp.port), 200);
  } finally {
    code = await stopOrKill(exp);
  }
  assertEquals(code, 0, `SIGTERM handled: ${exp.lines.slice(-5).join("\n")}`);
  assertEquals(await peer.stop(), 0, `the node survived: ${peer.notices.join(" | ")}`);
  assert(!peer.notices.some((n) => n.startsWith("crash")), peer.notices.join(" | "));
}

Deno.test("a 360-byte doubling pointer tree from the node costs the exporter no more than its size", async () => {
  const frame = pointerTree(OBSOLETE_SAVE, 20);
  assert(frame.length < 400, `${frame.length} bytes`);
  await attackFromNode(frame, { maxCpuSeconds: 3, maxRssGrowthMiB: 100 });
});

Deno.test("a 1 MiB frame of 600 pointers to one blob neither balloons the exporter nor is echoed", async () => {
  await attackFromNode(sharedBlob(OBSOLETE_SAVE, 600, MIB - 64), { maxCpuSeconds: 3, maxRssGrowthMiB: 150 });
});

Deno.test("a node that floods Bootstrap and never reads: memory bounded, its socket closed, saying why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ipc-flood-" });
  const node = floodingNode(`${dir}/node.sock`);
  const exp = ExporterProc.start({ socketPath: node.path });
  const pid = exp.child.pid;
  let code: number | undefined;
  try {
    // Serving before the flood matters: the exporter connects at once, so measure from its start.
    for (let i = 0; i < 100 && await scrape(exp.port) !== 200; i++) await delay(100);
    const before = procStats(pid);
    const peak = rssPeak(pid);
    // The old exporter grew 30 MiB/s here and never closed the socket.
    const line = await exp.waitLog(/the node is not reading what we send/, 30_000);
    assertMatch(line, /MiB waiting to be written, more than the limit of 8\.0 MiB/);
    const deadline = Date.now() + 30_000;
    while (node.closed.length < 2 && Date.now() < deadline) await delay(100);
    assert(node.closed.length >= 2, `the exporter closed ${node.closed.length} of ${node.accepted} connections`);
    // Every connection but the current one is closed: no socket outlives its session.
    assert(node.accepted - node.closed.length <= 1, `${node.accepted} accepted, ${node.closed.length} closed`);
    let ok = 0;
    for (let i = 0; i < 10; i++) if (await scrape(exp.port) === 200) ok++;
    assertEquals(ok, 10, "/metrics answers during the flood");
    const peakMiB = await peak.stop();
    assert(peakMiB - before.rssMiB < 150, `RSS ${before.rssMiB.toFixed(0)} → peak ${peakMiB.toFixed(0)} MiB`);
  } finally {
    code = await stopOrKill(exp);
    // Every connection the exporter made ends with it (the flood's next write fails).
    for (let i = 0; i < 50 && node.closed.length < node.accepted; i++) await delay(100);
    await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  assertEquals(code, 0, `SIGTERM handled: ${exp.lines.slice(-5).join("\n")}`);
  assertEquals(node.closed.length, node.accepted, "no socket outlives the exporter");
});
