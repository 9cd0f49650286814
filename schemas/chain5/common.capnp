# bitcoind-ipc-exporter wire schema. The structs it mirrors are Bitcoin Core's
# src/ipc/capnp/common.capnp as bitcoin/bitcoin#29409 (rebased over stock makeRpc @4) has it
# (Copyright (c) The Bitcoin Core developers, MIT license), read from the bitcoin-capnp-types crate's
# capnp/common.capnp at github.com/Sjors/bitcoin-capnp-types commit
# 748103d68403c9ce0bf8c91b48e737c01b4dd759. Only ./chain.capnp uses it (FeeCalculation lives here
# in this generation). Struct type IDs never travel on the socket; field layouts are kept identical.
# Kept apart from ../common.capnp because both carry the same file ID.

@0xcd2c6232cb484a28;

struct BlockRef {
    hash @0 :Data;
    height @1 :Int32;
}

struct FeeCalculation {
    est @0 :EstimationResult;
    reason @1 :Int32;
    desiredTarget @2 :Int32;
    returnedTarget @3 :Int32;
    bestHeight @4 :UInt32;
}

struct EstimationResult {
    pass @0 :EstimatorBucket;
    fail @1 :EstimatorBucket;
    decay @2 :Float64;
    scale @3 :UInt32;
}

struct EstimatorBucket {
    start @0 :Float64;
    end @1 :Float64;
    withinTarget @2 :Float64;
    totalConfirmed @3 :Float64;
    inMempool @4 :Float64;
    leftMempool @5 :Float64;
}

struct BilingualStr {
    original @0 :Text;
    translated @1 :Text;
}

struct Result(Value) {
    value @0 :Value;
    error @1: BilingualStr;
}

# Wrapper for util::Result<void>
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
