/**
 * Where the node's socket is when no <socket-path> is given, as bitcoin-cli finds its cookie:
 * `-ipcbind=unix` listens on `<datadir>/node.sock`, and a test chain's datadir is its subdirectory
 * (`<datadir>/regtest/node.sock`). The datadir defaults to `$HOME/.bitcoin` (Linux). nix/wrapper.sh
 * resolves the same path with the same rule (tests/packaging_test.ts holds them together) and hands
 * main.ts the result, so the permissions it grants name exactly that path.
 */

/** `--chain` values (bitcoin-cli's `-chain`), and the datadir subdirectory of each. */
export const CHAIN_DIRS: Readonly<Record<string, string>> = {
  main: "",
  test: "testnet3",
  testnet4: "testnet4",
  signet: "signet",
  regtest: "regtest",
};

/** `<datadir>[/<chain dir>]/node.sock`. */
export function socketInDatadir(datadir: string, chain: string): string {
  const sub = CHAIN_DIRS[chain];
  return `${datadir.replace(/\/+$/, "")}/${sub ? `${sub}/` : ""}node.sock`;
}

/**
 * `$HOME/.bitcoin` when the process may read HOME (the narrow permissions do not include it: the
 * launcher reads HOME itself), else undefined. Never prompts.
 */
export function defaultDatadir(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "HOME" }).state !== "granted") return undefined;
    const home = Deno.env.get("HOME");
    return home ? `${home.replace(/\/+$/, "")}/.bitcoin` : undefined;
  } catch {
    return undefined;
  }
}
