# bitcoind-ipc-exporter wire schema. The interface it mirrors is stock Bitcoin Core v31's
# src/ipc/capnp/init.capnp (Copyright (c) The Bitcoin Core developers, MIT license): makeMining at
# @3, with the v31 Mining interface of ./mining.capnp, and @2 the deprecated stub that answers an
# error. Stock 32.x adds makeRpc @4 (../v32/init.capnp). File ID, type names, ordinals and field
# types are kept identical so the encoding on the socket is the same; C++ binding annotations,
# which do not change the encoding, are left out. Kept apart from ../init.capnp because both carry
# the same file ID.

@0xf2c5cfa319406aa6;

using Proxy = import "/mp/proxy.capnp";

using Echo = import "/echo.capnp";
using Mining = import "mining.capnp";

interface Init {
    construct @0 (threadMap: Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
    makeMining @3 (context :Proxy.Context) -> (result :Mining.Mining);

    # DEPRECATED: no longer supported; server returns an error.
    makeMiningOld2 @2 () -> ();
}
