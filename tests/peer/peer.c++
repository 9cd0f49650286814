// bitcoind-ipc-test-peer: plays Bitcoin Core's bitcoin-node on a Unix socket, built on the reference
// C++ Cap'n Proto library, so the TypeScript client is tested against an independent implementation
// of the wire protocol. It plays the multiprocess branches (pr/trace, pr-ipc), the multiprocess work
// rebased over stock makeRpc @4 (chain5-node: bitcoin/bitcoin#10102, chain5: #29409) and the stock
// releases (v30, v31, master/v32), each answering every Init ordinal the way that node does.
// Scripted through stdin; see README.md.
//
// Where a client can tell the difference, it behaves like libmultiprocess: calls must carry a
// Context.thread that is one of our Threads ("invalid thread handle" otherwise); two calls at once
// on one Thread are refused ("thread busy", as libmultiprocess before it queued them), and a call
// holds its Thread for as long as it runs (a Mining.waitTipChanged long-poll included); callbacks
// carry a Context whose thread is made through the client's ThreadMap (a pipelined promise, so the
// client sees senderPromise + Resolve; a broken one when the client gave no ThreadMap). And it dies
// where the real node dies: a client closing the socket with a subscription live (exit 71), a client
// answering a callback with an exception (exit 70), a client calling Init.makeWalletLoader (exit 73:
// the node would set up a wallet for a Chain the client never gave it). On stock master,
// Rpc.executeRpc answers JSON-RPC
// the way Bitcoin Core's ExecuteHTTPRPC does (src/httprpc.cpp, src/rpc/request.cpp).

#include <capnp/any.h>
#include <capnp/capability.h>
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/debug.h>

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "chain.capnp.h"
#include "echo.capnp.h"
#include "handler.capnp.h"
#include "init.capnp.h"
#include "mining.capnp.h"
#include "mp/proxy.capnp.h"
#include "node.capnp.h"
#include "rpc.capnp.h"
#include "tracing.capnp.h"

namespace {

using Clock = std::chrono::steady_clock;

void say(const std::string& line) {
  fputs(line.c_str(), stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

kj::Array<capnp::byte> fromHex(const std::string& hex) {
  if (hex.size() % 2) throw std::invalid_argument("odd-length hex");
  auto out = kj::heapArray<capnp::byte>(hex.size() / 2);
  for (size_t i = 0; i < out.size(); i++) out[i] = (capnp::byte)std::stoul(hex.substr(2 * i, 2), nullptr, 16);
  return out;
}

// A 32-byte hash as Bitcoin Core displays it (uint256::GetHex): the wire bytes reversed, lowercase.
std::string displayHex(kj::ArrayPtr<const capnp::byte> wire) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = wire.size(); i-- > 0;) {
    out += digits[wire[i] >> 4];
    out += digits[wire[i] & 15];
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = (char)tolower((unsigned char)ch);
  return s;
}

bool isHex(const std::string& s) {
  return !s.empty() && s.size() % 2 == 0 &&
         std::all_of(s.begin(), s.end(), [](char ch) { return isxdigit((unsigned char)ch) != 0; });
}

std::string fmt(double v) {
  char b[64];
  snprintf(b, sizeof b, "%.2f", v);
  return b;
}

std::string statsLine(std::vector<double> us, double totalSeconds) {
  if (us.empty()) return "ok n=0";
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  auto pct = [&](double p) { return us[std::min(us.size() - 1, (size_t)(us.size() * p))]; };
  return "ok n=" + std::to_string(us.size()) + " mean_us=" + fmt(sum / us.size()) + " p50_us=" + fmt(pct(0.5)) +
         " p99_us=" + fmt(pct(0.99)) + " p999_us=" + fmt(pct(0.999)) + " max_us=" + fmt(us.back()) +
         " calls_per_s=" + fmt(us.size() / totalSeconds);
}

// ---- state shared by the node side ----

struct Values {
  kj::Maybe<int32_t> height = int32_t(105);
  bool ibd = false;
  kj::Maybe<int32_t> headerTip = int32_t(105);
  int64_t headerTime = 1700000000;
  double progress = 1.0;
  uint64_t mempoolSize = 0, mempoolDynamicUsage = 0, mempoolMaxUsage = 300000000, nodeCount = 0;
  int64_t bytesRecv = 0, bytesSent = 0;
  int32_t numBlocks = 105;
  // The active tip. By default the tip of the recorded stock master node
  // (tests/fixtures/stock-master-regtest), so what the peer computes (getbestblockhash, Mining.getTip)
  // agrees with the recorded answers it replays (getblockchaininfo, getchaintips).
  int32_t tipHeight = 105;
  std::string tipHash = "6c263fa7fb45f4b6e2d98f614aaefc6d23458b6aba2bcb99f61ec32f033f646a";
};

// ---- Node/Chain getters of the multiprocess branches (scrape-time reads, issue 12) ----
//
// Defaults are the recorded pr/trace regtest node's answers (tests/fixtures/pr-trace-regtest:
// getNodesStats before its peer connected, getBanned, getNetworkActive, estimateSmartFee(6),
// mempoolMinFee, relayMinFee, havePruned, getLastBlockTime); what it did not record is Bitcoin
// Core's default (-incrementalrelayfee 100 sat/kvB, -dustrelayfee 3000 sat/kvB, no warnings).

// A group of identical peers `set peers` appended: Core's enum values as they go on the wire
// (Network, ConnectionType, TransportProtocolType), any number accepted so a test can send ones
// the client does not know.
struct PeerGroup {
  size_t count;
  bool inbound;
  int32_t network;
  int32_t connType;
  uint8_t transport;
  // Peer quality (optional words after the transport): the minimum ping in microseconds, as
  // CNodeStats::m_min_ping_time (microseconds::max() before the first pong), and BIP152 flags.
  int64_t minPingUs = INT64_MAX;
  bool hbTo = false;
  bool hbFrom = false;
};

// A CFeeRate as Core serializes it since v30 (its FeeFrac: fee Int64 LE, size Int32 LE).
struct FeeRate {
  int64_t fee;
  int32_t size;
};
inline FeeRate perKvB(int64_t satPerKvB) { return FeeRate{satPerKvB, 1000}; }

struct BranchValues {
  std::vector<PeerGroup> peers;  // recorded: none connected yet
  bool nodesStatsResult = true;
  size_t banned = 0;                    // entries of the generated ban list
  kj::Maybe<std::string> banmapRaw;     // `set banmap`: Banmap.json verbatim instead
  bool bannedResult = true;
  bool networkActive = true;
  std::map<int32_t, FeeRate> feeEstimates;  // by target; absent: no estimate (recorded: 0 per 1000 vB)
  FeeRate mempoolMinFee = perKvB(0), relayMinFee = perKvB(100), relayIncrementalFee = perKvB(100),
          relayDustFee = perKvB(3000);
  bool pruned = false;
  kj::Maybe<int32_t> pruneHeight;
  std::string warnings;  // BilingualStr.original (messages joined by "<hr />")
  int64_t lastBlockTime = 1795482928;
  size_t netLocalAddresses = 0;
  // The last estimateSmartFee's parameters as decoded, for `status` (fee_estimate_last=).
  kj::Maybe<std::string> lastFeeEstimate;
};

kj::Array<capnp::byte> serialize(FeeRate r) {
  auto out = kj::heapArray<capnp::byte>(12);
  for (int i = 0; i < 8; i++) out[i] = (capnp::byte)((uint64_t)r.fee >> (8 * i));
  for (int i = 0; i < 4; i++) out[8 + i] = (capnp::byte)((uint32_t)r.size >> (8 * i));
  return out;
}

// What the node knows of a block (its block index, reduced to what the tests need).
struct BlockEntry {
  int32_t height;
  std::string prev;  // display hex; empty when unknown
  int64_t time = -1;  // header time (`set tips`); -1 when unknown
};

// How a waitTipChanged wait ended.
enum class WaitEnd { Changed, Timeout, Interrupted };

struct TipWaiter {
  std::string currentTip;  // display hex the client passed
  uint64_t mining;         // which Mining object it waits on (Mining.interrupt is per object)
  kj::Own<kj::PromiseFulfiller<WaitEnd>> done;
};

// A JSON-RPC method answer set over the control channel.
struct RpcOverride {
  bool isError = false;
  std::string raw;  // result JSON text, written as given
  int code = 0;
  std::string message;
};

struct Peer;
Peer* g_peer = nullptr;

class ThreadImpl final : public Thread::Server {
 public:
  explicit ThreadImpl(std::string name) : name(kj::mv(name)) {}
  kj::Promise<void> getName(GetNameContext c) override {
    c.getResults().setResult(name);
    return kj::READY_NOW;
  }
  std::string name;
  bool busy = false;
};

enum class SubKind { Notifications, Utxo };

struct Subscription {
  SubKind kind;
  bool live = true;
  kj::Maybe<ChainNotifications::Client> notifications;
  kj::Maybe<UtxoCacheTrace::Client> utxo;
};

struct Peer {
  kj::AsyncIoContext& io;
  std::string socketPath;
  bool noCrash;
  // "branch" (pr/trace: Chain, Node, Tracing), "branch-notrace" (pr/trace's base: the same without
  // Tracing), "pr-ipc" (the branch pr/ipc of 2024: Node @2, Chain @3, their own ordinals; see
  // kPrIpcChainToTrace), "chain5-node" (rebased over
  // makeRpc: Rpc @4, Chain @5, Node @6, makeWalletLoader @7), "chain5" (the same without Node and
  // the wallet), "v30" (stock v30.x: Echo and Mining at @2), "v31" (stock v31.x: Mining at @3),
  // "master" (stock master / v32: v31 plus makeRpc at @4, the ordinal the branches use for
  // makeChain). See InitImpl::dispatchCall.
  std::string flavour = "branch";
  Values v;
  BranchValues b;
  std::set<std::string> throwing, stalled;
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> stallWaiters;
  std::map<std::string, int> calls;
  int nodeCountFlags = -1;
  int handlerDisconnects = 0;
  capnp::CapabilityServerSet<Thread> threadSet;
  int threads = 0;
  bool clientThreadMapGiven = false;
  kj::Maybe<ThreadMap::Client> clientThreadMap;
  kj::Maybe<Thread::Client> callbackThread;
  std::vector<kj::Own<Subscription>> subs;
  // Chain model: every block `set tip` named (display hex -> height, prev); the active chain is the
  // walk back from the tip through prev links.
  std::map<std::string, BlockEntry> blocks;
  std::map<uint64_t, TipWaiter> tipWaiters;
  uint64_t nextWaiterId = 0, nextMiningId = 0;
  // BlockTemplates made by createNewBlock and not yet destroyed (or released) by the client.
  int64_t templatesLive = 0;
  kj::Maybe<double> lastWaitTimeoutMs;
  // JSON-RPC over IPC (stock master).
  std::string rpcFixturesDir;
  std::map<std::string, std::string> rpcExchanges;  // recorded request text -> the node's response
  std::map<std::string, RpcOverride> rpcOverrides;
  kj::Maybe<std::string> rpcLastUri, rpcLastUser;
  // connection
  struct Conn;
  kj::Own<Conn> conn;
  kj::Own<kj::ConnectionReceiver> listener;
  kj::TaskSet* tasks = nullptr;

  Peer(kj::AsyncIoContext& io, std::string path, bool noCrash) : io(io), socketPath(kj::mv(path)), noCrash(noCrash) {
    blocks[v.tipHash] = BlockEntry{v.tipHeight, ""};
  }

  void hazard(const std::string& what, int code) {
    if (noCrash) {
      say("! hazard " + what);
      return;
    }
    say("! crash " + what);
    _exit(code);
  }

  // What `throw <method>` makes the method answer. Built directly (not with KJ_EXCEPTION, which would
  // prefix the expression's source text) so the client sees exactly "test peer: <method> failed".
  static kj::Exception scriptedFailure(const std::string& method) {
    return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str("test peer: ", method.c_str(), " failed"));
  }

  kj::Promise<void> gate(const std::string& method) {
    if (!stalled.count(method)) return kj::READY_NOW;
    auto pf = kj::newPromiseAndFulfiller<void>();
    stallWaiters.push_back(kj::mv(pf.fulfiller));
    return kj::mv(pf.promise);
  }

  // `stall rpc.<method>`: an executeRpc whose JSON-RPC request names that method (alone or in a batch) is
  // held as `stall <method>` holds a call, until `stall none`.
  kj::Promise<void> gateRpc(const std::string& request) {
    for (const auto& s : stalled) {
      if (s.rfind("rpc.", 0) != 0) continue;
      if (request.find("\"method\":\"" + s.substr(4) + "\"") == std::string::npos) continue;
      auto pf = kj::newPromiseAndFulfiller<void>();
      stallWaiters.push_back(kj::mv(pf.fulfiller));
      return kj::mv(pf.promise);
    }
    return kj::READY_NOW;
  }

  void unstall() {
    stalled.clear();
    for (auto& f : stallWaiters) f->fulfill();
    stallWaiters.clear();
  }

  int live(SubKind k) {
    int n = 0;
    for (auto& s : subs) n += s->live && s->kind == k;
    return n;
  }

  bool anyLive() { return live(SubKind::Notifications) + live(SubKind::Utxo) > 0; }

  // Ends a subscription the way the node does when its Handler is disconnected or destroyed: the
  // client's callback object gets `destroy`, then our reference to it is dropped (a Release).
  void endSubscription(Subscription& s, bool connectionUp);

  // Runs `body` as a call on the Thread named by `ctx`, with libmultiprocess's checks.
  template <typename F>
  kj::Promise<void> onThread(Context::Reader ctx, const std::string& method, F body) {
    return onThreadAsync(ctx, method, [body = kj::mv(body)]() mutable -> kj::Promise<void> {
      body();
      return kj::READY_NOW;
    });
  }

  // Holds a Thread busy, and alive, until the call running on it is over (its promise done or
  // cancelled). libmultiprocess runs each call on the Thread's worker for the call's whole duration,
  // so a long-poll keeps its Thread occupied until it returns.
  struct Occupied {
    Occupied(Thread::Client c, ThreadImpl* t) : client(kj::mv(c)), thread(t) { thread->busy = true; }
    ~Occupied() { thread->busy = false; }
    KJ_DISALLOW_COPY(Occupied);
    Thread::Client client;
    ThreadImpl* thread;
  };

  // Like onThread, for a body that returns a promise: the Thread stays busy until it resolves.
  template <typename F>
  kj::Promise<void> onThreadAsync(Context::Reader ctx, const std::string& method, F body) {
    calls[method]++;
    if (!ctx.hasThread()) return KJ_EXCEPTION(FAILED, "std::exception: invalid thread handle");
    auto thread = kj::heap<Thread::Client>(ctx.getThread());
    auto& ref = *thread;
    return threadSet.getLocalServer(ref).then(
        [this, method, thread = kj::mv(thread), body = kj::mv(body)](
            kj::Maybe<Thread::Server&> found) mutable -> kj::Promise<void> {
          ThreadImpl* t = nullptr;
          KJ_IF_MAYBE (s, found) { t = static_cast<ThreadImpl*>(s); }
          if (!t) throw std::runtime_error("invalid thread handle");
          if (t->busy) throw std::runtime_error("thread busy");
          auto held = kj::heap<Occupied>(*thread, t);
          return gate(method)
              .then([this, method, body = kj::mv(body)]() mutable -> kj::Promise<void> {
                if (throwing.count(method)) {
                  kj::throwFatalException(scriptedFailure(method));
                }
                return body();
              })
              .attach(kj::mv(held));
        });
  }

  template <typename F>
  kj::Promise<void> plain(const std::string& method, F body) {
    calls[method]++;
    return gate(method).then([this, method, body = kj::mv(body)]() mutable {
      if (throwing.count(method)) kj::throwFatalException(scriptedFailure(method));
      body();
    });
  }

  Context::Builder fillContext(Context::Builder ctx) {
    // libmultiprocess makes (once) a thread on the client through the client's ThreadMap and passes
    // the pipelined result; with no ThreadMap the pipeline is broken ("Called null capability").
    KJ_IF_MAYBE (t, callbackThread) {
      ctx.setThread(*t);
      return ctx;
    }
    KJ_IF_MAYBE (m, clientThreadMap) {
      auto req = m->makeThreadRequest();
      req.setName("bitcoin-node-notifications");
      Thread::Client t = req.send().getResult();
      ctx.setThread(t);
      callbackThread = t;
    } else {
      ThreadMap::Client null = capnp::Capability::Client(nullptr).castAs<ThreadMap>();
      ctx.setThread(null.makeThreadRequest().send().getResult());
    }
    return ctx;
  }

  // ---- chain model ----

  // `set tip`: remember the block, make it the active tip, wake the waits it answers.
  // getchaintxstats' txcount: transactions in the chain up to the tip (-1: unknown). The default
  // is the model's, not recorded: one coinbase per block of the default tip's chain (0..105).
  int64_t chainTxCount = 106;

  void setTip(int32_t height, const std::string& hash, const std::string& prev) {
    auto& b = blocks[hash];
    b.height = height;
    if (!prev.empty()) b.prev = prev;
    v.tipHeight = height;
    v.tipHash = hash;
    // Bitcoin Core notifies m_tip_block_cv on every new tip; a waiter wakes once the tip differs
    // from the currentTip it passed (so a tip set back to that very block does not wake it).
    std::vector<uint64_t> woken;
    for (auto& [id, w] : tipWaiters)
      if (w.currentTip != hash) woken.push_back(id);
    for (auto id : woken) endWait(id, WaitEnd::Changed);
  }

  // On the active chain: reachable from the tip through prev links.
  bool onActiveChain(const std::string& hash) {
    std::string cur = v.tipHash;
    for (size_t steps = 0; steps <= blocks.size(); steps++) {
      if (cur == hash) return true;
      auto it = blocks.find(cur);
      if (it == blocks.end() || it->second.prev.empty()) return false;
      cur = it->second.prev;
    }
    return false;  // a cycle in what the test set up
  }

  void endWait(uint64_t id, WaitEnd how) {
    auto it = tipWaiters.find(id);
    if (it == tipWaiters.end()) return;
    auto done = kj::mv(it->second.done);
    tipWaiters.erase(it);
    done->fulfill(kj::cp(how));
  }

  // Ends the waits on one Mining object (its `interrupt`), or every wait (mining == 0: the client
  // went away). Returns how many there were.
  size_t interruptWaits(uint64_t mining) {
    std::vector<uint64_t> ids;
    for (auto& [id, w] : tipWaiters)
      if (mining == 0 || w.mining == mining) ids.push_back(id);
    for (auto id : ids) endWait(id, WaitEnd::Interrupted);
    return ids.size();
  }

  void fillTip(BlockRef::Builder b) {
    auto h = fromHex(v.tipHash);
    std::reverse(h.begin(), h.end());
    b.setHash(h);
    b.setHeight(v.tipHeight);
  }

  // ---- JSON-RPC over IPC (see the rpc section below) ----
  std::string executeRpc(const std::string& request);
  // Node.executeRpc (the branches): one method, its params as JSON text; see below.
  void nodeExecuteRpc(const std::string& command, const std::string& params, Node::ExecuteRpcResults::Builder out);
  void loadRpcExchanges();

  kj::Promise<double> fire(const std::vector<std::string>& a);
  std::string command(const std::string& line, kj::Promise<std::string>* async);
  void status();
};

class HandlerImpl final : public Handler::Server {
 public:
  HandlerImpl(Peer& p, Subscription& s) : p(p), s(s) {}
  ~HandlerImpl() noexcept(false);
  kj::Promise<void> destroy(DestroyContext c) override {
    return p.onThread(c.getParams().getContext(), "Handler.destroy", [this] { end(); });
  }
  kj::Promise<void> disconnect(DisconnectContext c) override {
    return p.onThread(c.getParams().getContext(), "disconnect", [this] {
      p.handlerDisconnects++;
      end();
    });
  }
  void end() { p.endSubscription(s, true); }
  Peer& p;
  Subscription& s;
};

struct Peer::Conn {
  // Wraps the socket to learn, before the RPC system tears down, that the client went away: the
  // hazard check must tell "client closed the socket" from "client released a Handler".
  class Stream final : public kj::AsyncIoStream {
   public:
    explicit Stream(kj::Own<kj::AsyncIoStream> inner) : inner(kj::mv(inner)) {}
    kj::Promise<size_t> tryRead(void* buf, size_t min, size_t max) override {
      return inner->tryRead(buf, min, max).then(
          [this, min](size_t n) {
            if (n < min) eof = true;
            return n;
          },
          [this](kj::Exception&& e) -> size_t {
            eof = true;
            kj::throwFatalException(kj::mv(e));
          });
    }
    kj::Promise<void> write(const void* b, size_t n) override { return inner->write(b, n); }
    kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const capnp::byte>> p) override { return inner->write(p); }
    kj::Promise<void> whenWriteDisconnected() override { return inner->whenWriteDisconnected(); }
    void shutdownWrite() override { inner->shutdownWrite(); }
    kj::Own<kj::AsyncIoStream> inner;
    bool eof = false;
  };

