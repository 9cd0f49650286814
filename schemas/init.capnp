# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/init.capnp on the multiprocess branch pr/trace (Copyright (c) The Bitcoin Core
# developers, MIT license). File ID, type names, ordinals and field types are kept identical so the
# encoding on the socket is the same; C++ binding annotations, which do not change the encoding, are
# left out. makeMining's result is typed with ./mining.capnp, the newest Mining generation (stock
# 32.x; pr/trace's own is v31/mining.capnp): the interface ID is the same, a capability pointer
# carries nothing more, and the exporter makes no Mining call on this flavour. The rebased
# generation of this Init (makeRpc @4, makeChain @5, makeNode @6) is chain5/init.capnp.

@0xf2c5cfa319406aa6;

using Proxy = import "/mp/proxy.capnp";

using Chain = import "chain.capnp";
using Common = import "common.capnp";
using Echo = import "echo.capnp";
using Mining = import "mining.capnp";
using Node = import "node.capnp";
using Tracing = import "tracing.capnp";
using Wallet = import "wallet.capnp";

interface Init {
    construct @0 (threadMap: Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
    makeMining @3 (context :Proxy.Context) -> (result :Mining.Mining);
    makeChain @4 (context :Proxy.Context) -> (result :Chain.Chain);
    makeNode @5 (context :Proxy.Context) -> (result :Node.Node);
    makeWalletLoader @6 (context :Proxy.Context, globalArgs :Common.GlobalArgs, chain :Chain.Chain) -> (result :Wallet.WalletLoader);
    makeTracing @7 (context :Proxy.Context) -> (result :Tracing.Tracing);

    # DEPRECATED: no longer supported; server returns an error.
    makeMiningOld2 @2 () -> ();
}
