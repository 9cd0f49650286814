# Evaluates the real nix/module.nix with option values given on the command line:
#   nix-instantiate --eval --strict --json nix/tests/eval-module.nix --arg options '{ debug = true; }'
# Prints the parts of `config` the module sets: the systemd service and the firewall ports.
{
  options ? { },
}:
let
  lib = import ./stub-lib.nix;
  module = import ../module.nix;
  declared =
    (module {
      config.services.bitcoind-ipc-exporter = { };
      inherit lib;
    }).options.services.bitcoind-ipc-exporter;
  defaults = builtins.mapAttrs (_: o: o.default) (lib.filterAttrs (_: o: o ? default) declared);
  cfg =
    defaults
    // {
      enable = true;
      package = "/nix/store/00000000000000000000000000000000-bitcoind-ipc-exporter-0.1.0";
      socketPath = "/var/lib/bitcoind/node.sock";
    }
    // options;
  result = module {
    config.services.bitcoind-ipc-exporter = cfg;
    inherit lib;
  };
in
{
  optionNames = builtins.attrNames declared;
  inherit defaults;
  service = result.config.systemd.services.bitcoind-ipc-exporter;
  firewall = result.config.networking.firewall.allowedTCPPorts;
}
