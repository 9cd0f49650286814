/**
 * Extracts the JSON-RPC answers a real stock Bitcoin Core master node gave over IPC
 * (tests/fixtures/stock-master-regtest/frames, see tests/fixtures/README.md) into files the C++
 * test peer answers from (`--rpc-fixtures DIR`, see tests/peer/README.md):
 *
 * - `rpc/<method>.json`: for every single (non-batch) `Rpc.executeRpc` request the node answered
 *   with a result, the exact raw `result` JSON text as the node wrote it: the substring of its
 *   response text between `"result":` and the final `,"id":`. Kept as text, never re-serialised,
 *   so number formatting, key order and escapes stay the node's own.
 * - `rpc/malformed.exchange.json`: the one request the node could not parse as a JSON-RPC call,
 *   as `{"request": <request text>, "response": <the node's full response text>}`, so the peer
 *   answers exactly that request as the node did.
 *
 * How: every frame is decoded as an rpc.capnp Message; each client Call on the Rpc interface
 * (method 0, executeRpc) is paired with the node's next Return whose answerId is the Call's
 * questionId (question IDs are reused once answered, so pairing follows the frame order),
 * and both payloads are read with the generated gen/rpc.ts structs. The two-request batch is
 * not written out: its methods (getblockcount, getbestblockhash) are ones the peer computes from
 * its own chain model.
 *
 * Idempotent: rerunning rewrites the same files with the same bytes (it reports which changed);
 * it refuses, rather than guesses, when the capture does not look as expected (a method answered
 * twice with different results, a response not in JSON-RPC reply shape).
 *
 * Usage: deno run --allow-read --allow-write tools/extract_rpc_fixtures.ts [FIXTURE_DIR]
 * (FIXTURE_DIR defaults to tests/fixtures/stock-master-regtest).
 */
import * as $ from "capnp-es";
import { Message as RpcMessage, Message_Which, Return_Which } from "capnp-es/capnp/rpc";
import { FrameDecoder } from "../src/ipc/framing.ts";
import { Rpc$Client, Rpc_ExecuteRpc$Params, Rpc_ExecuteRpc$Results } from "../gen/rpc.ts";

const root = new URL("../", import.meta.url);
const fixtureDir = Deno.args[0]
  ? new URL(Deno.args[0].replace(/\/?$/, "/"), `file://${Deno.cwd()}/`)
  : new URL("tests/fixtures/stock-master-regtest/", root);

interface Exchange {
  request: string;
  uri: string;
  user: string;
  response?: string;
  frame: string;
}

function decodeFrame(bytes: Uint8Array, name: string): RpcMessage {
  const frames: Uint8Array[] = [];
  new FrameDecoder().push(bytes, (f) => frames.push(f.slice()));
  if (frames.length !== 1) throw new Error(`${name}: expected exactly one framed message, found ${frames.length}`);
  return new $.Message(frames[0], false).getRoot(RpcMessage);
}

/** Every executeRpc Call paired with its Return, in the order the client sent them. */
async function exchanges(): Promise<Exchange[]> {
  const framesDir = new URL("frames/", fixtureDir);
  const names = [...Deno.readDirSync(framesDir)].map((e) => e.name).filter((n) => n.endsWith(".bin")).sort();
  const byQuestion = new Map<number, Exchange>();
  const ordered: Exchange[] = [];
  for (const name of names) {
    const msg = decodeFrame(await Deno.readFile(new URL(name, framesDir)), name);
    if (name.endsWith("-to-node.bin") && msg.which() === Message_Which.CALL) {
      const call = msg.call;
      if (call.interfaceId !== Rpc$Client.interfaceId || call.methodId !== 0) continue;
      const p = $.utils.getStruct(0, Rpc_ExecuteRpc$Params, call.params);
      const ex: Exchange = { request: p.request, uri: p.uri, user: p.user, frame: name };
      // Question IDs are reused once a question is finished, so only an unanswered one may clash.
      if (byQuestion.has(call.questionId)) throw new Error(`${name}: question ${call.questionId} still open`);
      byQuestion.set(call.questionId, ex);
      ordered.push(ex);
    } else if (name.endsWith("-from-node.bin") && msg.which() === Message_Which.RETURN) {
      const ret = msg.return;
      const ex = byQuestion.get(ret.answerId);
      if (!ex) continue; // the Return of some other call
      if (ret.which() !== Return_Which.RESULTS) {
        throw new Error(`${name}: executeRpc from ${ex.frame} did not return results`);
      }
      ex.response = $.utils.getStruct(0, Rpc_ExecuteRpc$Results, ret.results).result;
      byQuestion.delete(ret.answerId);
    }
  }
  for (const ex of ordered) if (ex.response === undefined) throw new Error(`${ex.frame}: no Return found`);
  return ordered;
}

