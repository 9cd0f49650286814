# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/init.capnp on the multiprocess branch pr/ipc of github.com/willcl-ark/bitcoin at
# commit d2ccbd3f585e3a014cdc766999aed25badeb9fd1 (2024-08-07; Copyright (c) 2021 The Bitcoin Core
# developers, MIT license). This branch predates stock Mining: makeNode @2, makeChain @3 and
# makeWalletLoader @4, where pr/trace (../init.capnp) has the deprecated makeMiningOld2 @2,
# makeMining @3, makeChain @4, makeNode @5, makeWalletLoader @6 and makeTracing @7, and stock v30
# has makeMining @2. It has nothing at @5 and above. src/ipc/detect.ts proves what @3 returned
# before it calls @2, and never calls @4 (makeWalletLoader takes a Chain and sets up a wallet).
#
# Result types: a capability pointer carries no interface ID on the wire, and Chain and Node have
# the same interface IDs in every generation (same file IDs and names), so the results are typed
# with the top-level schemas, which compile together; the pr/ipc methods are in ./chain.capnp and
# ./node.capnp. File ID, type names, ordinals and field types are kept identical so the encoding on
# the socket is the same; C++ binding annotations are left out. Kept apart from ../init.capnp
# because both carry the same file ID.

@0xf2c5cfa319406aa6;

using Proxy = import "/mp/proxy.capnp";

using Chain = import "/chain.capnp";
using Common = import "/common.capnp";
using Echo = import "/echo.capnp";
using Node = import "/node.capnp";
using Wallet = import "/wallet.capnp";

interface Init {
    construct @0 (threadMap: Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
    makeNode @2 (context :Proxy.Context) -> (result :Node.Node);
    makeChain @3 (context :Proxy.Context) -> (result :Chain.Chain);
    makeWalletLoader @4 (context :Proxy.Context, globalArgs :Common.GlobalArgs, chain :Chain.Chain) -> (result :Wallet.WalletLoader);
}
