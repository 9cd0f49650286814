# bitcoind-ipc-exporter wire schema. The interface it mirrors is Bitcoin Core's
# src/ipc/capnp/chain.capnp of the multiprocess work rebased over stock makeRpc @4: the Chain
# interface of bitcoin/bitcoin#29409 (ryanofsky), which the full split bitcoin/bitcoin#10102 carries
# too (Copyright (c) The Bitcoin Core developers, MIT license). Read from the bitcoin-capnp-types
# crate's capnp/chain.capnp, which vendors #29409: github.com/Sjors/bitcoin-capnp-types commit
# 748103d68403c9ce0bf8c91b48e737c01b4dd759; bitcoin/bitcoin's src/ipc/capnp/chain.capnp at commit
# 01bf84afa199e7759b94781952bc2755dfa4df8e declares the same interfaces and ordinals.
#
# Against ../chain.capnp (pr/trace): waitForNotifications @41 is new, so handleRpc and every later
# method moved up by one, and FeeCalculation moved into Common. What the exporter uses is unchanged:
# getHeight @1, isInitialBlockDownload @33, handleNotifications @39 (same parameters and results),
# and ChainNotifications, BlockInfo and ChainstateRole are identical (tests/golden_test.ts compares
# the two generations as the capnp compiler lays them out). The interface IDs are the same too
# (same file ID and names).
#
# File ID, type names, ordinals and field types are kept identical so the encoding on the socket is
# the same; C++ binding annotations, which do not change the encoding, are left out. Kept apart from
# ../chain.capnp because both carry the same file ID.

@0x94f21a4864bd2c65;

using Proxy = import "/mp/proxy.capnp";

using Common = import "common.capnp";
using Handler = import "/handler.capnp";