  Conn(Peer& p, kj::Own<kj::AsyncIoStream> s)
      : stream(kj::heap<Stream>(kj::mv(s))),
        network(*stream, capnp::rpc::twoparty::Side::SERVER),
        rpc(capnp::makeRpcServer(network, makeInit(p))) {}
  static capnp::Capability::Client makeInit(Peer& p);
  kj::Own<Stream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  bool droppedByUs = false;
};

HandlerImpl::~HandlerImpl() noexcept(false) {
  // A Release of the Handler while connected ends the subscription, as destroying the node's
  // handler does. Teardown after the client closed the socket is the hazard, checked elsewhere.
  bool up = p.conn && !p.conn->stream->eof;
  if (s.live && up) p.endSubscription(s, true);
}

void Peer::endSubscription(Subscription& s, bool connectionUp) {
  if (!s.live) return;
  s.live = false;
  say(std::string("! unsubscribed ") + (s.kind == SubKind::Notifications ? "notifications" : "utxo"));
  if (!connectionUp) return;
  KJ_IF_MAYBE (n, s.notifications) {
    auto req = n->destroyRequest();
    fillContext(req.initContext());
    tasks->add(req.send().ignoreResult().catch_([](kj::Exception&&) {}));
  }
  KJ_IF_MAYBE (u, s.utxo) {
    auto req = u->destroyRequest();
    fillContext(req.initContext());
    tasks->add(req.send().ignoreResult().catch_([](kj::Exception&&) {}));
  }
  s.notifications = nullptr;
  s.utxo = nullptr;
}

// ---- the node's interfaces ----

class ThreadMapImpl final : public ThreadMap::Server {
 public:
  explicit ThreadMapImpl(Peer& p) : p(p) {}
  kj::Promise<void> makeThread(MakeThreadContext c) override {
    p.threads++;
    c.getResults().setResult(p.threadSet.add(kj::heap<ThreadImpl>(c.getParams().getName())));
    return kj::READY_NOW;
  }
  Peer& p;
};

// The branch pr/ipc of 2024 (willcl-ark/bitcoin d2ccbd3f, ../../schemas/pr-ipc/) has the Chain and
// Node interfaces of the top-level schemas with other ordinals. The peer plays it by serving the
// top-level implementation through a map: pr/ipc ordinal -> the same method's pr/trace ordinal (-1:
// a method pr/trace lacks, answered "unimplemented"). A client that calls pr/trace's ordinal on a
// pr-ipc peer therefore gets what a real pr/ipc node would answer: the other method's result, or a
// method this peer does not play. Mapped by method name; the methods the peer implements have the
// same params and results in both generations.
static const int kPrIpcChainToTrace[] = {
    0, 1, 2, 3, -1 /* getTipLocator */, -1 /* getActiveChainLocator */, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30 /* havePruned @32 */, 32, 33 /* isInitialBlockDownload @34 */,
    34, 35, 36, 37, 38, 39 /* handleNotifications @40 */, 40, 41, 42, -1 /* rpcRunLater */, 43, 44, 45, 46, 49, 50};
static const int kPrIpcNodeToTrace[] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31, 32, 34 /* getBestBlockHash @33 */, 35, 36 /* getVerificationProgress @35 */, 37, 38, 39, 40, 41, 42 /* executeRpc @41 */,
    43, -1 /* rpcSetTimerInterfaceIfUnset */, -1 /* rpcUnsetTimerInterface */, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,
    54, 55, 56, 57};

// The pr/trace ordinal a pr-ipc call means, or -1.
template <size_t N>
static int prIpcOrdinal(const int (&table)[N], uint16_t methodId) {
  return methodId < N ? table[methodId] : -1;
}

static kj::Exception prIpcUnimplemented(const char* iface, uint16_t methodId) {
  return KJ_EXCEPTION(UNIMPLEMENTED, "Method not implemented.", iface, methodId);
}

