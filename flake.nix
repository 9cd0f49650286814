{
  description = "bitcoind-ipc-exporter: Prometheus exporter for Bitcoin Core over its multiprocess IPC socket (Deno)";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    # The multiprocess branch with Chain, Node and Tracing; override for another branch.
    bitcoin-node-src = {
      url = "github:willcl-ark/bitcoin/pr/trace";
      flake = false;
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      bitcoin-node-src,
      ...
    }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = nixpkgs.lib.genAttrs systems;
      version = (builtins.fromJSON (builtins.readFile ./deno.json)).version;
    in
    {
      nixosModules.default = import ./nix/module.nix;

      overlays.default = final: prev: {
        bitcoind-ipc-exporter = self.packages.${final.system}.default;
        bitcoin-node = self.packages.${final.system}.bitcoin-node;
      };

      packages = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
        in
        {
          default = pkgs.callPackage ./nix/package.nix {
            inherit version;
            src = nixpkgs.lib.cleanSource ./.;
          };
          bitcoin-node = pkgs.callPackage ./nix/bitcoin-node.nix { src = bitcoin-node-src; };
        }
      );

      devShells = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
        in
        {
          default = pkgs.mkShell {
            packages = [
              pkgs.deno
              pkgs.capnproto
              pkgs.gcc
              pkgs.pkg-config
              pkgs.nix
              pkgs.systemd
            ];
          };
        }
      );
    };
}
