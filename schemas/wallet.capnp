# bitcoind-ipc-exporter wire schema. It mirrors Bitcoin Core's src/ipc/capnp/wallet.capnp on the
# multiprocess branch pr/trace (Copyright (c) The Bitcoin Core developers, MIT license) only as far as
# the exporter needs it: `WalletLoader` is the result type of `Init.makeWalletLoader @6` and
# `Node.customWalletLoader @46`, which the exporter never calls, so it is declared by name alone.
# File ID and type name are kept, so its interface ID is the node's (0xba10da251bfac23a, checked by
# tests/golden_test.ts); nothing of it is ever encoded. Leaving out the rest (the Wallet interface and
# its callbacks, ~9,000 generated lines) keeps them out of the exporter's memory.

@0xe234cce74feea00c;

using Chain = import "chain.capnp";

interface WalletLoader extends(Chain.ChainClient) {
    # Methods @0-@8 (createWallet … handleLoadWallet) left out: never called by the exporter.
}