class ChainImpl final : public Chain::Server {
 public:
  explicit ChainImpl(Peer& p) : p(p) {}
  DispatchCallResult dispatchCall(uint64_t interfaceId, uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    if (p.flavour != "pr-ipc" || interfaceId != capnp::typeId<Chain>()) {
      return Chain::Server::dispatchCall(interfaceId, methodId, context);
    }
    int m = prIpcOrdinal(kPrIpcChainToTrace, methodId);
    if (m < 0) return {prIpcUnimplemented("interfaces::Chain", methodId), false};
    return Chain::Server::dispatchCall(interfaceId, (uint16_t)m, context);
  }
  kj::Promise<void> getHeight(GetHeightContext c) override {
    return p.onThread(c.getParams().getContext(), "getHeight", [this, c]() mutable {
      auto r = c.getResults();
      KJ_IF_MAYBE (h, p.v.height) {
        r.setResult(*h);
        r.setHasResult(true);
      }
    });
  }
  kj::Promise<void> isInitialBlockDownload(IsInitialBlockDownloadContext c) override {
    return p.onThread(c.getParams().getContext(), "isInitialBlockDownload",
                      [this, c]() mutable { c.getResults().setResult(p.v.ibd); });
  }
  // Scrape-time getters (issue 12): fee rates as serialized CFeeRates, pruning state.
  kj::Promise<void> estimateSmartFee(EstimateSmartFeeContext c) override {
    return p.onThread(c.getParams().getContext(), "estimateSmartFee", [this, c]() mutable {
      auto params = c.getParams();
      int32_t target = params.getNumBlocks();
      p.b.lastFeeEstimate = std::to_string(target) + "/" + (params.getConservative() ? "1" : "0") + "/" +
                            (params.getWantCalc() ? "1" : "0");
      auto it = p.b.feeEstimates.find(target);
      // No estimate: CFeeRate(0), as the recorded fresh node answered for target 6.
      FeeRate rate = it == p.b.feeEstimates.end() ? perKvB(0) : it->second;
      c.getResults().setResult(serialize(rate));
      if (params.getWantCalc()) {
        auto calc = c.getResults().initCalc();
        calc.setDesiredTarget(target);
        calc.setReturnedTarget(it == p.b.feeEstimates.end() ? 0 : target);
      }
    });
  }
#define CHAIN_FEE_RATE(Name, Ctx, field)                                                                      \
  kj::Promise<void> Name(Ctx c) override {                                                                    \
    return p.onThread(c.getParams().getContext(), #Name,                                                      \
                      [this, c]() mutable { c.getResults().setResult(serialize(p.b.field)); });               \
  }
  CHAIN_FEE_RATE(mempoolMinFee, MempoolMinFeeContext, mempoolMinFee)
  CHAIN_FEE_RATE(relayMinFee, RelayMinFeeContext, relayMinFee)
  CHAIN_FEE_RATE(relayIncrementalFee, RelayIncrementalFeeContext, relayIncrementalFee)
  CHAIN_FEE_RATE(relayDustFee, RelayDustFeeContext, relayDustFee)
#undef CHAIN_FEE_RATE
  kj::Promise<void> havePruned(HavePrunedContext c) override {
    return p.onThread(c.getParams().getContext(), "havePruned", [this, c]() mutable { c.getResults().setResult(p.b.pruned); });
  }
  kj::Promise<void> getPruneHeight(GetPruneHeightContext c) override {
    return p.onThread(c.getParams().getContext(), "getPruneHeight", [this, c]() mutable {
      KJ_IF_MAYBE (h, p.b.pruneHeight) {
        c.getResults().setResult(*h);
        c.getResults().setHasResult(true);
      }
    });
  }
  kj::Promise<void> handleNotifications(HandleNotificationsContext c) override {
    auto params = c.getParams();
    return p.onThread(params.getContext(), "handleNotifications", [this, c]() mutable {
      auto sub = kj::heap<Subscription>();
      sub->kind = SubKind::Notifications;
      sub->notifications = c.getParams().getNotifications();
      c.getResults().setResult(kj::heap<HandlerImpl>(p, *sub));
      p.subs.push_back(kj::mv(sub));
      say("! subscribed notifications");
    });
  }
  Peer& p;
};

class NodeImpl final : public Node::Server {
 public:
  explicit NodeImpl(Peer& p) : p(p) {}
  DispatchCallResult dispatchCall(uint64_t interfaceId, uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    if (p.flavour != "pr-ipc" || interfaceId != capnp::typeId<Node>()) {
      return Node::Server::dispatchCall(interfaceId, methodId, context);
    }
    int m = prIpcOrdinal(kPrIpcNodeToTrace, methodId);
    if (m < 0) return {prIpcUnimplemented("interfaces::Node", methodId), false};
    return Node::Server::dispatchCall(interfaceId, (uint16_t)m, context);
  }
#define NODE_GETTER(Name, Ctx, expr)                                                                  \
  kj::Promise<void> Name(Ctx c) override {                                                            \
    return p.onThread(c.getParams().getContext(), #Name, [this, c]() mutable { c.getResults().setResult(expr); }); \
  }
  NODE_GETTER(getVerificationProgress, GetVerificationProgressContext, p.v.progress)
  NODE_GETTER(getMempoolSize, GetMempoolSizeContext, p.v.mempoolSize)
  NODE_GETTER(getMempoolDynamicUsage, GetMempoolDynamicUsageContext, p.v.mempoolDynamicUsage)
  NODE_GETTER(getMempoolMaxUsage, GetMempoolMaxUsageContext, p.v.mempoolMaxUsage)
  NODE_GETTER(getTotalBytesRecv, GetTotalBytesRecvContext, p.v.bytesRecv)
  NODE_GETTER(getTotalBytesSent, GetTotalBytesSentContext, p.v.bytesSent)
  NODE_GETTER(getNumBlocks, GetNumBlocksContext, p.v.numBlocks)
  NODE_GETTER(isInitialBlockDownload, IsInitialBlockDownloadContext, p.v.ibd)
  // The Node proof of flavour detection: the node's exit status (0 while it runs), no lock taken.
  NODE_GETTER(getExitStatus, GetExitStatusContext, 0)
  // Scrape-time getters (issue 12).
  NODE_GETTER(getNetworkActive, GetNetworkActiveContext, p.b.networkActive)
  NODE_GETTER(getLastBlockTime, GetLastBlockTimeContext, p.b.lastBlockTime)
  NODE_GETTER(getDustRelayFee, GetDustRelayFeeContext, serialize(p.b.relayDustFee))
#undef NODE_GETTER
  kj::Promise<void> getNodesStats(GetNodesStatsContext c) override;
  kj::Promise<void> getBanned(GetBannedContext c) override;
  kj::Promise<void> getWarnings(GetWarningsContext c) override {
    return p.onThread(c.getParams().getContext(), "getWarnings", [this, c]() mutable {
      auto w = c.getResults().initResult();
      w.setOriginal(p.b.warnings);
      w.setTranslated(p.b.warnings);
    });
  }
  kj::Promise<void> getBestBlockHash(GetBestBlockHashContext c) override {
    return p.onThread(c.getParams().getContext(), "getBestBlockHash", [this, c]() mutable {
      auto h = fromHex(p.v.tipHash);
      std::reverse(h.begin(), h.end());
      c.getResults().setResult(h);
    });
  }
  kj::Promise<void> getNetLocalAddresses(GetNetLocalAddressesContext c) override {
    return p.onThread(c.getParams().getContext(), "getNetLocalAddresses", [this, c]() mutable {
      auto list = c.getResults().initResult(p.b.netLocalAddresses);
      for (size_t i = 0; i < list.size(); i++) {
        // The key stands for a serialized CNetAddr (192.0.2.i as IPv4-in-IPv6); the client only counts.
        auto key = kj::heapArray<capnp::byte>(16);
        memset(key.begin(), 0, 16);
        key[10] = key[11] = 0xff;
        key[12] = 192, key[13] = 0, key[14] = 2, key[15] = (capnp::byte)(i & 0xff);
        list[i].setKey(key);
        auto info = list[i].initValue();
        info.setScore(1);
        info.setPort(18444);
      }
    });
  }
  kj::Promise<void> executeRpc(ExecuteRpcContext c) override {
    return p.onThread(c.getParams().getContext(), "Node.executeRpc", [this, c]() mutable {
      auto params = c.getParams();
      p.nodeExecuteRpc(params.getCommand().cStr(), params.getParams().cStr(), c.getResults());
    });
  }
  kj::Promise<void> getNodeCount(GetNodeCountContext c) override {
    return p.onThread(c.getParams().getContext(), "getNodeCount", [this, c]() mutable {
      p.nodeCountFlags = c.getParams().getFlags();
      c.getResults().setResult(p.v.nodeCount);
    });
  }
  kj::Promise<void> getHeaderTip(GetHeaderTipContext c) override {
    return p.onThread(c.getParams().getContext(), "getHeaderTip", [this, c]() mutable {
      auto r = c.getResults();
      KJ_IF_MAYBE (h, p.v.headerTip) {
        r.setHeight(*h);
        r.setBlockTime(p.v.headerTime);
        r.setResult(true);
      }
    });
  }
  Peer& p;
};

class TracingImpl final : public Tracing::Server {
 public:
  explicit TracingImpl(Peer& p) : p(p) {}
  kj::Promise<void> traceUtxoCache(TraceUtxoCacheContext c) override {
    return p.onThread(c.getParams().getContext(), "traceUtxoCache", [this, c]() mutable {
      auto sub = kj::heap<Subscription>();
      sub->kind = SubKind::Utxo;
      sub->utxo = c.getParams().getCallback();
      c.getResults().setResult(kj::heap<HandlerImpl>(p, *sub));
      p.subs.push_back(kj::mv(sub));
      say("! subscribed utxo");
    });
  }
  Peer& p;
};

class EchoImpl final : public Echo::Server {
 public:
  explicit EchoImpl(Peer& p) : p(p) {}
  kj::Promise<void> echo(EchoContext c) override {
    return p.onThread(c.getParams().getContext(), "echo",
                      [c]() mutable { c.getResults().setResult(c.getParams().getEcho()); });
  }
  Peer& p;
};

// A BlockTemplate as Mining.createNewBlock returns it: a fixed next block of three transactions
// whose fees and sigop costs are known (tests/template_test.ts asserts the sums), the coinbase
// excluded from both lists as upstream's getTxFees/getTxSigops do. `destroy @0` and the reads keep
// their ordinals in every generation (v30's differ only from @5 on). Counted in `status`
// (templates_live=, calls=createNewBlock:N,BlockTemplate.destroy:N).
class BlockTemplateImpl final : public BlockTemplate::Server {
 public:
  explicit BlockTemplateImpl(Peer& p) : p(p) { p.templatesLive++; }
  ~BlockTemplateImpl() noexcept(false) { if (!destroyed) p.templatesLive--; }
  kj::Promise<void> destroy(DestroyContext c) override {
    return p.onThread(c.getParams().getContext(), "BlockTemplate.destroy", [this] {
      if (!destroyed) p.templatesLive--;
      destroyed = true;
    });
  }
  kj::Promise<void> getTxFees(GetTxFeesContext c) override {
    return p.onThread(c.getParams().getContext(), "BlockTemplate.getTxFees", [c]() mutable {
      auto l = c.getResults().initResult(3);
      l.set(0, 1000); l.set(1, 2500); l.set(2, 4000);
    });
  }
  kj::Promise<void> getTxSigops(GetTxSigopsContext c) override {
    return p.onThread(c.getParams().getContext(), "BlockTemplate.getTxSigops", [c]() mutable {
      auto l = c.getResults().initResult(3);
      l.set(0, 1); l.set(1, 4); l.set(2, 8);
    });
  }
  Peer& p;
  bool destroyed = false;
};

// Mining, as stock nodes serve it (and the branches, through makeMining @3). The interface ID and
// the methods the exporter uses are the same in every generation; what differs is v30's encoding of
// waitTipChanged's timeout and v30 lacking `interrupt` (see below).
class MiningImpl final : public Mining::Server {
 public:
  explicit MiningImpl(Peer& p)
      : p(p),
        id(++p.nextMiningId),
        v30(p.flavour == "v30"),
        hasInterrupt(p.flavour == "v31" || p.flavour == "master" || p.flavour == "chain5" || p.flavour == "chain5-node") {}

  DispatchCallResult dispatchCall(uint64_t interfaceId, uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    // `interrupt @6` exists from v31 on; v30's Mining (and the branches') has no method 6, so it
    // answers as capnp answers any method its schema lacks.
    if (interfaceId == capnp::typeId<Mining>() && methodId == 6 && !hasInterrupt) {
      return internalUnimplemented("mining.capnp:Mining", interfaceId, methodId);
    }
    return Mining::Server::dispatchCall(interfaceId, methodId, context);
  }

  kj::Promise<void> isTestChain(IsTestChainContext c) override {
    // Regtest: Params().IsTestChain().
    return p.onThread(c.getParams().getContext(), "Mining.isTestChain",
                      [c]() mutable { c.getResults().setResult(true); });
  }
  kj::Promise<void> isInitialBlockDownload(IsInitialBlockDownloadContext c) override {
    return p.onThread(c.getParams().getContext(), "Mining.isInitialBlockDownload",
                      [this, c]() mutable { c.getResults().setResult(p.v.ibd); });
  }
  kj::Promise<void> getTip(GetTipContext c) override {
    return p.onThread(c.getParams().getContext(), "getTip", [this, c]() mutable {
      p.fillTip(c.getResults().initResult());
      c.getResults().setHasResult(true);
    });
  }

  // Stock v30 declares `timeout :Float64` with no default; v31 and master declare it
  // `= .maxDouble`. Cap'n Proto stores a field XORed with its default, so the same number has
  // different bits on the wire in the two generations. The getter compiled from our (v31) schema
  // XORs maxDouble back in, which is right for a v31+ client and wrong for a v30 one; a v30 node
  // reads the bits as they are. So in v30 mode the word is read raw: `timeout` is the params
  // struct's first data field, the 8 bytes at offset 0 (little-endian); absent (a shorter data
  // section) reads as 0.0, as it would for the v30 node.
  static double rawTimeoutV30(Mining::WaitTipChangedParams::Reader params) {
    auto data = capnp::AnyStruct::Reader(params).getDataSection();
    uint64_t bits = 0;
    for (size_t i = 0; i < 8 && i < data.size(); i++) bits |= uint64_t(data[i]) << (8 * i);
    double out;
    memcpy(&out, &bits, sizeof out);
    return out;
  }

