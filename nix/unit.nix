# The systemd service settings, shared by the NixOS module and the plain unit file in packaging/
# (a test checks the two agree). Hardened like nixpkgs' Prometheus exporters.
{ lib }:
{
  environment = {
    NO_COLOR = "1";
    # `deno run` checks for a newer Deno once a day, from the exporter's own process and outside
    # its permission sandbox (a DNS lookup and HTTPS to dl.deno.land): never from a service.
    DENO_NO_UPDATE_CHECK = "1";
  };

  serviceConfig =
    {
      exec,
      # kill(1) for ExecReload: coreutils' on NixOS, /bin/kill elsewhere.
      kill,
      user,
      group,
      socketPath,
      metricsAddr,
      debug,
      # --web.config.file, or null.
      webConfigFile ? null,
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
      # `systemctl reload` sends SIGHUP, which the exporter answers with one log line, "SIGHUP:
      # nothing to reload", and keeps running (all its settings are on the command line; change
      # them with a restart). Without it, a reload would fail, and a SIGHUP would once have ended
      # the process with subscriptions live. src/signals.ts has every signal's action.
      ExecReload = "${kill} -HUP $MAINPID";
      ExecStart = lib.escapeShellArgs (
        [
          exec
          "--metrics-addr"
          metricsAddr
        ]
        ++ lib.optionals debug [ "--debug" ]
        ++ lib.optionals (webConfigFile != null) [
          "--web.config.file"
          webConfigFile
        ]
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
