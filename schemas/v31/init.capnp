# bitcoind-ipc-exporter wire schema. The interface it mirrors is stock Bitcoin Core's
# src/ipc/capnp/init.capnp as released in v31 and on master (v32 development), Copyright (c) The
# Bitcoin Core developers, MIT license. v31 has ordinals @0-@3; master adds makeRpc @4, which is
# the ordinal the multiprocess branches use for makeChain (see ../init.capnp): the same Init
# interface ID with a different method behind @4, which is why the exporter probes before it reads.
# File ID, type names, ordinals and field types are kept identical so the encoding on the socket is
# the same; C++ binding annotations, which do not change the encoding, are left out. Kept apart from
# ../init.capnp because both carry the same file ID.

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