  // Bitcoin Core's WaitTipChanged (node/miner.cpp, v31/master; v30 has the same logic inline in
  // node/interfaces.cpp, without the interrupt flag): returns at once when the tip differs from
  // `currentTip`; otherwise waits until it does, the timeout (milliseconds, MillisecondsDouble)
  // passes, or `interrupt`; then returns the tip as it is (on a timeout, the unchanged one). After
  // an interrupt (or when the client is gone: the node's shutdown path) `result` is left unset
  // (std::nullopt). The call keeps its Thread the whole time, as the worker thread is blocked in
  // the node.
  kj::Promise<void> waitTipChanged(WaitTipChangedContext c) override {
    return p.onThreadAsync(c.getParams().getContext(), "waitTipChanged", [this, c]() mutable -> kj::Promise<void> {
      auto params = c.getParams();
      double timeout = v30 ? rawTimeoutV30(params) : params.getTimeout();
      p.lastWaitTimeoutMs = timeout;
      std::string current = displayHex(params.getCurrentTip());
      Peer* peer = &p;
      // The interrupt flag is checked first and is sticky: an `interrupt` that found no wait in
      // progress ends the next one at once (m_interrupt_mining stays set until a wait consumes it).
      if (interruptPending) {
        interruptPending = false;
        return kj::READY_NOW;
      }
      if (p.v.tipHash != current) {
        p.fillTip(c.getResults().initResult());
        return kj::READY_NOW;
      }
      // Core clamps the timeout to [0, 100 years] "to avoid UB in std::chrono". A NaN compares
      // false both ways there and makes the deadline meaningless; it is taken as 0 here.
      const double maxMs = 100.0 * 365.2425 * 86400.0 * 1000.0;
      if (std::isnan(timeout) || timeout < 0) timeout = 0;
      if (timeout > maxMs) timeout = maxMs;
      auto pf = kj::newPromiseAndFulfiller<WaitEnd>();
      uint64_t wid = ++p.nextWaiterId;
      p.tipWaiters.emplace(wid, TipWaiter{current, id, kj::mv(pf.fulfiller)});
      auto delay = int64_t(timeout * 1e6) * kj::NANOSECONDS;
      return pf.promise
          .exclusiveJoin(p.io.provider->getTimer().afterDelay(delay).then([] { return WaitEnd::Timeout; }))
          .then([peer, c](WaitEnd how) mutable {
            if (how != WaitEnd::Interrupted) peer->fillTip(c.getResults().initResult());
          })
          .attach(kj::defer([peer, wid] { peer->tipWaiters.erase(wid); }));
    });
  }

  // createNewBlock @4: v31 and master take (context, options[, cooldown]); v30 takes only
  // (options), no Context, so a v30 node runs it on its event loop thread (p.plain here). The
  // options are not interpreted: the template is the same fixed block either way.
  kj::Promise<void> createNewBlock(CreateNewBlockContext c) override {
    auto make = [this, c]() mutable { c.getResults().setResult(kj::heap<BlockTemplateImpl>(p)); };
    if (v30) return p.plain("createNewBlock", make);
    return p.onThread(c.getParams().getContext(), "createNewBlock", make);
  }

  // v31+: `interrupt @6 () -> ()` has no Context, so libmultiprocess runs it on its event loop,
  // not on a Thread, and it is answered even while a waitTipChanged holds the client's Thread.
  kj::Promise<void> interrupt(InterruptContext c) override {
    return p.plain("Mining.interrupt", [this] {
      // InterruptWait: set the flag and notify; a wait in progress consumes it.
      if (p.interruptWaits(id) == 0) interruptPending = true;
    });
  }

  Peer& p;
  const uint64_t id;
  const bool v30, hasInterrupt;
  bool interruptPending = false;
};

// Stock master's Rpc (src/ipc/capnp/rpc.capnp): executeRpc hands the request to the node's JSON-RPC
// dispatcher (RpcImpl::executeRpc -> ExecuteHTTPRPC) and returns its reply as text.
class RpcImpl final : public Rpc::Server {
 public:
  explicit RpcImpl(Peer& p) : p(p) {}
  kj::Promise<void> executeRpc(ExecuteRpcContext c) override {
    auto request = c.getParams().getRequest();
    return p.gateRpc(std::string(request.begin(), request.size())).then([this, c]() mutable {
      return p.onThread(c.getParams().getContext(), "executeRpc", [this, c]() mutable {
        auto params = c.getParams();
        p.rpcLastUri = std::string(params.getUri().cStr());
        p.rpcLastUser = std::string(params.getUser().cStr());
        auto req = params.getRequest();
        c.getResults().setResult(p.executeRpc(std::string(req.begin(), req.size())));
      });
    });
  }
  Peer& p;
};

class InitImpl final : public Init::Server {
 public:
  explicit InitImpl(Peer& p) : p(p) {}

  // The Init interface ID is the same in every flavour, but the methods behind the ordinals are
  // not. The peer serves the branch schema (schemas/init.capnp); for the other flavours each ordinal
  // is routed to what that node has there, reusing a typed implementation whose params/results have
  // the same layout ((context) -> (result :SomeInterface) is one pointer in, one pointer out,
  // whatever the interface). Ordinals a node lacks answer as capnp does for a method its schema
  // does not have.
  DispatchCallResult dispatchCall(uint64_t interfaceId, uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    const std::string& f = p.flavour;
    if (interfaceId != capnp::typeId<Init>() || f == "branch" || f == "branch-notrace") {
      return Init::Server::dispatchCall(interfaceId, methodId, context);
    }
    if (f == "pr-ipc") {
      // The branch pr/ipc of 2024 (schemas/pr-ipc/init.capnp): before stock Mining, makeNode @2,
      // makeChain @3, makeWalletLoader @4, nothing above. @2 collides with v30's makeMining and @3
      // with v31's, @4 with makeChain on pr/trace and makeRpc on master.
      switch (methodId) {
        case 0:
          return {construct(internalGetTypedContext<ConstructParams, ConstructResults>(context)), false};
        case 1:
          return {makeEcho(internalGetTypedContext<MakeEchoParams, MakeEchoResults>(context)), false};
        case 2:
          return {makeNode(internalGetTypedContext<MakeNodeParams, MakeNodeResults>(context)), false};
        case 3:
          return {makeChain(internalGetTypedContext<MakeChainParams, MakeChainResults>(context)), false};
        case 4:
          return {makeWalletLoader(internalGetTypedContext<MakeWalletLoaderParams, MakeWalletLoaderResults>(context)),
                  false};
        default:
          break;
      }
      return {unimplemented(methodId), false};
    }
    if (f == "chain5" || f == "chain5-node") {
      // The multiprocess work rebased over stock makeRpc (schemas/chain5/init.capnp): stock 32.x's
      // @0-@4, then makeChain @5 and, with the full split, makeNode @6 and makeWalletLoader @7. The
      // collisions with the branch schema are the point: @5 answers a Chain where the branches have
      // makeNode, @4 an Rpc where they have makeChain.
      switch (methodId) {
        case 0:
          return {construct(internalGetTypedContext<ConstructParams, ConstructResults>(context)), false};
        case 1:
          return {makeEcho(internalGetTypedContext<MakeEchoParams, MakeEchoResults>(context)), false};
        case 2:
          return {makeMiningOld2(internalGetTypedContext<MakeMiningOld2Params, MakeMiningOld2Results>(context)), false};
        case 3:
          return {makeMining(internalGetTypedContext<MakeMiningParams, MakeMiningResults>(context)), false};
        case 4:
          return {makeRpc(internalGetTypedContext<MakeChainParams, MakeChainResults>(context)), false};
        case 5:
          return {makeChain(internalGetTypedContext<MakeChainParams, MakeChainResults>(context)), false};
        case 6:
          if (f != "chain5-node") break;
          return {makeNode(internalGetTypedContext<MakeNodeParams, MakeNodeResults>(context)), false};
        case 7:
          if (f != "chain5-node") break;
          return {makeWalletLoader(internalGetTypedContext<MakeWalletLoaderParams, MakeWalletLoaderResults>(context)),
                  false};
        default:
          break;
      }
      return {unimplemented(methodId), false};
    }
    switch (methodId) {
      case 0:
        return {construct(internalGetTypedContext<ConstructParams, ConstructResults>(context)), false};
      case 1:
        return {makeEcho(internalGetTypedContext<MakeEchoParams, MakeEchoResults>(context)), false};
      case 2:
        // v30: `makeMining @2 (context) -> (result :Mining)`; v31 moved Mining to @3 and made @2 the
        // deprecated stub that throws.
        if (f == "v30") return {makeMining(internalGetTypedContext<MakeMiningParams, MakeMiningResults>(context)), false};
        return {makeMiningOld2(internalGetTypedContext<MakeMiningOld2Params, MakeMiningOld2Results>(context)), false};
      case 3:
        if (f == "v30") break;
        return {makeMining(internalGetTypedContext<MakeMiningParams, MakeMiningResults>(context)), false};
      case 4:
        // master: `makeRpc @4 (context) -> (result :Rpc)`, where the branches have makeChain.
        if (f != "master") break;
        return {makeRpc(internalGetTypedContext<MakeChainParams, MakeChainResults>(context)), false};
      default:
        break;
    }
    return {unimplemented(methodId), false};
  }