interface Chain {
    destroy @0 (context :Proxy.Context) -> ();
    getHeight @1 (context :Proxy.Context) -> (result :Int32, hasResult :Bool);
    getBlockHash @2 (context :Proxy.Context, height :Int32) -> (result :Data);
    haveBlockOnDisk @3 (context :Proxy.Context, height :Int32) -> (result :Bool);
    findLocatorFork @4 (context :Proxy.Context, locator :Data) -> (result :Int32, hasResult :Bool);
    hasBlockFilterIndex @5 (context :Proxy.Context, filterType :UInt8) -> (result :Bool);
    blockFilterMatchesAny @6 (context :Proxy.Context, filterType :UInt8, blockHash :Data, filterSet :List(Data)) -> (result :Bool, hasResult :Bool);
    findBlock @7 (context :Proxy.Context, hash :Data, block :FoundBlockParam) -> (block :FoundBlockResult, result :Bool);
    findFirstBlockWithTimeAndHeight @8 (context :Proxy.Context, minTime :Int64, minHeight :Int32, block :FoundBlockParam) -> (block :FoundBlockResult, result :Bool);
    findAncestorByHeight @9 (context :Proxy.Context, blockHash :Data, ancestorHeight :Int32, ancestor :FoundBlockParam) -> (ancestor :FoundBlockResult, result :Bool);
    findAncestorByHash @10 (context :Proxy.Context, blockHash :Data, ancestorHash :Data, ancestor :FoundBlockParam) -> (ancestor :FoundBlockResult, result :Bool);
    findCommonAncestor @11 (context :Proxy.Context, blockHash1 :Data, blockHash2 :Data, ancestor :FoundBlockParam, block1 :FoundBlockParam, block2 :FoundBlockParam) -> (ancestor :FoundBlockResult, block1 :FoundBlockResult, block2 :FoundBlockResult, result :Bool);
    findCoins @12 (context :Proxy.Context, coins :List(Common.Pair(Data, Data))) -> (coins :List(Common.Pair(Data, Data)));
    guessVerificationProgress @13 (context :Proxy.Context, blockHash :Data) -> (result :Float64);
    hasBlocks @14 (context :Proxy.Context, blockHash :Data, minHeight :Int32, maxHeight: Int32, hasMaxHeight :Bool) -> (result :Bool);
    isRBFOptIn @15 (context :Proxy.Context, tx :Data) -> (result :Int32);
    isInMempool @16 (context :Proxy.Context, txid :Data) -> (result :Bool);
    hasDescendantsInMempool @17 (context :Proxy.Context, txid :Data) -> (result :Bool);
    broadcastTransaction @18 (context :Proxy.Context, tx: Data, maxTxFee :Int64, broadcastMethod :Int32) -> (error: Text, result :Bool);
    getTransactionAncestry @19 (context :Proxy.Context, txid :Data) -> (ancestors :UInt64, descendants :UInt64, ancestorsize :UInt64, ancestorfees :Int64);
    calculateIndividualBumpFees @20 (context :Proxy.Context, outpoints :List(Data), targetFeerate :Data) -> (result: List(Common.PairInt64(Data)));
    calculateCombinedBumpFee @21 (context :Proxy.Context, outpoints :List(Data), targetFeerate :Data) -> (result :Int64, hasResult :Bool);
    getPackageLimits @22 (context :Proxy.Context) -> (ancestors :UInt32, descendants :UInt32);
    checkChainLimits @23 (context :Proxy.Context, tx :Data) -> (result :Common.ResultVoid);
    estimateSmartFee @24 (context :Proxy.Context, numBlocks :Int32, conservative :Bool, wantCalc :Bool) -> (calc :Common.FeeCalculation, result :Data);
    estimateMaxBlocks @25 (context :Proxy.Context) -> (result :UInt32);
    mempoolMinFee @26 (context :Proxy.Context) -> (result :Data);
    relayMinFee @27 (context :Proxy.Context) -> (result :Data);
    relayIncrementalFee @28 (context :Proxy.Context) -> (result :Data);
    relayDustFee @29 (context :Proxy.Context) -> (result :Data);
    havePruned @30 (context :Proxy.Context) -> (result :Bool);
    getPruneHeight @31 (context :Proxy.Context) -> (result: Int32, hasResult: Bool);
    isReadyToBroadcast @32 (context :Proxy.Context) -> (result :Bool);
    isInitialBlockDownload @33 (context :Proxy.Context) -> (result :Bool);
    shutdownRequested @34 (context :Proxy.Context) -> (result :Bool);
    initMessage @35 (context :Proxy.Context, message :Text) -> ();
    initWarning @36 (context :Proxy.Context, message :Common.BilingualStr) -> ();
    initError @37 (context :Proxy.Context, message :Common.BilingualStr) -> ();
    showProgress @38 (context :Proxy.Context, title :Text, progress :Int32, resumePossible :Bool) -> ();
    handleNotifications @39 (context :Proxy.Context, notifications :ChainNotifications) -> (result :Handler.Handler);
    waitForNotificationsIfTipChanged @40 (context :Proxy.Context, oldTip :Data) -> ();
    waitForNotifications @41 (context :Proxy.Context) -> ();
    handleRpc @42 (context :Proxy.Context, command :RPCCommand) -> (result :Handler.Handler);
    rpcEnableDeprecated @43 (context :Proxy.Context, method :Text) -> (result :Bool);
    getSetting @44 (context :Proxy.Context, name :Text) -> (result :Text);
    getSettingsList @45 (context :Proxy.Context, name :Text) -> (result :List(Text));
    getRwSetting @46 (context :Proxy.Context, name :Text) -> (result :Text);
    updateRwSetting @47 (context :Proxy.Context, name :Text, update: SettingsUpdateCallback) -> (result :Bool);
    overwriteRwSetting @48 (context :Proxy.Context, name :Text, value :Text, action :Int32) -> (result :Bool);
    deleteRwSettings @49 (context :Proxy.Context, name :Text, action: Int32) -> (result :Bool);
    requestMempoolTransactions @50 (context :Proxy.Context, notifications :ChainNotifications) -> ();
    hasAssumedValidChain @51 (context :Proxy.Context) -> (result :Bool);
}