/**
 * The raw `result` text of a single JSON-RPC reply: between `"result":` and the final `,"id":`.
 * Bitcoin Core writes a reply as {"jsonrpc":"2.0","result":R,"id":ID} (compact, in that key order),
 * so both markers are unambiguous at those ends; the parse check proves the cut.
 */
function rawResult(response: string, id: unknown): string | undefined {
  const head = '{"jsonrpc":"2.0","result":';
  const tail = `,"id":${JSON.stringify(id)}}`;
  if (!response.startsWith(head) || !response.endsWith(tail)) return undefined;
  const raw = response.slice(head.length, response.length - tail.length);
  const whole = JSON.parse(response);
  if (JSON.stringify(JSON.parse(raw)) !== JSON.stringify(whole.result)) {
    throw new Error(`cutting the result out of the ${id} reply did not give its result`);
  }
  return raw;
}

async function writeIfChanged(url: URL, text: string, changed: string[]): Promise<void> {
  const old = await Deno.readTextFile(url).catch(() => undefined);
  if (old === text) return;
  await Deno.writeTextFile(url, text);
  changed.push(url.pathname.slice(new URL(".", fixtureDir).pathname.length));
}

async function main(): Promise<void> {
  const outDir = new URL("rpc/", fixtureDir);
  await Deno.mkdir(outDir, { recursive: true });
  const results = new Map<string, string>();
  let malformed: Exchange | undefined;
  let batches = 0;
  for (const ex of await exchanges()) {
    let req: unknown;
    try {
      req = JSON.parse(ex.request);
    } catch {
      req = undefined;
    }
    if (Array.isArray(req)) {
      batches++;
      continue;
    }
    const method = (req as { method?: unknown } | undefined)?.method;
    if (typeof method !== "string") {
      if (malformed) throw new Error(`${ex.frame}: a second malformed request; expected one`);
      malformed = ex;
      continue;
    }
    if (!/^[a-z0-9_]+$/.test(method)) throw new Error(`${ex.frame}: unexpected method name ${method}`);
    const raw = rawResult(ex.response!, (req as { id?: unknown }).id);
    if (raw === undefined) throw new Error(`${ex.frame}: ${method}'s response is not a JSON-RPC 2.0 result`);
    const seen = results.get(method);
    if (seen !== undefined && seen !== raw) throw new Error(`${ex.frame}: ${method} answered twice, differently`);
    results.set(method, raw);
  }
  if (!malformed) throw new Error("no malformed request found in the capture");
  const changed: string[] = [];
  for (const [method, raw] of [...results].sort()) {
    await writeIfChanged(new URL(`${method}.json`, outDir), raw, changed);
  }
  const exchange = JSON.stringify({ request: malformed.request, response: malformed.response }, null, 1) + "\n";
  await writeIfChanged(new URL("malformed.exchange.json", outDir), exchange, changed);
  console.log(
    `${results.size} results, 1 malformed exchange, ${batches} batch(es) skipped; ` +
      (changed.length ? `written: ${changed.join(", ")}` : "all files already up to date"),
  );
}

await main();