  kj::Promise<void> construct(ConstructContext c) override {
    p.calls["construct"]++;
    auto params = c.getParams();
    p.clientThreadMapGiven = params.hasThreadMap();
    if (params.hasThreadMap()) p.clientThreadMap = params.getThreadMap();
    // `stall Init.construct` holds the answer: a test can act in the middle of the handshake.
    return p.gate("Init.construct").then([this, c]() mutable { c.getResults().setThreadMap(kj::heap<ThreadMapImpl>(p)); });
  }
  kj::Promise<void> makeEcho(MakeEchoContext c) override {
    return p.onThread(c.getParams().getContext(), "makeEcho", [this, c]() mutable { c.getResults().setResult(kj::heap<EchoImpl>(p)); });
  }
  kj::Promise<void> makeMining(MakeMiningContext c) override {
    return p.onThread(c.getParams().getContext(), "makeMining", [this, c]() mutable { c.getResults().setResult(kj::heap<MiningImpl>(p)); });
  }
  // Stock master's makeRpc @4, reached through the makeChain @4 params/results layout.
  kj::Promise<void> makeRpc(MakeChainContext c) {
    return p.onThread(c.getParams().getContext(), "makeRpc", [this, c]() mutable {
      // The result pointer is written as an Rpc capability: the object really is an Rpc::Server, so
      // a client that takes it for a Chain gets capnp's own "Requested interface not implemented"
      // naming the Rpc interface, as from a real stock master node.
      capnp::AnyStruct::Builder results = c.getResults();
      results.getPointerSection()[0].setAs<Rpc>(kj::heap<RpcImpl>(p));
    });
  }
  kj::Promise<void> makeChain(MakeChainContext c) override {
    return p.onThread(c.getParams().getContext(), "makeChain", [this, c]() mutable { c.getResults().setResult(kj::heap<ChainImpl>(p)); });
  }
  kj::Promise<void> makeNode(MakeNodeContext c) override {
    return p.onThread(c.getParams().getContext(), "makeNode", [this, c]() mutable { c.getResults().setResult(kj::heap<NodeImpl>(p)); });
  }
  // makeWalletLoader(context, globalArgs, chain): @6 on the branches, @7 on chain5-node. A node sets
  // up a wallet loader around the Chain it is given; a client that calls it to find out what an
  // ordinal is (with no Chain) is treated as the node going down, so a probe order that reaches it
  // fails the test that runs it.
  kj::Promise<void> makeWalletLoader(MakeWalletLoaderContext c) override {
    p.calls["makeWalletLoader"]++;
    p.hazard("make-wallet-loader", 73);
    return KJ_EXCEPTION(FAILED, "test peer: makeWalletLoader is not played");
  }
  kj::Promise<void> makeTracing(MakeTracingContext c) override {
    if (p.flavour != "branch") return unimplemented(7);
    return p.onThread(c.getParams().getContext(), "makeTracing", [this, c]() mutable { c.getResults().setResult(kj::heap<TracingImpl>(p)); });
  }
  // What a node whose Init has no such method answers (capnp's default for unknown methods).
  kj::Promise<void> unimplemented(int method) {
    return KJ_EXCEPTION(UNIMPLEMENTED, "Method not implemented.", "interfaces::Init", method);
  }
  kj::Promise<void> makeMiningOld2(MakeMiningOld2Context c) override {
    p.calls["makeMiningOld2"]++;
    return KJ_EXCEPTION(FAILED, "std::exception: Old mining interface (@2) not supported. Please update your client!");
  }
  Peer& p;
};

capnp::Capability::Client Peer::Conn::makeInit(Peer& p) { return kj::heap<InitImpl>(p); }

// ---- JSON-RPC over IPC (stock master) ----
//
// Rpc.executeRpc hands the request text to the node's HTTP JSON-RPC code path: Bitcoin Core's
// RpcImpl::executeRpc reads it into a UniValue (ipc/capnp/common-types.h; a parse failure is
// ignored) and calls ExecuteHTTPRPC (src/httprpc.cpp), which parses each request with
// JSONRPCRequest::parse and builds replies with JSONRPCReplyObj (src/rpc/request.cpp), running the
// method through JSONRPCExec (src/rpc/server.cpp). The reply UniValue is written back compactly.
// This section mirrors those functions, quirks included (noted where they show).

namespace rpc {

using JV = capnp::JsonValue::Reader;

// JSONRPCError(code, message): what the parser and RPC methods throw (a UniValue).
struct Error {
  int code;
  std::string message;
};
// A std::exception out of a method (RPCHelpMan throws its help text as one on a wrong argument
// count): JSONRPCExec turns it into RPC_MISC_ERROR where it catches errors (JSON-RPC 2.0 requests,
// batches); ExecuteHTTPRPC turns it into RPC_PARSE_ERROR where it does not (a legacy single request).
struct RuntimeError {
  std::string what;
};

constexpr int RPC_MISC_ERROR = -1, RPC_TYPE_ERROR = -3, RPC_INVALID_ADDRESS_OR_KEY = -5,
              RPC_INVALID_PARAMETER = -8, RPC_INVALID_REQUEST = -32600, RPC_METHOD_NOT_FOUND = -32601,
              RPC_INTERNAL_ERROR = -32603, RPC_PARSE_ERROR = -32700;

// UniValue's json_escape, quoted: `"` and `\` escaped, control characters as \b \t \n \f \r or
// \u00XX, DEL as \u007f; all other bytes (UTF-8 included) as they are.
std::string quote(kj::ArrayPtr<const char> s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char u = (unsigned char)ch;
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char b[8];
          snprintf(b, sizeof b, "\\u%04x", u);
          out += b;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}
std::string quote(const std::string& s) { return quote(kj::arrayPtr(s.data(), s.size())); }
std::string quote(kj::StringPtr s) { return quote(s.asArray()); }

// UniValue keeps a number as the text it was given and writes that text back; capnp's JSON parser
// keeps a double. Integers within 2^53 (what JSON-RPC ids are in practice) come back exactly;
// other numbers in their shortest round-trip form, which can differ from the text sent (1.0 -> 1).
std::string number(double d) {
  char b[40];
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
    snprintf(b, sizeof b, "%.0f", d);
  } else {
    snprintf(b, sizeof b, "%.17g", d);
  }
  return b;
}

// Compact, in the given member order (UniValue::write without indentation).
std::string write(JV v) {
  switch (v.which()) {
    case capnp::JsonValue::NULL_: return "null";
    case capnp::JsonValue::BOOLEAN: return v.getBoolean() ? "true" : "false";
    case capnp::JsonValue::NUMBER: return number(v.getNumber());
    case capnp::JsonValue::STRING: return quote(v.getString());
    case capnp::JsonValue::ARRAY: {
      std::string out = "[";
      for (auto e : v.getArray()) out += (out.size() > 1 ? "," : "") + write(e);
      return out + "]";
    }
    case capnp::JsonValue::OBJECT: {
      std::string out = "{";
      for (auto f : v.getObject()) out += (out.size() > 1 ? "," : "") + quote(f.getName()) + ":" + write(f.getValue());
      return out + "}";
    }
    case capnp::JsonValue::CALL: break;
  }
  return "null";
}

// UniValue's uvTypeName.
const char* typeName(capnp::JsonValue::Which which) {
  switch (which) {
    case capnp::JsonValue::BOOLEAN: return "bool";
    case capnp::JsonValue::NUMBER: return "number";
    case capnp::JsonValue::STRING: return "string";
    case capnp::JsonValue::ARRAY: return "array";
    case capnp::JsonValue::OBJECT: return "object";
    default: return "null";
  }
}

const char* typeName(JV v) { return typeName(v.which()); }

bool hasCall(JV v) {
  if (v.isCall()) return true;
  if (v.isArray())
    for (auto e : v.getArray())
      if (hasCall(e)) return true;
  if (v.isObject())
    for (auto f : v.getObject())
      if (hasCall(f.getValue())) return true;
  return false;
}

// UniValue::find_value: the first member of that name; absent reads as null.
std::optional<JV> find(JV obj, kj::StringPtr key) {
  for (auto f : obj.getObject())
    if (f.getName() == key) return f.getValue();
  return std::nullopt;
}
bool isNull(const std::optional<JV>& v) { return !v || v->isNull(); }

// JSONRPCRequest: `id` starts out as a present null and the version as legacy, and parse() sets
// them as it goes, so an error thrown part-way (or, in a batch, before parse touched them at all)
// is answered with whatever they were at that point.
struct Request {
  std::optional<std::string> id = std::string("null");  // written JSON text
  bool v2 = false;
  std::string method;
  std::optional<JV> params;  // an array or object; none means []
  bool isNotification() const { return !id && v2; }
};

// JSONRPCRequest::parse.
void parse(Request& r, JV v) {
  if (!v.isObject()) throw Error{RPC_INVALID_REQUEST, "Invalid Request object"};
  auto id = find(v, "id");
  r.id = id ? std::optional<std::string>(write(*id)) : std::nullopt;
  r.v2 = false;
  auto version = find(v, "jsonrpc");
  if (!isNull(version)) {
    if (!version->isString()) throw Error{RPC_INVALID_REQUEST, "jsonrpc field must be a string"};
    kj::StringPtr ver = version->getString();
    if (ver == "1.0") {
      r.v2 = false;
    } else if (ver == "2.0") {
      r.v2 = true;
    } else {
      throw Error{RPC_INVALID_REQUEST, "JSON-RPC version not supported"};
    }
  }
  auto method = find(v, "method");
  if (isNull(method)) throw Error{RPC_INVALID_REQUEST, "Missing method"};
  if (!method->isString()) throw Error{RPC_INVALID_REQUEST, "Method must be a string"};
  r.method = method->getString().cStr();
  auto params = find(v, "params");
  if (params && (params->isArray() || params->isObject())) {
    r.params = params;
  } else if (isNull(params)) {
    r.params = std::nullopt;
  } else {
    throw Error{RPC_INVALID_REQUEST, "Params must be an array or object"};
  }
}

// JSONRPCReplyObj: "jsonrpc" in 2.0 only; 2.0 omits the null one of result/error, legacy writes
// both; "id" only when the request had one.
std::string reply(const Request& r, const std::string* result, const Error* error) {
  std::string out = "{";
  if (r.v2) out += "\"jsonrpc\":\"2.0\",";
  if (!error) {
    out += "\"result\":" + *result;
    if (!r.v2) out += ",\"error\":null";
  } else {
    if (!r.v2) out += "\"result\":null,";
    out += "\"error\":{\"code\":" + std::to_string(error->code) + ",\"message\":" + quote(error->message) + "}";
  }
  if (r.id) out += ",\"id\":" + *r.id;
  return out + "}";
}

using Method = std::function<std::string(const Request&)>;

// JSONRPCExec.
std::string exec(const Request& r, bool catchErrors, const Method& method) {
  std::string result;
  try {
    result = method(r);
  } catch (Error& e) {
    if (!catchErrors) throw;
    return reply(r, nullptr, &e);
  } catch (RuntimeError& e) {
    if (!catchErrors) throw;
    Error misc{RPC_MISC_ERROR, e.what};
    return reply(r, nullptr, &misc);
  }
  return reply(r, &result, nullptr);
}

// ExecuteHTTPRPC, as reached through IPC (no -rpcwhitelist). What it returns empty (a
// notification, an all-notification batch) is written by the IPC layer as the text `null`.
std::string executeHttp(JV top, const Method& method) {
  Request r;
  try {
    if (top.isObject()) {
      parse(r, top);
      // Legacy requests throw their errors out to here (an HTTP error status over HTTP); 2.0 ones
      // are answered in place. Over IPC the two replies look alike but for the version fields.
      std::string out = exec(r, r.v2, method);
      if (r.isNotification()) return "null";
      return out;
    }
    if (top.isArray()) {
      std::string out;
      size_t n = 0;
      for (auto item : top.getArray()) {
        std::string one;
        try {
          parse(r, item);
          one = exec(r, true, method);
        } catch (Error& e) {
          one = reply(r, nullptr, &e);
        } catch (RuntimeError& e) {
          Error parseError{RPC_PARSE_ERROR, e.what};
          one = reply(r, nullptr, &parseError);
        }
        if (!r.isNotification()) {
          out += (n++ ? "," : "") + one;
        }
      }
      if (n == 0 && top.getArray().size() > 0) return "null";
      return "[" + out + "]";
    }
    throw Error{RPC_PARSE_ERROR, "Top-level object parse error"};
  } catch (Error& e) {
    return reply(r, nullptr, &e);  // JSONErrorReply
  } catch (RuntimeError& e) {
    Error parseError{RPC_PARSE_ERROR, e.what};
    return reply(r, nullptr, &parseError);
  }
}

struct Arg {
  const char* name;
  bool required;
  capnp::JsonValue::Which type;
};

// transformNamedArguments (named params to positions), then RPCHelpMan::HandleRequest's argument
// count and type checks. `usage` stands in for the method's help text, which Core throws whole.
std::vector<std::optional<JV>> args(const Request& r, const std::string& usage, const std::vector<Arg>& spec) {
  std::vector<std::optional<JV>> pos;
  if (r.params && r.params->isObject()) {
    std::vector<std::pair<std::string, JV>> named;
    for (auto f : r.params->getObject()) {
      std::string key = f.getName().cStr();
      for (auto& [k, _] : named)
        if (k == key) throw Error{RPC_INVALID_PARAMETER, "Parameter " + key + " specified multiple times"};
      named.emplace_back(key, f.getValue());
    }
    size_t hole = 0;
    for (auto& a : spec) {
      auto it = std::find_if(named.begin(), named.end(), [&](auto& kv) { return kv.first == a.name; });
      if (it == named.end()) {
        hole++;
        continue;
      }
      for (; hole > 0; hole--) pos.push_back(std::nullopt);  // holes before a given one become nulls
      pos.push_back(it->second);
      named.erase(it);
    }
    if (!named.empty()) throw Error{RPC_INVALID_PARAMETER, "Unknown named parameter " + named.front().first};
  } else if (r.params) {
    for (auto e : r.params->getArray()) pos.push_back(e);
  }
  size_t required = 0;
  for (size_t i = spec.size(); i > 0; i--)
    if (spec[i - 1].required) {
      required = i;
      break;
    }
  if (pos.size() < required || pos.size() > spec.size()) throw RuntimeError{usage};
  std::string mismatch;
  for (size_t i = 0; i < spec.size(); i++) {
    std::optional<JV> v = i < pos.size() ? pos[i] : std::nullopt;
    if (!spec[i].required && isNull(v)) continue;
    if (v && v->which() == spec[i].type) continue;
    // UniValue::write(4) of {"Position N (name)": "JSON value of type X is not of expected type Y"}
    mismatch += std::string(mismatch.empty() ? "" : ",\n") + "    " +
                quote("Position " + std::to_string(i + 1) + " (" + spec[i].name + ")") + ": " +
                quote(std::string("JSON value of type ") + (v ? typeName(*v) : "null") +
                      " is not of expected type " + typeName(spec[i].type));
  }
  if (!mismatch.empty()) throw Error{RPC_TYPE_ERROR, "Wrong type passed:\n{\n" + mismatch + "\n}"};
  pos.resize(spec.size());
  return pos;
}

// ParseHashV.
std::string parseHash(JV v, const std::string& name) {
  std::string hex = v.getString().cStr();
  if (hex.size() == 64 && isHex(hex)) return lower(hex);
  if (hex.size() != 64) {
    throw Error{RPC_INVALID_PARAMETER, name + " must be of length 64 (not " + std::to_string(hex.size()) + ", for '" + hex + "')"};
  }
  throw Error{RPC_INVALID_PARAMETER, name + " must be hexadecimal string (not '" + hex + "')"};
}

// The key calls= counts a JSON-RPC method under: rpc.<method>, kept to characters status can show.
std::string callKey(const std::string& method) {
  std::string out = "rpc.";
  for (char ch : method) out += (isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.') ? ch : '_';
  return out;
}

}  // namespace rpc

// One JSON-RPC method call. Where the answer comes from, first match wins: an override set with the
// `rpc` command; the chain model (getblockheader, getbestblockhash, getblockcount); a recorded real
// answer (<--rpc-fixtures DIR>/<method>.json); else "Method not found", as from tableRPC.execute.
static std::string rpcMethod(Peer& p, const rpc::Request& r) {
  using rpc::Error;
  p.calls[rpc::callKey(r.method)]++;
  auto o = p.rpcOverrides.find(r.method);
  if (o != p.rpcOverrides.end()) {
    if (o->second.isError) throw Error{o->second.code, o->second.message};
    return o->second.raw;
  }
  if (r.method == "getblockcount") {
    rpc::args(r, "getblockcount", {});
    return std::to_string(p.v.tipHeight);
  }
  if (r.method == "getbestblockhash") {
    rpc::args(r, "getbestblockhash", {});
    return rpc::quote(p.v.tipHash);
  }
  if (r.method == "getblockheader") {
    auto a = rpc::args(r, "getblockheader \"blockhash\" ( verbose )",
                       {{"blockhash", true, capnp::JsonValue::STRING}, {"verbose", false, capnp::JsonValue::BOOLEAN}});
    std::string hash = rpc::parseHash(*a[0], "hash");
    bool verbose = rpc::isNull(a[1]) ? true : a[1]->getBoolean();
    auto it = p.blocks.find(hash);
    if (it == p.blocks.end()) throw Error{rpc::RPC_INVALID_ADDRESS_OR_KEY, "Block not found"};
    if (!verbose) {
      // The serialized header would need header fields the model does not have.
      throw Error{rpc::RPC_INTERNAL_ERROR, "test peer: getblockheader verbose=false is not modelled"};
    }
    const BlockEntry& b = it->second;
    // blockheaderToJSON: confirmations count on the active chain, -1 off it.
    int confirmations = p.onActiveChain(hash) ? p.v.tipHeight - b.height + 1 : -1;
    std::string out = "{\"hash\":" + rpc::quote(hash) + ",\"confirmations\":" + std::to_string(confirmations) +
                      ",\"height\":" + std::to_string(b.height);
    if (!b.prev.empty()) out += ",\"previousblockhash\":" + rpc::quote(b.prev);
    // blockheaderToJSON's "time", where `set tips` gave one.
    if (b.time >= 0) out += ",\"time\":" + std::to_string(b.time);
    return out + "}";
  }
  if (r.method == "getchaintxstats") {
    // getchaintxstats ( nblocks "blockhash" ), modelled for nblocks=0 (no window; what the exporter
    // asks): Core's shape for it, txcount from `set chainTxCount` (omitted when unknown, as Core
    // does after an assumeutxo load), time the block's (`set tips`) or the recorded tip's.
    auto a = rpc::args(r, "getchaintxstats ( nblocks \"blockhash\" )",
                       {{"nblocks", false, capnp::JsonValue::NUMBER}, {"blockhash", false, capnp::JsonValue::STRING}});
    std::string hash = rpc::isNull(a[1]) ? p.v.tipHash : rpc::parseHash(*a[1], "blockhash");
    auto it = p.blocks.find(hash);
    if (it == p.blocks.end() && hash != p.v.tipHash) throw Error{rpc::RPC_INVALID_ADDRESS_OR_KEY, "Block not found"};
    if (!p.onActiveChain(hash)) throw Error{rpc::RPC_INVALID_PARAMETER, "Block is not in main chain"};
    int32_t height = it == p.blocks.end() ? p.v.tipHeight : it->second.height;
    double n = rpc::isNull(a[0]) ? -1 : a[0]->getNumber();
    if (!rpc::isNull(a[0]) && (n < 0 || (n > 0 && n >= height))) {
      throw Error{rpc::RPC_INVALID_PARAMETER, "Invalid block count: should be between 0 and the block's height - 1"};
    }
    if (n != 0) throw Error{rpc::RPC_INTERNAL_ERROR, "test peer: getchaintxstats with a window is not modelled"};
    int64_t time = it != p.blocks.end() && it->second.time >= 0 ? it->second.time : 1795483001;
    std::string out = "{\"time\":" + std::to_string(time);
    if (p.chainTxCount >= 0) out += ",\"txcount\":" + std::to_string(p.chainTxCount);
    return out + ",\"window_final_block_hash\":" + rpc::quote(hash) +
           ",\"window_final_block_height\":" + std::to_string(height) + ",\"window_block_count\":0}";
  }
  bool plainName = !r.method.empty() && std::all_of(r.method.begin(), r.method.end(), [](char ch) {
    return isalnum((unsigned char)ch) || ch == '_';
  });
  if (plainName && !p.rpcFixturesDir.empty()) {
    std::ifstream in(p.rpcFixturesDir + "/" + r.method + ".json", std::ios::binary);
    if (in) {
      std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!raw.empty() && isspace((unsigned char)raw.back())) raw.pop_back();
      return raw;
    }
  }
  throw Error{rpc::RPC_METHOD_NOT_FOUND, "Method not found"};
}

