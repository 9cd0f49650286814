# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/mining.capnp as stock 32.x serves it through Init.makeMining @3 (Copyright (c) The
# Bitcoin Core developers, MIT license), read from the bitcoin-capnp-types crate's capnp/mining.capnp
# (github.com/Sjors/bitcoin-capnp-types, commit 3537e345b02caf593999e1e309abb0fcf13d3733), which
# tracks Bitcoin Core master: Mining gains submitBlock @7, getTransactionsByTxID @8 and
# getTransactionsByWitnessID @9, and BlockTemplate.submitSolution moves to @10 (its old ordinal @7
# stays, answering an error). The methods the exporter calls (isTestChain @0,
# isInitialBlockDownload @1, getTip @2, waitTipChanged @3, interrupt @6) keep their ordinals and
# parameter layouts from v31 (v31/mining.capnp); v30's generation is v30/mining.capnp.
#
# This is the newest generation, so it sits at the top level: the C++ test peer, which compiles the
# top-level schemas, serves and decodes Mining with it. The branch Init (init.capnp) types its
# makeMining result with it too; the interface ID is the same in every generation.
#
# File ID, type names, ordinals and field types are kept identical so the encoding on the socket is
# the same; C++ binding annotations, which do not change the encoding, are left out.

@0xc77d03df6a41b505;

using Common = import "common.capnp";
using Proxy = import "/mp/proxy.capnp";

const maxMoney :Int64 = 2100000000000000;
const maxDouble :Float64 = 1.7976931348623157e308;
const defaultBlockReservedWeight :UInt32 = 8000;
const defaultCoinbaseOutputMaxAdditionalSigops :UInt32 = 400;

interface Mining {
    isTestChain @0 (context :Proxy.Context) -> (result: Bool);
    isInitialBlockDownload @1 (context :Proxy.Context) -> (result: Bool);
    getTip @2 (context :Proxy.Context) -> (result: Common.BlockRef, hasResult: Bool);
    # `timeout` is in milliseconds (MillisecondsDouble upstream); its default is what makes the
    # same number encode differently from v30, which has none.
    waitTipChanged @3 (context :Proxy.Context, currentTip: Data, timeout: Float64 = .maxDouble) -> (result: Common.BlockRef);
    createNewBlock @4 (context :Proxy.Context, options: BlockCreateOptions, cooldown: Bool = true) -> (result: BlockTemplate);
    checkBlock @5 (context :Proxy.Context, block: Data, options: BlockCheckOptions) -> (reason: Text, debug: Text, result: Bool);
    interrupt @6 () -> ();
    submitBlock @7 (context :Proxy.Context, block: Data) -> (reason: Text, debug: Text, result: Bool);
    getTransactionsByTxID @8 (context :Proxy.Context, txids: List(Data)) -> (result: List(Data));
    getTransactionsByWitnessID @9 (context :Proxy.Context, wtxids: List(Data)) -> (result: List(Data));
}

interface BlockTemplate {
    destroy @0 (context :Proxy.Context) -> ();
    getBlockHeader @1 (context: Proxy.Context) -> (result: Data);
    getBlock @2 (context: Proxy.Context) -> (result: Data);
    getTxFees @3 (context: Proxy.Context) -> (result: List(Int64));
    getTxSigops @4 (context: Proxy.Context) -> (result: List(Int64));
    getCoinbaseTx @5 (context: Proxy.Context) -> (result: CoinbaseTx);
    getCoinbaseMerklePath @6 (context: Proxy.Context) -> (result: List(Data));
    # Deprecated upstream: answers an error telling the client to use @10.
    submitSolutionOld7 @7 (context: Proxy.Context, version: UInt32, timestamp: UInt32, nonce: UInt32, coinbase :Data) -> (result: Bool);
    waitNext @8 (context: Proxy.Context, options: BlockWaitOptions) -> (result: BlockTemplate);
    interruptWait @9() -> ();
    submitSolution @10 (context: Proxy.Context, version: UInt32, timestamp: UInt32, nonce: UInt32, coinbase :Data) -> (reason: Text, debug: Text, result: Bool);
}

struct BlockCreateOptions {
    useMempool @0 :Bool = true;
    blockReservedWeight @1 :UInt64 = .defaultBlockReservedWeight;
    coinbaseOutputMaxAdditionalSigops @2 :UInt64 = .defaultCoinbaseOutputMaxAdditionalSigops;
}

struct BlockWaitOptions {
    timeout @0 : Float64 = .maxDouble;
    feeThreshold @1 : Int64 = .maxMoney;
}

struct BlockCheckOptions {
    checkMerkleRoot @0 :Bool = true;
    checkPow @1 :Bool = true;
}

struct CoinbaseTx {
    version @0 :UInt32;
    sequence @1 :UInt32;
    scriptSigPrefix @2 :Data;
    witness @3 :Data;
    blockRewardRemaining @4 :Int64;
    requiredOutputs @5 :List(Data);
    lockTime @6 :UInt32;
}
