# bitcoind-ipc-exporter wire schema. The interface it mirrors is stock Bitcoin Core v30's
# src/ipc/capnp/mining.capnp (Copyright (c) The Bitcoin Core developers, MIT license), the Mining
# generation served by Init.makeMining @2. It differs on the wire from the v31+ generation in
# ../mining.capnp where the exporter cares: waitTipChanged's `timeout` has no default here, while
# v31 gives it `= .maxDouble`, and Cap'n Proto stores a field XORed with its default, so the same
# number encodes differently. File ID, type names, ordinals and field types are kept identical;
# C++ binding annotations, which do not change the encoding, are left out. Kept apart from
# ../mining.capnp because both carry the same file ID.

@0xc77d03df6a41b505;

using Common = import "/common.capnp";
using Proxy = import "/mp/proxy.capnp";

interface Mining {
    isTestChain @0 (context :Proxy.Context) -> (result: Bool);
    isInitialBlockDownload @1 (context :Proxy.Context) -> (result: Bool);
    getTip @2 (context :Proxy.Context) -> (result: Common.BlockRef, hasResult: Bool);
    # `timeout` is in milliseconds (MillisecondsDouble upstream).
    waitTipChanged @3 (context :Proxy.Context, currentTip: Data, timeout: Float64) -> (result: Common.BlockRef);
    createNewBlock @4 (options: BlockCreateOptions) -> (result: BlockTemplate);
    checkBlock @5 (block: Data, options: BlockCheckOptions) -> (reason: Text, debug: Text, result: Bool);
}

interface BlockTemplate {
    destroy @0 (context :Proxy.Context) -> ();
    getBlockHeader @1 (context: Proxy.Context) -> (result: Data);
    getBlock @2 (context: Proxy.Context) -> (result: Data);
    getTxFees @3 (context: Proxy.Context) -> (result: List(Int64));
    getTxSigops @4 (context: Proxy.Context) -> (result: List(Int64));
    getCoinbaseTx @5 (context: Proxy.Context) -> (result: Data);
    getCoinbaseCommitment @6 (context: Proxy.Context) -> (result: Data);
    getWitnessCommitmentIndex @7 (context: Proxy.Context) -> (result: Int32);
    getCoinbaseMerklePath @8 (context: Proxy.Context) -> (result: List(Data));
    submitSolution @9 (context: Proxy.Context, version: UInt32, timestamp: UInt32, nonce: UInt32, coinbase :Data) -> (result: Bool);
    waitNext @10 (context: Proxy.Context, options: BlockWaitOptions) -> (result: BlockTemplate);
    interruptWait @11() -> ();
}

struct BlockCreateOptions {
    useMempool @0 :Bool;
    blockReservedWeight @1 :UInt64;
    coinbaseOutputMaxAdditionalSigops @2 :UInt64;
}

struct BlockWaitOptions {
    timeout @0 : Float64;
    feeThreshold @1 : Int64;
}

struct BlockCheckOptions {
    checkMerkleRoot @0 :Bool;
    checkPow @1 :Bool;
}