std::string Peer::executeRpc(const std::string& text) {
  // A request recorded from the real node gets the node's own answer, byte for byte.
  auto ex = rpcExchanges.find(text);
  if (ex != rpcExchanges.end()) return ex->second;
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<capnp::JsonValue>();
  bool parsed;
  try {
    capnp::JsonCodec codec;
    codec.setMaxNestingDepth(512);  // UniValue's MAX_JSON_DEPTH
    codec.decodeRaw(kj::arrayPtr(text.data(), text.size()), root);
    parsed = !rpc::hasCall(root.asReader());  // capnp's `name(...)` extension is not JSON
  } catch (kj::Exception&) {
    parsed = false;
  }
  if (!parsed) {
    // UniValue::read gives up without clearing what it had built: text that starts an object is an
    // object when the parse fails (the recorded node answered "{not json" with "Missing method"),
    // one that starts an array an array, anything else null ("Top-level object parse error").
    // UniValue also keeps the members it read before the error; this keeps none of them.
    size_t i = text.find_first_not_of(" \t\n\r");
    char first = i == std::string::npos ? 0 : text[i];
    if (first == '{') root.initObject(0);
    else if (first == '[') root.initArray(0);
    else root.setNull();
  }
  return rpc::executeHttp(root.asReader(), [this](const rpc::Request& r) { return rpcMethod(*this, r); });
}

// Every <DIR>/*.exchange.json, {"request": TEXT, "response": TEXT}, written by
// tools/extract_rpc_fixtures.ts from a real session.
void Peer::loadRpcExchanges() {
  if (rpcFixturesDir.empty()) return;
  DIR* d = opendir(rpcFixturesDir.c_str());
  if (!d) throw std::runtime_error("--rpc-fixtures: cannot open " + rpcFixturesDir);
  std::vector<std::string> names;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    const std::string suffix = ".exchange.json";
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) names.push_back(n);
  }
  closedir(d);
  for (auto& n : names) {
    std::ifstream in(rpcFixturesDir + "/" + n, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<capnp::JsonValue>();
    capnp::JsonCodec().decodeRaw(kj::arrayPtr(text.data(), text.size()), root);
    auto request = root.isObject() ? rpc::find(root.asReader(), "request") : std::nullopt;
    auto response = root.isObject() ? rpc::find(root.asReader(), "response") : std::nullopt;
    if (!request || !response || !request->isString() || !response->isString()) {
      throw std::runtime_error("--rpc-fixtures: " + n + " is not {\"request\": TEXT, \"response\": TEXT}");
    }
    rpcExchanges[request->getString().cStr()] = response->getString().cStr();
  }
}

// ---- Node/Chain getters of the branches: the answers that need more than one line ----

// Node.getNodesStats: one NodeStats per peer of every `set peers` group, in order, with the
// fields a node fills (addresses and byte counts made up per peer; the enum values as set), and
// stateStats as the node gives it when cs_main was free.
kj::Promise<void> NodeImpl::getNodesStats(GetNodesStatsContext c) {
  return p.onThread(c.getParams().getContext(), "getNodesStats", [this, c]() mutable {
    size_t n = 0;
    for (auto& g : p.b.peers) n += g.count;
    auto results = c.getResults();
    results.setResult(p.b.nodesStatsResult);
    if (!p.b.nodesStatsResult) return;
    auto list = results.initStats(n);
    size_t i = 0;
    for (auto& g : p.b.peers) {
      for (size_t k = 0; k < g.count; k++, i++) {
        auto s = list[i];
        s.setNodeid((int64_t)i);
        s.setTimeConnected(1795482000);
        std::string addr = "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
                           std::to_string(i & 255) + ":18444";
        s.setAddrName(addr);
        s.setVersion(70016);
        s.setCleanSubVer("/Satoshi:30.99.0/");
        s.setInbound(g.inbound);
        s.setStartingHeight(105);
        s.setSendBytes(1000 + i);
        s.setRecvBytes(2000 + i);
        auto sent = s.initSendBytesPerMsgType(2);
        sent[0].setKey("ping");
        sent[0].setValue(32);
        sent[1].setKey("version");
        sent[1].setValue(127);
        s.setNetwork(g.network);
        s.setConnType(g.connType);
        s.setTransportType(g.transport);
        s.setMinPingTime(g.minPingUs);
        s.setBip152HighbandwidthTo(g.hbTo);
        s.setBip152HighbandwidthFrom(g.hbFrom);
        s.setSessionId(g.transport == 2 ? std::string(64, 'a') : "");
        auto st = s.initStateStats();
        st.setSyncHeight(105);
        st.setCommonHeight(105);
        st.setStartingHeight(105);
      }
    }
  });
}

// Node.getBanned: Banmap.json as BanMapToJson(banmap).write() writes it (an array of
// {"version","ban_created","banned_until","address"} objects), or the `set banmap` text verbatim.
kj::Promise<void> NodeImpl::getBanned(GetBannedContext c) {
  return p.onThread(c.getParams().getContext(), "getBanned", [this, c]() mutable {
    auto results = c.getResults();
    results.setResult(p.b.bannedResult);
    if (!p.b.bannedResult) return;
    std::string json;
    KJ_IF_MAYBE (raw, p.b.banmapRaw) {
      json = *raw;
    } else {
      json = "[";
      for (size_t i = 0; i < p.b.banned; i++) {
        if (i) json += ",";
        json += "{\"version\":1,\"ban_created\":1795482000,\"banned_until\":1795568400,\"address\":\"10." +
                std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255) +
                "/32\"}";
      }
      json += "]";
    }
    results.initBanmap().setJson(json);
  });
}

// Node.executeRpc(command, params, uri): NodeImpl::executeRpc runs `command` through the node's
// RPC table (tableRPC.execute) with `params` read into a UniValue (text that is not JSON reads as
// null, which methods take as no arguments). The result UniValue comes back as JSON text in
// `result`; a thrown JSONRPCError (a UniValue) as its JSON in `rpcError`; a std::exception's
// what() in `error` (libmultiprocess's $Proxy.exception fields). The method is answered like
// executeRpc's: an `rpc` override, the chain model, a recorded answer, else "Method not found".
void Peer::nodeExecuteRpc(const std::string& command, const std::string& params, Node::ExecuteRpcResults::Builder out) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<capnp::JsonValue>();
  bool parsed;
  try {
    capnp::JsonCodec codec;
    codec.setMaxNestingDepth(512);
    codec.decodeRaw(kj::arrayPtr(params.data(), params.size()), root);
    parsed = !rpc::hasCall(root.asReader());
  } catch (kj::Exception&) {
    parsed = false;
  }
  rpc::Request r;
  r.v2 = true;
  r.method = command;
  if (parsed && (root.isArray() || root.isObject())) r.params = root.asReader();
  try {
    out.setResult(rpcMethod(*this, r));
  } catch (rpc::Error& e) {
    out.setRpcError("{\"code\":" + std::to_string(e.code) + ",\"message\":" + rpc::quote(e.message) + "}");
  } catch (rpc::RuntimeError& e) {
    out.setError(e.what);
  }
}

// `set` commands for the values above. Returns false for a setting that is not one of them.
static bool setBranchValue(Peer& p, const std::vector<std::string>& a) {
  auto& b = p.b;
  const std::string& m = a.at(1);
  auto arg = [&](size_t i) -> const std::string& {
    if (i >= a.size()) throw std::invalid_argument("set " + m + ": missing argument " + std::to_string(i - 1));
    return a[i];
  };
  // A fee rate in sat/kvB (size 1000, as the node's own rates), or `none` for CFeeRate{} (0 per 0 vB).
  auto rate = [&](const std::string& x) { return x == "none" ? FeeRate{0, 0} : perKvB(std::stoll(x)); };
  if (m == "peers") {
    if (arg(2) == "none") {
      b.peers.clear();
    } else {
      if (a.size() != 7 && a.size() != 10) {
        throw std::invalid_argument(
            "usage: set peers <count> <inbound 0|1> <network> <connType> <transport> "
            "[<minPingUs|none> <hbTo 0|1> <hbFrom 0|1>] | none");
      }
      PeerGroup g{std::stoul(a[2]), a[3] == "1", std::stoi(a[4]), std::stoi(a[5]), (uint8_t)std::stoul(a[6])};
      if (a.size() == 10) {
        g.minPingUs = a[7] == "none" ? INT64_MAX : std::stoll(a[7]);
        g.hbTo = a[8] == "1";
        g.hbFrom = a[9] == "1";
      }
      b.peers.push_back(g);
    }
  } else if (m == "nodesStatsResult") {
    b.nodesStatsResult = arg(2) == "1";
  } else if (m == "banned") {
    b.banned = std::stoul(arg(2));
    b.banmapRaw = nullptr;
  } else if (m == "banmap") {
    // The rest of the words, joined by single spaces: Banmap.json verbatim (need not be JSON).
    std::string raw;
    for (size_t i = 2; i < a.size(); i++) raw += (i > 2 ? " " : "") + a[i];
    b.banmapRaw = raw;
  } else if (m == "bannedResult") {
    b.bannedResult = arg(2) == "1";
  } else if (m == "networkActive") {
    b.networkActive = arg(2) == "1";
  } else if (m == "feeEstimate") {
    int32_t target = std::stoi(arg(2));
    if (arg(3) == "none") b.feeEstimates.erase(target);
    else b.feeEstimates[target] = perKvB(std::stoll(a[3]));
  } else if (m == "mempoolMinFee") {
    b.mempoolMinFee = rate(arg(2));
  } else if (m == "relayMinFee") {
    b.relayMinFee = rate(arg(2));
  } else if (m == "relayIncrementalFee") {
    b.relayIncrementalFee = rate(arg(2));
  } else if (m == "relayDustFee") {
    b.relayDustFee = rate(arg(2));
  } else if (m == "pruned") {
    b.pruned = arg(2) == "1";
    b.pruneHeight = a.size() > 3 ? kj::Maybe<int32_t>(std::stoi(a[3])) : kj::Maybe<int32_t>(nullptr);
  } else if (m == "warnings") {
    std::string text;
    for (size_t i = 2; i < a.size(); i++) text += (i > 2 ? " " : "") + a[i];
    b.warnings = text == "none" ? "" : text;
  } else if (m == "lastBlockTime") {
    b.lastBlockTime = std::stoll(arg(2));
  } else if (m == "netLocalAddresses") {
    b.netLocalAddresses = std::stoul(arg(2));
  } else {
    return false;
  }
  return true;
}

// ---- events ----