interface ChainNotifications {
    destroy @0 (context :Proxy.Context) -> ();
    transactionAddedToMempool @1 (context :Proxy.Context, tx :Data) -> ();
    transactionRemovedFromMempool @2 (context :Proxy.Context, tx :Data, reason :Int32) -> ();
    blockConnected @3 (context :Proxy.Context, role: ChainstateRole, block :BlockInfo) -> ();
    blockDisconnected @4 (context :Proxy.Context, block :BlockInfo) -> ();
    updatedBlockTip @5 (context :Proxy.Context) -> ();
    chainStateFlushed @6 (context :Proxy.Context, role: ChainstateRole, locator :Data) -> ();
}

interface ChainClient {
    destroy @0 (context :Proxy.Context) -> ();
    registerRpcs @1 (context :Proxy.Context) -> ();
    verify @2 (context :Proxy.Context) -> (result :Bool);
    load @3 (context :Proxy.Context) -> (result :Bool);
    start @4 (context :Proxy.Context, scheduler :Void) -> ();
    stop @5 (context :Proxy.Context) -> ();
    setMockTime @6 (context :Proxy.Context, time :Int64) -> ();
    schedulerMockForward @7 (context :Proxy.Context, deltaSeconds :Int64) -> ();
}

struct RPCCommand {
   category @0 :Text;
   name @1 :Text;
   actor @2 :ActorCallback;
   argNames @3 :List(RPCArg);
   uniqueId @4 :Int64;
}

# Representation of std::pair<std::string, bool> in CRPCCommand
struct RPCArg {
   name @0 :Text;
   namedOnly @1: Bool;
}

interface ActorCallback {
    call @0 (context :Proxy.Context, request :JSONRPCRequest, response :Text, lastCallback :Bool) -> (error :Text, rpcError :Text, typeError :Text, helpResult :HelpResult, response :Text, result: Bool);
}

struct HelpResult {
    message @0 :Text;
}

struct JSONRPCRequest {
    id @0 :Text;
    method @1 :Text;
    params @2 :Text;
    mode @3 :Int32;
    uri @4 :Text;
    authUser @5 :Text;
    peerAddr @6 :Text;
    version @7: Int32;
}

struct FoundBlockParam {
    wantHash @0 :Bool;
    wantHeight @1 :Bool;
    wantTime @2 :Bool;
    wantMaxTime @3 :Bool;
    wantMtpTime @4 :Bool;
    wantInActiveChain @5 :Bool;
    wantLocator @6 :Bool;
    nextBlock @7: FoundBlockParam;
    wantData @8 :Bool;
}

struct FoundBlockResult {
    hash @0 :Data;
    height @1 :Int32;
    time @2 :Int64;
    maxTime @3 :Int64;
    mtpTime @4 :Int64;
    inActiveChain @5 :Bool;
    locator @6 :Data;
    nextBlock @7: FoundBlockResult;
    data @8 :Data;
    found @9 :Bool;
}

struct BlockInfo {
    # Fields skipped below with Proxy.skip are pointer fields manually handled
    # by CustomBuildMessage / CustomPassMessage overloads.
    hash @0 :Data;
    prevHash @1 :Data;
    height @2 :Int32 = -1;
    fileNumber @3 :Int32 = -1;
    dataPos @4 :UInt32 = 0;
    data @5 :Data;
    undoData @6 :Data;
    chainTimeMax @7 :UInt32 = 0;
}

struct ChainstateRole {
    validated @0 :Bool;
    historical @1 :Bool;
}

interface SettingsUpdateCallback {
    destroy @0 (context :Proxy.Context) -> ();
    call @1 (context :Proxy.Context, value :Text) -> (value :Text, result: Int32, hasResult: Bool);
}
