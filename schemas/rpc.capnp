# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/rpc.capnp (stock master / v32, Copyright (c) The Bitcoin Core developers, MIT
# license), returned by the stock Init.makeRpc @4. File ID, type names, ordinals and field types are
# kept identical.

@0x9c3505dc45e146ac;

using Proxy = import "/mp/proxy.capnp";

interface Rpc {
    executeRpc @0 (context :Proxy.Context, request :Text, uri :Text, user :Text) -> (result :Text);
}