kj::Promise<double> Peer::fire(const std::vector<std::string>& a) {
  const std::string& ev = a.at(0);
  Subscription* target = nullptr;
  SubKind kind = ev.rfind("utxo", 0) == 0 ? SubKind::Utxo : SubKind::Notifications;
  for (auto& s : subs)
    if (s->live && s->kind == kind) target = s.get();
  if (!target) return KJ_EXCEPTION(FAILED, "no-subscription");
  // The round-trip is timed from the send, not from building the request.
  Clock::time_point start;
#define SEND(r) (start = Clock::now(), (r).send().ignoreResult())
  kj::Promise<void> sent = nullptr;
  if (kind == SubKind::Utxo) {
    UtxoCacheTrace::Client cb = KJ_ASSERT_NONNULL(target->utxo);
    auto fill = [&](UtxoInfo::Builder u) {
      auto hash = kj::heapArray<capnp::byte>(32);
      for (size_t i = 0; i < 32; i++) hash[i] = (capnp::byte)i;
      u.setOutpointHash(hash);
      u.setValue(std::stoll(a.at(1)));
      u.setHeight((uint32_t)std::stoul(a.at(2)));
      u.setOutpointN((uint32_t)std::stoul(a.at(3)));
      u.setIsCoinbase(a.at(4) == "1");
    };
    if (ev == "utxoAdd") {
      auto r = cb.addRequest();
      fill(r.initUtxoInfo());
      sent = SEND(r);
    } else if (ev == "utxoSpend") {
      auto r = cb.spendRequest();
      fill(r.initUtxoInfo());
      sent = SEND(r);
    } else if (ev == "utxoUncache") {
      auto r = cb.uncacheRequest();
      fill(r.initUtxoInfo());
      sent = SEND(r);
    } else {
      return KJ_EXCEPTION(FAILED, "unknown event");
    }
  } else {
    ChainNotifications::Client cb = KJ_ASSERT_NONNULL(target->notifications);
    if (ev == "blockConnected" || ev == "blockDisconnected") {
      bool connected = ev == "blockConnected";
      auto fillBlock = [&](BlockInfo::Builder b) {
        auto hash = fromHex(a.at(2));
        std::reverse(hash.begin(), hash.end());
        b.setHash(hash);
        b.setPrevHash(kj::heapArray<capnp::byte>(32));
        b.setHeight(std::stoi(a.at(1)));
        b.setFileNumber(3);
        b.setDataPos(4000000000u);
        b.setChainTimeMax(4000000001u);
        // [dataBytes]: that many zero bytes; [hex:<block>]: that serialized block.
        if (connected && a.size() > 4 && a.at(4).rfind("hex:", 0) == 0) b.setData(fromHex(a.at(4).substr(4)));
        else if (connected && a.size() > 4) b.initData(std::stoul(a.at(4)));
      };
      if (connected && flavour == "pr-ipc") {
        // pr/ipc of 2024: blockConnected(context, role :UInt32, block), kernel::ChainstateRole
        // (NORMAL 0, BACKGROUND 1): the role in the data section, the block at pointer 1.
        auto r = cb.typelessRequest(capnp::typeId<ChainNotifications>(), 3, nullptr);
        auto st = r.initAsAnyStruct(1, 2);
        uint32_t role = a.at(3) == "1" ? 1 : 0;
        memcpy(st.getDataSection().begin(), &role, sizeof role);
        fillContext(st.getPointerSection()[0].initAs<Context>());
        fillBlock(st.getPointerSection()[1].initAs<BlockInfo>());
        sent = SEND(r);
      } else if (connected) {
        auto r = cb.blockConnectedRequest();
        fillContext(r.initContext());
        bool historical = a.at(3) == "1";
        r.initRole().setValidated(!historical);
        r.getRole().setHistorical(historical);
        fillBlock(r.initBlock());
        sent = SEND(r);
      } else {
        auto r = cb.blockDisconnectedRequest();
        fillContext(r.initContext());
        fillBlock(r.initBlock());
        sent = SEND(r);
      }
    } else if (ev == "txAdded") {
      auto r = cb.transactionAddedToMempoolRequest();
      fillContext(r.initContext());
      r.setTx(fromHex(a.at(1)));
      sent = SEND(r);
    } else if (ev == "txRemoved") {
      auto r = cb.transactionRemovedFromMempoolRequest();
      fillContext(r.initContext());
      r.setTx(fromHex(a.at(1)));
      r.setReason(std::stoi(a.at(2)));
      sent = SEND(r);
    } else if (ev == "updatedBlockTip") {
      auto r = cb.updatedBlockTipRequest();
      fillContext(r.initContext());
      sent = SEND(r);
    } else if (ev == "chainStateFlushed" && flavour == "pr-ipc") {
      // pr/ipc of 2024: chainStateFlushed(context, role :UInt32, locator): the locator at pointer 1.
      auto r = cb.typelessRequest(capnp::typeId<ChainNotifications>(), 6, nullptr);
      auto st = r.initAsAnyStruct(1, 2);
      uint32_t role = a.at(1) == "1" ? 1 : 0;
      memcpy(st.getDataSection().begin(), &role, sizeof role);
      fillContext(st.getPointerSection()[0].initAs<Context>());
      st.getPointerSection()[1].setAs<capnp::Data>(fromHex(a.at(2)));
      sent = SEND(r);
    } else if (ev == "chainStateFlushed") {
      auto r = cb.chainStateFlushedRequest();
      fillContext(r.initContext());
      bool historical = a.at(1) == "1";
      r.initRole().setValidated(!historical);
      r.getRole().setHistorical(historical);
      r.setLocator(fromHex(a.at(2)));
      sent = SEND(r);
    } else {
      return KJ_EXCEPTION(FAILED, "unknown event");
    }
  }
#undef SEND
  return sent.then(
      [start]() { return std::chrono::duration<double, std::micro>(Clock::now() - start).count(); },
      [this, ev](kj::Exception&& e) -> double {
        // The node dies when a client answers its callback with an exception.
        if (e.getType() != kj::Exception::Type::DISCONNECTED) hazard("callback-exception " + ev, 70);
        kj::throwFatalException(kj::mv(e));
      });
}

// Text safe for one `key=value` status field: bytes up to space, DEL and % percent-encoded.
static std::string statusText(const kj::Maybe<std::string>& v) {
  KJ_IF_MAYBE (text, v) {
    std::string out;
    for (unsigned char ch : *text) {
      if (ch <= 0x20 || ch == 0x7f || ch == '%') {
        char b[4];
        snprintf(b, sizeof b, "%%%02X", ch);
        out += b;
      } else {
        out += (char)ch;
      }
    }
    return out;
  }
  return "-";
}

void Peer::status() {
  std::string callsText;
  for (auto& [k, n] : calls) callsText += (callsText.empty() ? "" : ",") + k + ":" + std::to_string(n);
  std::string waitTimeout = "none";
  KJ_IF_MAYBE (t, lastWaitTimeoutMs) {
    char b[400];
    snprintf(b, sizeof b, "%.0f", *t);
    waitTimeout = b;
  }
  say("ok connected=" + std::to_string(conn ? 1 : 0) + " threads=" + std::to_string(threads) +
      " notifications=" + std::to_string(live(SubKind::Notifications)) + " utxo=" + std::to_string(live(SubKind::Utxo)) +
      " handler_disconnects=" + std::to_string(handlerDisconnects) + " client_threadmap=" +
      std::to_string(clientThreadMapGiven ? 1 : 0) + " node_count_flags=" + std::to_string(nodeCountFlags) +
      " calls=" + (callsText.empty() ? "-" : callsText) + " flavour=" + flavour + " waiters=" +
      std::to_string(tipWaiters.size()) + " last_wait_timeout_ms=" + waitTimeout + " rpc_last_uri=" +
      statusText(rpcLastUri) + " rpc_last_user=" + statusText(rpcLastUser) +
      " fee_estimate_last=" + statusText(b.lastFeeEstimate) + " templates_live=" + std::to_string(templatesLive) +
      " held=" + std::to_string(stallWaiters.size()));
}

// Repeats `fire` n times back to back.
kj::Promise<void> repeat(Peer& p, std::vector<std::string> ev, size_t n, std::vector<double>& out) {
  if (out.size() >= n) return kj::READY_NOW;
  return p.fire(ev).then([&p, ev, n, &out](double us) mutable {
    out.push_back(us);
    return repeat(p, kj::mv(ev), n, out);
  });
}

// ---- scripted sequences: `script <rounds> <file>` (bench/bench.ts's block mix) ----

// Fires every line of `lines` (the arguments of one `fire` each) back to back, each only after the
// previous answer, `rounds` times; answers with the per-round sum of round trips (what the node's
// threads spent waiting for the client), the per-round wall time (the peer's own request building
// included) and the per-callback round trips.
std::string runScript(Peer& p, kj::WaitScope& ws, size_t rounds, const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("cannot read script " + file);
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    auto a = split(line);
    if (!a.empty() && a[0][0] != '#') lines.push_back(kj::mv(a));
  }
  if (lines.empty()) throw std::invalid_argument("script " + file + " has no events");
  std::vector<double> sums, walls, rtts;
  sums.reserve(rounds);
  walls.reserve(rounds);
  rtts.reserve(rounds * lines.size());
  auto t0 = Clock::now();
  for (size_t r = 0; r < rounds; r++) {
    auto w0 = Clock::now();
    double sum = 0;
    for (auto& ev : lines) {
      double us = p.fire(ev).wait(ws);
      sum += us;
      rtts.push_back(us);
    }
    sums.push_back(sum);
    walls.push_back(std::chrono::duration<double, std::micro>(Clock::now() - w0).count());
  }
  double total = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(walls.begin(), walls.end());
  // The per-callback statistics, their keys prefixed `cb_`.
  std::string cb;
  for (auto& kv : split(statsLine(rtts, total).substr(3))) cb += " cb_" + kv;
  return statsLine(sums, total) + " callbacks=" + std::to_string(lines.size()) + " wall_p50_us=" +
         fmt(walls[walls.size() / 2]) + cb;
}

class ErrorHandler final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& e) override { say(std::string("! task-failed ") + e.getDescription().cStr()); }
};

struct Server {
  Peer& p;
  explicit Server(Peer& p) : p(p) {}

  kj::Promise<void> listen() {
    unlink(p.socketPath.c_str());
    return p.io.provider->getNetwork().parseAddress(("unix:" + p.socketPath).c_str()).then([this](kj::Own<kj::NetworkAddress> addr) {
      p.listener = addr->listen();
      say("! listening " + p.socketPath);
      return acceptLoop();
    });
  }

  kj::Promise<void> acceptLoop() {
    return p.listener->accept().then([this](kj::Own<kj::AsyncIoStream> s) -> kj::Promise<void> {
      if (p.conn) {
        // One client at a time, like the tests need; refuse extras.
        return acceptLoop();
      }
      reset();
      p.conn = kj::heap<Peer::Conn>(p, kj::mv(s));
      say("! connected");
      auto* c = p.conn.get();
      return c->network.onDisconnect().then([this, c]() -> kj::Promise<void> {
        if (p.conn.get() == c) {
          if (!c->droppedByUs && p.anyLive()) p.hazard("disconnect-with-live-subscription", 71);
          // bitcoin/bitcoin#34250: a stock v30 node can crash when the client goes away while a
          // Mining.waitTipChanged is in flight (fixed in 31.x).
          if (!c->droppedByUs && p.flavour == "v30" && !p.tipWaiters.empty()) p.hazard("disconnect-during-wait", 72);
          closeConn();
        }
        return acceptLoop();
      });
    });
  }

  void reset() {
    p.threads = 0;
    p.clientThreadMapGiven = false;
    p.clientThreadMap = nullptr;
    p.callbackThread = nullptr;
    p.handlerDisconnects = 0;
    p.calls.clear();
    p.nodeCountFlags = -1;
    p.lastWaitTimeoutMs = nullptr;
    p.rpcLastUri = nullptr;
    p.rpcLastUser = nullptr;
    p.b.lastFeeEstimate = nullptr;
  }

  void closeConn() {
    if (!p.conn) return;
    for (auto& s : p.subs) s->live = false;
    p.callbackThread = nullptr;
    p.clientThreadMap = nullptr;
    auto old = kj::mv(p.conn);
    p.subs.clear();
    // The client is gone: waits in progress return with no result, as on the node's shutdown path.
    p.interruptWaits(0);
    p.unstall();
    say("! disconnected");
    // Destroy on a later turn: we may be inside one of its callbacks.
    p.tasks->add(kj::evalLater([old = kj::mv(old)]() mutable { old = nullptr; }));
  }
};

}  // namespace

