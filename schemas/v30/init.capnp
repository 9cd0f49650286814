# bitcoind-ipc-exporter wire schema. The interface it mirrors is stock Bitcoin Core v30's
# src/ipc/capnp/init.capnp (Copyright (c) The Bitcoin Core developers, MIT license): makeMining at
# @2, with the v30 Mining interface of ./mining.capnp. File ID, type names, ordinals and field types
# are kept identical so the encoding on the socket is the same; C++ binding annotations, which do
# not change the encoding, are left out. Kept apart from ../init.capnp because both carry the same
# file ID.

@0xf2c5cfa319406aa6;

using Proxy = import "/mp/proxy.capnp";

using Echo = import "/echo.capnp";
using Mining = import "mining.capnp";

interface Init {
    construct @0 (threadMap: Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
    makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
    makeMining @2 (context :Proxy.Context) -> (result :Mining.Mining);
}
