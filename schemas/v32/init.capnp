# bitcoind-ipc-exporter wire schema. The interface it mirrors is stock Bitcoin Core's
# src/ipc/capnp/init.capnp as of 32.x (Copyright (c) The Bitcoin Core developers, MIT license),
# read from the bitcoin-capnp-types crate, which tracks Bitcoin Core master: capnp/init.capnp at
# github.com/Sjors/bitcoin-capnp-types commit 214aec9b76b27fca41cd1b9524774770f6eda419. v31's
# ordinals plus makeRpc @4, with the 32.x Mining interface of ../mining.capnp. @4 is the ordinal
# the multiprocess branch pr/trace uses for makeChain (../init.capnp), which is why the exporter
# proves each capability before it reads through it. File ID, type names, ordinals and field types
# are kept identical so the encoding on the socket is the same; C++ binding annotations, which do
# not change the encoding, are left out. Kept apart from ../init.capnp because both carry the same
# file ID.

@0xf2c5cfa319406aa6;

using Proxy = import "/mp/proxy.capnp";

using Echo = import "/echo.capnp";
using Mining = import "/mining.capnp";
using Rpc = import "/rpc.capnp";

interface Init {
    construct @0 (threadMap: Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
    makeMining @3 (context :Proxy.Context) -> (result :Mining.Mining);
    makeRpc @4 (context :Proxy.Context) -> (result :Rpc.Rpc);

    # DEPRECATED: no longer supported; server returns an error.
    makeMiningOld2 @2 () -> ();
}
