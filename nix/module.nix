# NixOS module: services.bitcoind-ipc-exporter. Options, names, types and defaults are those of
# ipc-exporter-rust's module, so an existing configuration switches by changing only the flake input;
# openFirewall and extraFlags are added as nixpkgs' services.prometheus.exporters.* offer them,
# collectors switches collectors on and off (node_exporter's --[no-]collector.NAME), and
# webConfigFile is --web.config.file (TLS and basic auth, exporter-toolkit's format).
{
  config,
  lib,
  # Always given by NixOS; absent only where the module is evaluated without nixpkgs (the tests, and
  # `deno task unit` writing the plain unit, whose systems have /bin/kill).
  pkgs ? null,
  ...
}:
let
  cfg = config.services.bitcoind-ipc-exporter;
  port = lib.toInt (lib.last (lib.splitString ":" cfg.metricsAddr));
  unit = import ./unit.nix { inherit lib; };
in
{
  options.services.bitcoind-ipc-exporter = {
    enable = lib.mkEnableOption "Bitcoin Core IPC metrics exporter";

    package = lib.mkOption {
      type = lib.types.package;
      description = "The bitcoind-ipc-exporter package to use.";
    };

    socketPath = lib.mkOption {
      type = lib.types.str;
      description = "Path to the bitcoind IPC Unix socket.";
    };

    metricsAddr = lib.mkOption {
      type = lib.types.str;
      default = "127.0.0.1:9332";
      description = "Host:port for the Prometheus metrics endpoint (IPv6 as [::1]:9332).";
    };

    debug = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Enable verbose debug logging to stderr.";
    };

    user = lib.mkOption {
      type = lib.types.str;
      default = "root";
      description = ''
        User to run the exporter as. It needs write access to the IPC socket: prefer the node's user,
        or a user in the node's group with the socket group-writable (bitcoind creates it under its umask).
      '';
    };

    group = lib.mkOption {
      type = lib.types.str;
      default = "root";
      description = "Group to run the exporter as (e.g. the bitcoind service's group).";
    };

    after = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Systemd services to start after.";
    };

    bindsTo = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Systemd services to bind lifecycle to.";
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Open the metrics port (from metricsAddr) in the firewall.";
    };

    collectors = lib.mkOption {
      type = lib.types.attrsOf lib.types.bool;
      default = { };
      example = {
        utxo_cache = false;
      };
      description = ''
        Collectors to switch on (true) or off (false), by name: chain, utxo_cache, node, last_block,
        block_events, chaininfo, network, fees, mempool
        (`bitcoind-ipc-exporter --help` lists them). Unnamed ones keep their default (on). Each becomes
        --collector.NAME or --no-collector.NAME.
      '';
    };

    webConfigFile = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "/etc/bitcoind-ipc-exporter/web.yml";
      description = ''
        exporter-toolkit web configuration (--web.config.file): TLS (tls_server_config.cert_file and
        key_file) and basic auth (basic_auth_users, bcrypt hashes). The launcher grants the exporter
        read access to this file and to the certificate and key it names, nothing more. It must be
        readable by the service's user (and outside /home, hidden by ProtectHome).
      '';
    };

    extraFlags = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Extra command-line flags passed to the exporter.";
    };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall.allowedTCPPorts = lib.optionals cfg.openFirewall [ port ];

    systemd.services.bitcoind-ipc-exporter = {
      description = "Bitcoin Core IPC Metrics Exporter";
      inherit (cfg) after bindsTo;
      wantedBy = [ "multi-user.target" ];

      startLimitIntervalSec = 300;
      startLimitBurst = 20;

      environment = unit.environment;

      serviceConfig = unit.serviceConfig {
        exec = "${cfg.package}/bin/bitcoind-ipc-exporter";
        kill = if pkgs == null then "/bin/kill" else "${pkgs.coreutils}/bin/kill";
        inherit (cfg) user group socketPath metricsAddr debug webConfigFile;
        extraFlags =
          lib.mapAttrsToList (name: on: "--${if on then "" else "no-"}collector.${name}") cfg.collectors
          ++ cfg.extraFlags;
      };
    };
  };
}
