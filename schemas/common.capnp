# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/common.capnp on the multiprocess branch pr/trace (Copyright (c) The Bitcoin Core
# developers, MIT license). File ID, type names, ordinals and field types are kept identical so the
# encoding on the socket is the same; C++ binding annotations, which do not change the encoding, are
# left out.

@0xcd2c6232cb484a28;


struct BlockRef {
    hash @0 :Data;
    height @1 :Int32;
}

struct Settings {
   forcedSettings @0 :List(Pair(Text, Text));
   commandLineOptions @1 :List(Pair(Text, List(Text)));
   rwSettings @2 :List(Pair(Text, Text));
   roConfig @3 :List(Pair(Text, List(Pair(Text, List(Text)))));
}

struct GlobalArgs {
   settings @0 :Settings;
   configPath @1 : Text;
}

struct BilingualStr {
    original @0 :Text;
    translated @1 :Text;
}

struct Result(Value) {
    value @0 :Value;
    error @1: BilingualStr;
}

struct ResultVoid(Value) {
    error @0: BilingualStr;
}

struct Pair(Key, Value) {
    key @0 :Key;
    value @1 :Value;
}

struct PairInt64(Key) {
    key @0 :Key;
    value @1 :Int64;
}

struct PairUInt64(Key) {
    key @0 :Key;
    value @1 :UInt64;
}
