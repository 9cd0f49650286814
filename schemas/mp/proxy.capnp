# bitcoind-ipc-exporter wire schema. The interfaces it mirrors are libmultiprocess's
# include/mp/proxy.capnp (Copyright (c) The Bitcoin Core developers, MIT license). File ID, type
# names, ordinals and field types are kept identical so the encoding on the socket is the same; the
# C++ code-generation annotations it declares are left out.

@0xcc316e3f71a040fb;

# Lets a client choose which server thread runs its calls: it names a thread, gets a handle back and
# passes that handle in every call's Context.
interface ThreadMap {
    makeThread @0 (name :Text) -> (result :Thread);
}

# One server thread.
interface Thread {
    getName @0 () -> (result :Text);
}

# Passed as the first parameter of every method that runs on a server thread.
struct Context {
    thread @0 :Thread;
    # The server thread that must run this call.
    callbackThread @1 :Thread;
    # The caller's thread, on which the server makes any callbacks during this call.
}
