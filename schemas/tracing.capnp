# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/tracing.capnp on the multiprocess branch pr/trace (Copyright (c) The Bitcoin Core
# developers, MIT license). File ID, type names, ordinals and field types are kept identical so the
# encoding on the socket is the same; C++ binding annotations, which do not change the encoding, are
# left out.

@0xfcbbd3f49874128e;

using Handler = import "handler.capnp";
using Proxy = import "/mp/proxy.capnp";

interface Tracing {
    traceUtxoCache @0 (context :Proxy.Context, callback :UtxoCacheTrace) -> (result :Handler.Handler);
}

interface UtxoCacheTrace {
    destroy @0 (context :Proxy.Context) -> ();
    add @1 (utxoInfo :UtxoInfo) -> ();
    spend @2 (utxoInfo :UtxoInfo) -> ();
    uncache @3 (utxoInfo :UtxoInfo) -> ();
}

struct UtxoInfo {
    outpointHash @0 :Data;
    outpointN @1 :UInt32;
    height @2 :UInt32;
    value @3 :Int64;
    isCoinbase @4 :Bool;
}
