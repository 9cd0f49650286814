# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/init.capnp of the multiprocess work rebased over stock makeRpc @4 (Copyright (c) The
# Bitcoin Core developers, MIT license):
#   - bitcoin/bitcoin#29409 (ryanofsky, "multiprocess: Add capnp wrapper for Chain interface") has
#     @0-@5: stock 32.x's Init plus makeChain @5. Read from the bitcoin-capnp-types crate's
#     capnp/init.capnp, github.com/Sjors/bitcoin-capnp-types commit
#     748103d68403c9ce0bf8c91b48e737c01b4dd759 ("experimental: add Chain interface schema and tests
#     (PR 29409)"): makeChain @5, with @4 reserved for upstream's makeRpc.
#   - bitcoin/bitcoin#10102 (the full multiprocess split) adds makeNode @6 and makeWalletLoader @7:
#     src/ipc/capnp/init.capnp at its head b314fb2cff7ceb68882f9e53294f86dab6940337 (as quoted in
#     full by a review of that head; the rebase is also visible mid-way in ryanofsky/bitcoin's
#     src/ipc/capnp/init.capnp, where makeRpc @4 and makeChain @5 replace makeChain @4 and
#     makeNode @5).
#
# The same ordinals mean other things on other flavours: @4 is makeChain on pr/trace and pr/ipc
# (../init.capnp) and makeRpc here and on stock 32.x; @5 is makeNode there and makeChain here; @6 is
# makeWalletLoader there (never to be called: it takes a Chain and sets up a wallet) and makeNode
# here; @7 is makeTracing on pr/trace and makeWalletLoader here. src/ipc/detect.ts proves each
# capability before it reads through it, and calls @6 and @7 only once it knows which generation
# it talks to.
#
# Result types: a capability pointer carries no interface ID on the wire, and a Chain of either
# generation has the same interface ID (same file ID and name). The results are typed with the
# top-level schemas, which compile together; the rebased Chain's methods are in ./chain.capnp, which
# cannot be imported alongside ../node.capnp and ../wallet.capnp (they import ../chain.capnp, which
# carries the same file ID). Node is unchanged in the rebase for the methods the exporter calls
# (ryanofsky/bitcoin src/ipc/capnp/node.capnp at 658cdbcd0af55341c73d676576178aeb0a75e943 has
# ../node.capnp's ordinals). File ID, type names, ordinals and field types are kept identical so the
# encoding on the socket is the same; C++ binding annotations are left out. Kept apart from
# ../init.capnp because both carry the same file ID.

@0xf2c5cfa319406aa6;

using Proxy = import "/mp/proxy.capnp";

using Chain = import "/chain.capnp";
using Common = import "/common.capnp";
using Echo = import "/echo.capnp";
using Mining = import "/mining.capnp";
using Node = import "/node.capnp";
using Rpc = import "/rpc.capnp";
using Wallet = import "/wallet.capnp";

interface Init {
    construct @0 (threadMap: Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
    makeMining @3 (context :Proxy.Context) -> (result :Mining.Mining);
    makeRpc @4 (context :Proxy.Context) -> (result :Rpc.Rpc);
    makeChain @5 (context :Proxy.Context) -> (result :Chain.Chain);
    makeNode @6 (context :Proxy.Context) -> (result :Node.Node);
    makeWalletLoader @7 (context :Proxy.Context, globalArgs :Common.GlobalArgs, chain :Chain.Chain) -> (result :Wallet.WalletLoader);

    # DEPRECATED: no longer supported; server returns an error.
    makeMiningOld2 @2 () -> ();
}
