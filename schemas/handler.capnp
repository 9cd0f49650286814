# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/handler.capnp on the multiprocess branch pr/trace (Copyright (c) The Bitcoin Core
# developers, MIT license). File ID, type names, ordinals and field types are kept identical so the
# encoding on the socket is the same; C++ binding annotations, which do not change the encoding, are
# left out.

@0xebd8f46e2f369076;

using Proxy = import "/mp/proxy.capnp";

interface Handler {
    destroy @0 (context :Proxy.Context) -> ();
    disconnect @1 (context :Proxy.Context) -> ();
}