static int runServer(const std::string& path, bool noCrash, const std::string& flavour, const std::string& rpcFixtures) {
  auto io = kj::setupAsyncIo();
  Peer p(io, path, noCrash);
  p.flavour = flavour;
  p.rpcFixturesDir = rpcFixtures;
  p.loadRpcExchanges();
  g_peer = &p;
  ErrorHandler errors;
  kj::TaskSet tasks(errors);
  p.tasks = &tasks;
  Server server(p);
  kj::Promise<void> serving = server.listen().eagerlyEvaluate([](kj::Exception&& e) {
    say(std::string("! listen-failed ") + e.getDescription().cStr());
    _exit(2);
  });

  auto stdinStream = io.lowLevelProvider->wrapInputFd(0);
  std::string buffered;
  char buf[65536];
  bool quit = false;
  while (!quit) {
    size_t n = stdinStream->tryRead(buf, 1, sizeof buf).wait(io.waitScope);
    if (n == 0) break;
    buffered.append(buf, n);
    size_t nl;
    while ((nl = buffered.find('\n')) != std::string::npos) {
      std::string line = buffered.substr(0, nl);
      buffered.erase(0, nl + 1);
      auto a = split(line);
      if (a.empty()) continue;
      try {
        const std::string& cmd = a[0];
        if (cmd == "quit") {
          say("ok");
          quit = true;
          break;
        } else if (cmd == "status") {
          p.status();
        } else if (cmd == "set" && a.size() >= 3 && setBranchValue(p, a)) {
          say("ok");
        } else if (cmd == "set" && a.size() >= 3) {
          const std::string& m = a[1];
          const std::string& x = a[2];
          auto& v = p.v;
          if (m == "getHeight") v.height = x == "none" ? kj::Maybe<int32_t>(nullptr) : kj::Maybe<int32_t>(std::stoi(x));
          else if (m == "isInitialBlockDownload") v.ibd = x == "1";
          else if (m == "getHeaderTip") {
            v.headerTip = x == "none" ? kj::Maybe<int32_t>(nullptr) : kj::Maybe<int32_t>(std::stoi(x));
            if (a.size() > 3) v.headerTime = std::stoll(a[3]);
          } else if (m == "getVerificationProgress") v.progress = std::stod(x);
          else if (m == "getMempoolSize") v.mempoolSize = std::stoull(x);
          else if (m == "getMempoolDynamicUsage") v.mempoolDynamicUsage = std::stoull(x);
          else if (m == "getMempoolMaxUsage") v.mempoolMaxUsage = std::stoull(x);
          else if (m == "getNodeCount") v.nodeCount = std::stoull(x);
          else if (m == "getTotalBytesRecv") v.bytesRecv = std::stoll(x);
          else if (m == "getTotalBytesSent") v.bytesSent = std::stoll(x);
          else if (m == "getNumBlocks") v.numBlocks = std::stoi(x);
          else if (m == "tip") {
            if (a.size() < 4 || a.size() > 5) throw std::invalid_argument("usage: set tip <height> <hash-hex> [<prevhash-hex>]");
            std::string hash = lower(a[3]), prev = a.size() > 4 ? lower(a[4]) : "";
            if (hash.size() != 64 || !isHex(hash) || (!prev.empty() && (prev.size() != 64 || !isHex(prev)))) {
              throw std::invalid_argument("set tip: hashes are 64 hex digits");
            }
            p.setTip(std::stoi(x), hash, prev);
          } else if (m == "chainTxCount") {
            // getchaintxstats' txcount (the chain model's), `none`: unknown (left out of the answer).
            p.chainTxCount = x == "none" ? -1 : std::stoll(x);
          } else if (m == "tips") {
            // Several blocks connected in one go (as `generatetoaddress 3`): each remembered with its
            // header time, the last made the tip, the waiters woken once.
            // `set tips <height> <hash>:<prevhash>:<time> ...`: the first at <height>, then one up each.
            if (a.size() < 4) throw std::invalid_argument("usage: set tips <height> <hash>:<prevhash>:<time>...");
            int32_t h = std::stoi(x);
            for (size_t i = 3; i < a.size(); i++, h++) {
              std::string spec = lower(a[i]);
              if (spec.size() < 130 || spec[64] != ':' || spec[129] != ':') {
                throw std::invalid_argument("set tips: each block is <hash>:<prevhash>:<time>");
              }
              std::string hash = spec.substr(0, 64), prev = spec.substr(65, 64);
              if (!isHex(hash) || !isHex(prev)) throw std::invalid_argument("set tips: hashes are 64 hex digits");
              auto& b = p.blocks[hash];
              b.height = h;
              b.prev = prev;
              b.time = std::stoll(spec.substr(130));
              if (i + 1 == a.size()) p.setTip(h, hash, prev);
            }
          } else throw std::invalid_argument("unknown setting " + m);
          say("ok");
        } else if (cmd == "rpc" && a.size() >= 3) {
          // The rest of the line after the method, as typed: raw JSON, or `error CODE MESSAGE...`.
          size_t at = line.find(a[1], line.find("rpc") + 3) + a[1].size();
          std::string rest = line.substr(line.find_first_not_of(" \t", at));
          while (!rest.empty() && isspace((unsigned char)rest.back())) rest.pop_back();
          if (a[2] == "none" && a.size() == 3) {
            p.rpcOverrides.erase(a[1]);
          } else if (a[2] == "error" && a.size() >= 4) {
            RpcOverride o;
            o.isError = true;
            o.code = std::stoi(a[3]);
            size_t msgAt = rest.find(a[3], 5) + a[3].size();
            size_t msgStart = rest.find_first_not_of(" \t", msgAt);
            o.message = msgStart == std::string::npos ? "" : rest.substr(msgStart);
            p.rpcOverrides[a[1]] = o;
          } else {
            capnp::MallocMessageBuilder check;
            try {
              capnp::JsonCodec().decodeRaw(kj::arrayPtr(rest.data(), rest.size()), check.initRoot<capnp::JsonValue>());
            } catch (kj::Exception& e) {
              throw std::invalid_argument("rpc " + a[1] + ": not JSON: " + rest);
            }
            RpcOverride o;
            o.raw = rest;
            p.rpcOverrides[a[1]] = o;
          }
          say("ok");
        } else if (cmd == "throw" && a.size() == 2) {
          if (a[1] == "none") p.throwing.clear();
          else p.throwing.insert(a[1]);
          say("ok");
        } else if (cmd == "stall" && a.size() == 2) {
          if (a[1] == "none") p.unstall();
          else p.stalled.insert(a[1]);
          say("ok");
        } else if (cmd == "fire" && a.size() >= 2) {
          std::vector<std::string> ev(a.begin() + 1, a.end());
          try {
            double us = p.fire(ev).wait(io.waitScope);
            say("ok rtt_us=" + fmt(us));
          } catch (kj::Exception& e) {
            say(std::string("err ") + e.getDescription().cStr());
          }
        } else if (cmd == "repeat" && a.size() >= 4 && a[2] == "fire") {
          size_t n = std::stoul(a[1]);
          std::vector<std::string> ev(a.begin() + 3, a.end());
          std::vector<double> out;
          out.reserve(n);
          auto t0 = Clock::now();
          try {
            repeat(p, ev, n, out).wait(io.waitScope);
            say(statsLine(out, std::chrono::duration<double>(Clock::now() - t0).count()));
          } catch (kj::Exception& e) {
            say(std::string("err after ") + std::to_string(out.size()) + ": " + e.getDescription().cStr());
          }
        } else if (cmd == "script" && a.size() == 3) {
          say(runScript(p, io.waitScope, std::stoul(a[1]), a[2]));
        } else if (cmd == "drop") {
          if (p.conn) {
            p.conn->droppedByUs = true;
            server.closeConn();
          }
          say("ok");
        } else if (cmd == "garbage" && a.size() == 2) {
          if (!p.conn) throw std::invalid_argument("not connected");
          auto bytes = fromHex(a[1]);
          p.conn->stream->inner->write(bytes.begin(), bytes.size()).wait(io.waitScope);
          say("ok");
        } else if (cmd == "restart") {
          if (p.conn) {
            p.conn->droppedByUs = true;
            server.closeConn();
          }
          p.listener = nullptr;
          serving = server.listen().eagerlyEvaluate([](kj::Exception&& e) {
            say(std::string("! listen-failed ") + e.getDescription().cStr());
          });
          io.provider->getTimer().afterDelay(10 * kj::MILLISECONDS).wait(io.waitScope);
          say("ok");
        } else {
          say("err unknown command: " + line);
        }
      } catch (std::exception& e) {
        say(std::string("err ") + e.what());
      } catch (kj::Exception& e) {
        say(std::string("err ") + e.getDescription().cStr());
      }
    }
    // Let pending work (answers, releases) run between commands.
    io.provider->getTimer().afterDelay(0 * kj::MILLISECONDS).wait(io.waitScope);
  }
  if (p.conn) {
    p.conn->droppedByUs = true;
    server.closeConn();
  }
  unlink(path.c_str());
  fflush(stdout);
  _exit(0);
}

// ---- the C++ client: the reference for measurements ----

namespace {
class ClientThreadImpl final : public Thread::Server {
 public:
  kj::Promise<void> getName(GetNameContext c) override {
    c.getResults().setResult("cxx-client");
    return kj::READY_NOW;
  }
};
class ClientThreadMap final : public ThreadMap::Server {
 public:
  kj::Promise<void> makeThread(MakeThreadContext c) override {
    c.getResults().setResult(kj::heap<ClientThreadImpl>());
    return kj::READY_NOW;
  }
};
class NoopNotifications final : public ChainNotifications::Server {
 public:
  kj::Promise<void> destroy(DestroyContext) override { return kj::READY_NOW; }
  kj::Promise<void> transactionAddedToMempool(TransactionAddedToMempoolContext) override { return kj::READY_NOW; }
  kj::Promise<void> transactionRemovedFromMempool(TransactionRemovedFromMempoolContext) override { return kj::READY_NOW; }
  kj::Promise<void> blockConnected(BlockConnectedContext) override { return kj::READY_NOW; }
  kj::Promise<void> blockDisconnected(BlockDisconnectedContext) override { return kj::READY_NOW; }
  kj::Promise<void> updatedBlockTip(UpdatedBlockTipContext) override { return kj::READY_NOW; }
  kj::Promise<void> chainStateFlushed(ChainStateFlushedContext) override { return kj::READY_NOW; }
};
class NoopUtxo final : public UtxoCacheTrace::Server {
 public:
  kj::Promise<void> destroy(DestroyContext) override { return kj::READY_NOW; }
  kj::Promise<void> add(AddContext) override { return kj::READY_NOW; }
  kj::Promise<void> spend(SpendContext) override { return kj::READY_NOW; }
  kj::Promise<void> uncache(UncacheContext) override { return kj::READY_NOW; }
};
}  // namespace

static int runClient(const std::string& path, long benchCalls, bool subscribe) {
  auto io = kj::setupAsyncIo();
  auto& ws = io.waitScope;
  auto addr = io.provider->getNetwork().parseAddress(("unix:" + path).c_str()).wait(ws);
  auto stream = addr->connect().wait(ws);
  capnp::TwoPartyClient client(*stream);
  auto init = client.bootstrap().castAs<Init>();
  auto cr = init.constructRequest();
  cr.setThreadMap(kj::heap<ClientThreadMap>());
  auto threadMap = cr.send().wait(ws).getThreadMap();
  auto tr = threadMap.makeThreadRequest();
  tr.setName("cxx-client");
  Thread::Client thread = tr.send().wait(ws).getResult();
  auto mc = init.makeChainRequest();
  mc.initContext().setThread(thread);
  Chain::Client chain = mc.send().wait(ws).getResult();
  if (benchCalls > 0) {
    std::vector<double> us;
    us.reserve(benchCalls);
    auto t0 = Clock::now();
    for (long i = 0; i < benchCalls; i++) {
      auto a = Clock::now();
      auto r = chain.getHeightRequest();
      r.initContext().setThread(thread);
      r.send().wait(ws);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
    }
    say(statsLine(us, std::chrono::duration<double>(Clock::now() - t0).count()));
    return 0;
  }
  if (subscribe) {
    auto hn = chain.handleNotificationsRequest();
    hn.initContext().setThread(thread);
    hn.setNotifications(kj::heap<NoopNotifications>());
    Handler::Client h1 = hn.send().wait(ws).getResult();
    auto mt = init.makeTracingRequest();
    mt.initContext().setThread(thread);
    Tracing::Client tracing = mt.send().wait(ws).getResult();
    auto tu = tracing.traceUtxoCacheRequest();
    tu.initContext().setThread(thread);
    tu.setCallback(kj::heap<NoopUtxo>());
    Handler::Client h2 = tu.send().wait(ws).getResult();
    say("! subscribed");
    auto in = io.lowLevelProvider->wrapInputFd(0);
    char buf[256];
    std::string line;
    for (;;) {
      size_t n = in->tryRead(buf, 1, sizeof buf).wait(ws);
      if (n == 0) break;
      line.append(buf, n);
      if (line.find("quit") != std::string::npos) break;
    }
    for (Handler::Client* h : {&h1, &h2}) {
      auto d = h->disconnectRequest();
      d.initContext().setThread(thread);
      d.send().wait(ws);
    }
    say("ok");
  }
  return 0;
}

int main(int argc, char** argv) {
  std::string socket, client, flavour = "branch", rpcFixtures;
  bool noCrash = false, subscribe = false;
  long benchCalls = 0;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) socket = argv[++i];
    else if (a == "--client" && i + 1 < argc) client = argv[++i];
    else if (a == "--bench-calls" && i + 1 < argc) benchCalls = std::stol(argv[++i]);
    else if (a == "--subscribe-utxo") subscribe = true;
    else if (a == "--no-crash") noCrash = true;
    else if (a == "--flavour" && i + 1 < argc) flavour = argv[++i];
    else if (a == "--rpc-fixtures" && i + 1 < argc) rpcFixtures = argv[++i];
    else {
      fprintf(stderr,
              "usage: bitcoind-ipc-test-peer --socket PATH [--no-crash] [--flavour F] [--rpc-fixtures DIR]"
              " | --client PATH (--bench-calls N | --subscribe-utxo)\n");
      return 2;
    }
  }
  try {
    if (!client.empty()) return runClient(client, benchCalls, subscribe);
    if (socket.empty()) {
      fprintf(stderr, "--socket PATH is required\n");
      return 2;
    }
    if (flavour == "v32") flavour = "master";  // stock master is what becomes v32
    if (flavour != "branch" && flavour != "branch-notrace" && flavour != "pr-ipc" && flavour != "chain5-node" &&
        flavour != "chain5" && flavour != "v30" && flavour != "v31" && flavour != "master") {
      fprintf(stderr, "--flavour must be branch, branch-notrace, pr-ipc, chain5-node, chain5, v30, v31, master or v32\n");
      return 2;
    }
    return runServer(socket, noCrash, flavour, rpcFixtures);
  } catch (kj::Exception& e) {
    fprintf(stderr, "bitcoind-ipc-test-peer: %s\n", e.getDescription().cStr());
    return 1;
  } catch (std::exception& e) {
    fprintf(stderr, "bitcoind-ipc-test-peer: %s\n", e.what());
    return 1;
  }
}
