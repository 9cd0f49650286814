// bitcoind-ipc-test-peer: plays Bitcoin Core's bitcoin-node (multiprocess pr/trace flavour) on a Unix
// socket, built on the reference C++ Cap'n Proto library, so the TypeScript client is tested against
// an independent implementation of the wire protocol. Scripted through stdin; see README.md.
//
// Where a client can tell the difference, it behaves like libmultiprocess: calls must carry a
// Context.thread that is one of our Threads ("invalid thread handle" otherwise); two calls at once
// on one Thread are refused ("thread busy", as libmultiprocess before it queued them); callbacks
// carry a Context whose thread is made through the client's ThreadMap (a pipelined promise, so the
// client sees senderPromise + Resolve; a broken one when the client gave no ThreadMap). And it dies
// where the real node dies: a client closing the socket with a subscription live (exit 71), a client
// answering a callback with an exception (exit 70).

#include <capnp/capability.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/debug.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
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
  int32_t tipHeight = 105;
  std::string tipHash = std::string(64, '0');
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
  // "branch" (pr/trace: Chain, Node, Tracing), "pr-ipc" (no Tracing), "v31" (stock release: no
  // makeChain/makeNode), "master" (stock master: makeChain's ordinal is makeRpc, an Rpc object).
  std::string flavour = "branch";
  Values v;
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
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> tipWaiters;
  // connection
  struct Conn;
  kj::Own<Conn> conn;
  kj::Own<kj::ConnectionReceiver> listener;
  kj::TaskSet* tasks = nullptr;

  Peer(kj::AsyncIoContext& io, std::string path, bool noCrash) : io(io), socketPath(kj::mv(path)), noCrash(noCrash) {}

  void hazard(const std::string& what, int code) {
    if (noCrash) {
      say("! hazard " + what);
      return;
    }
    say("! crash " + what);
    _exit(code);
  }

  kj::Promise<void> gate(const std::string& method) {
    if (!stalled.count(method)) return kj::READY_NOW;
    auto pf = kj::newPromiseAndFulfiller<void>();
    stallWaiters.push_back(kj::mv(pf.fulfiller));
    return kj::mv(pf.promise);
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
    calls[method]++;
    if (!ctx.hasThread()) return KJ_EXCEPTION(FAILED, "std::exception: invalid thread handle");
    auto thread = kj::heap<Thread::Client>(ctx.getThread());
    auto& ref = *thread;
    return threadSet.getLocalServer(ref)
        .attach(kj::mv(thread))
        .then([this, method, body = kj::mv(body)](kj::Maybe<Thread::Server&> found) mutable -> kj::Promise<void> {
          ThreadImpl* t = nullptr;
          KJ_IF_MAYBE (s, found) { t = static_cast<ThreadImpl*>(s); }
          if (!t) throw std::runtime_error("invalid thread handle");
          if (t->busy) throw std::runtime_error("thread busy");
          t->busy = true;
          return gate(method)
              .then([this, method, body = kj::mv(body)]() mutable {
                if (throwing.count(method)) {
                  kj::throwFatalException(KJ_EXCEPTION(FAILED, ("test peer: " + method + " failed").c_str()));
                }
                body();
              })
              .attach(kj::defer([t] { t->busy = false; }));
        });
  }

  template <typename F>
  kj::Promise<void> plain(const std::string& method, F body) {
    calls[method]++;
    return gate(method).then([this, method, body = kj::mv(body)]() mutable {
      if (throwing.count(method)) kj::throwFatalException(KJ_EXCEPTION(FAILED, ("test peer: " + method + " failed").c_str()));
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

class ChainImpl final : public Chain::Server {
 public:
  explicit ChainImpl(Peer& p) : p(p) {}
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
#undef NODE_GETTER
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

class MiningImpl final : public Mining::Server {
 public:
  explicit MiningImpl(Peer& p) : p(p) {}
  kj::Promise<void> isInitialBlockDownload(IsInitialBlockDownloadContext c) override {
    return p.onThread(c.getParams().getContext(), "Mining.isInitialBlockDownload",
                      [this, c]() mutable { c.getResults().setResult(p.v.ibd); });
  }
  kj::Promise<void> getTip(GetTipContext c) override {
    return p.onThread(c.getParams().getContext(), "getTip", [this, c]() mutable { setTip(c.getResults().initResult()); c.getResults().setHasResult(true); });
  }
  kj::Promise<void> waitTipChanged(WaitTipChangedContext c) override {
    auto pf = kj::newPromiseAndFulfiller<void>();
    p.tipWaiters.push_back(kj::mv(pf.fulfiller));
    double timeout = c.getParams().getTimeout();
    auto waited = timeout < 1e9 ? pf.promise.exclusiveJoin(p.io.provider->getTimer().afterDelay(
                                      (uint64_t)(timeout * 1000) * kj::MILLISECONDS))
                                : kj::mv(pf.promise);
    return p.onThread(c.getParams().getContext(), "waitTipChanged", [] {})
        .then([waited = kj::mv(waited)]() mutable { return kj::mv(waited); })
        .then([this, c]() mutable { setTip(c.getResults().initResult()); });
  }
  void setTip(BlockRef::Builder b) {
    auto h = fromHex(p.v.tipHash);
    std::reverse(h.begin(), h.end());
    b.setHash(h);
    b.setHeight(p.v.tipHeight);
  }
  Peer& p;
};

class RpcImpl final : public Rpc::Server {};

class InitImpl final : public Init::Server {
 public:
  explicit InitImpl(Peer& p) : p(p) {}
  kj::Promise<void> construct(ConstructContext c) override {
    p.calls["construct"]++;
    auto params = c.getParams();
    p.clientThreadMapGiven = params.hasThreadMap();
    if (params.hasThreadMap()) p.clientThreadMap = params.getThreadMap();
    c.getResults().setThreadMap(kj::heap<ThreadMapImpl>(p));
    return kj::READY_NOW;
  }
  kj::Promise<void> makeEcho(MakeEchoContext c) override {
    return p.onThread(c.getParams().getContext(), "makeEcho", [this, c]() mutable { c.getResults().setResult(kj::heap<EchoImpl>(p)); });
  }
  kj::Promise<void> makeMining(MakeMiningContext c) override {
    return p.onThread(c.getParams().getContext(), "makeMining", [this, c]() mutable { c.getResults().setResult(kj::heap<MiningImpl>(p)); });
  }
  kj::Promise<void> makeChain(MakeChainContext c) override {
    if (p.flavour == "v31") return unimplemented(4);
    return p.onThread(c.getParams().getContext(), "makeChain", [this, c]() mutable {
      if (p.flavour == "master") {
        // Stock master's @4 is makeRpc: the object is an Rpc, whatever the client thinks it asked for.
        c.getResults().setResult(capnp::Capability::Client(kj::heap<RpcImpl>()).castAs<Chain>());
      } else {
        c.getResults().setResult(kj::heap<ChainImpl>(p));
      }
    });
  }
  kj::Promise<void> makeNode(MakeNodeContext c) override {
    if (p.flavour == "v31" || p.flavour == "master") return unimplemented(5);
    return p.onThread(c.getParams().getContext(), "makeNode", [this, c]() mutable { c.getResults().setResult(kj::heap<NodeImpl>(p)); });
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
        if (connected && a.size() > 4) b.initData(std::stoul(a.at(4)));
      };
      if (connected) {
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

void Peer::status() {
  std::string callsText;
  for (auto& [k, n] : calls) callsText += (callsText.empty() ? "" : ",") + k + ":" + std::to_string(n);
  say("ok connected=" + std::to_string(conn ? 1 : 0) + " threads=" + std::to_string(threads) +
      " notifications=" + std::to_string(live(SubKind::Notifications)) + " utxo=" + std::to_string(live(SubKind::Utxo)) +
      " handler_disconnects=" + std::to_string(handlerDisconnects) + " client_threadmap=" +
      std::to_string(clientThreadMapGiven ? 1 : 0) + " node_count_flags=" + std::to_string(nodeCountFlags) +
      " calls=" + (callsText.empty() ? "-" : callsText));
}

// Repeats `fire` n times back to back.
kj::Promise<void> repeat(Peer& p, std::vector<std::string> ev, size_t n, std::vector<double>& out) {
  if (out.size() >= n) return kj::READY_NOW;
  return p.fire(ev).then([&p, ev, n, &out](double us) mutable {
    out.push_back(us);
    return repeat(p, kj::mv(ev), n, out);
  });
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
  }

  void closeConn() {
    if (!p.conn) return;
    for (auto& s : p.subs) s->live = false;
    p.callbackThread = nullptr;
    p.clientThreadMap = nullptr;
    auto old = kj::mv(p.conn);
    p.subs.clear();
    p.unstall();
    say("! disconnected");
    // Destroy on a later turn: we may be inside one of its callbacks.
    p.tasks->add(kj::evalLater([old = kj::mv(old)]() mutable { old = nullptr; }));
  }
};

}  // namespace

static int runServer(const std::string& path, bool noCrash, const std::string& flavour) {
  auto io = kj::setupAsyncIo();
  Peer p(io, path, noCrash);
  p.flavour = flavour;
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
          else if (m == "tip" && a.size() >= 4) {
            v.tipHeight = std::stoi(x);
            v.tipHash = a[3];
            for (auto& f : p.tipWaiters) f->fulfill();
            p.tipWaiters.clear();
          } else throw std::invalid_argument("unknown setting " + m);
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
  std::string socket, client, flavour = "branch";
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
    else {
      fprintf(stderr, "usage: bitcoind-ipc-test-peer --socket PATH [--no-crash] [--flavour F] | --client PATH (--bench-calls N | --subscribe-utxo)\n");
      return 2;
    }
  }
  try {
    if (!client.empty()) return runClient(client, benchCalls, subscribe);
    if (socket.empty()) {
      fprintf(stderr, "--socket PATH is required\n");
      return 2;
    }
    if (flavour != "branch" && flavour != "pr-ipc" && flavour != "v31" && flavour != "master") {
      fprintf(stderr, "--flavour must be branch, pr-ipc, v31 or master\n");
      return 2;
    }
    return runServer(socket, noCrash, flavour);
  } catch (kj::Exception& e) {
    fprintf(stderr, "bitcoind-ipc-test-peer: %s\n", e.getDescription().cStr());
    return 1;
  }
}
