# The systemd service settings, shared by the NixOS module and the plain unit file in packaging/
# (a test checks the two agree). Hardened like nixpkgs' Prometheus exporters.
{ lib }:
{
  environment = {
    NO_COLOR = "1";
  };

  serviceConfig =
    {
      exec,
      user,
      group,
      socketPath,
      metricsAddr,
      debug,
      extraFlags,
    }:
    {
      User = user;
      Group = group;
      Restart = "on-failure";
      RestartSec = 10;
      # SIGTERM lets the exporter disconnect its subscriptions before closing the socket; a node of
      # the multiprocess branches dies if that socket closes with one live, so allow it the time.
      KillSignal = "SIGTERM";
      TimeoutStopSec = 15;
      ExecStart = lib.escapeShellArgs (
        [
          exec
          "--metrics-addr"
          metricsAddr
        ]
        ++ lib.optionals debug [ "--debug" ]
        ++ extraFlags
        ++ [ socketPath ]
      );

      # Only the socket's directory is writable; everything else is read-only or hidden.
      ReadWritePaths = [ (builtins.dirOf socketPath) ];
      NoNewPrivileges = true;
      ProtectSystem = "strict";
      ProtectHome = true;
      PrivateTmp = true;
      PrivateDevices = true;
      ProtectKernelTunables = true;
      ProtectKernelModules = true;
      ProtectKernelLogs = true;
      ProtectControlGroups = true;
      ProtectClock = true;
      ProtectHostname = true;
      ProtectProc = "invisible";
      RestrictNamespaces = true;
      LockPersonality = true;
      RestrictRealtime = true;
      RestrictSUIDSGID = true;
      RemoveIPC = true;
      CapabilityBoundingSet = "";
      AmbientCapabilities = "";
      SystemCallArchitectures = "native";
      SystemCallFilter = [
        "@system-service"
        "~@privileged"
      ];
      UMask = "0077";
      RestrictAddressFamilies = [
        "AF_UNIX"
        "AF_INET"
        "AF_INET6"
      ];
      # MemoryDenyWriteExecute must stay off: V8, Deno's JavaScript engine, JIT-compiles into
      # writable+executable memory and crashes under it.
      MemoryDenyWriteExecute = false;
    };
}
