/**
 * What each signal does to the exporter. One table, used by src/app.ts while the exporter runs.
 *
 * The hazard: the default action of SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 ends the process at once.
 * With subscriptions live that closes the IPC socket under them, and a node of the multiprocess
 * branches dies with it. A closed terminal or SSH session (SIGHUP), a log-rotation script's
 * `kill -HUP`, a `systemctl reload` or Ctrl-\ (SIGQUIT) must not do that: every signal here is
 * either an orderly shutdown (disconnect first, then close, exit 0) or ignored with one log line.
 *
 * Left at their default, deliberately: SIGKILL and SIGSTOP (cannot be caught: never stop the
 * exporter with SIGKILL while it is connected), SIGSEGV/SIGBUS/SIGILL/SIGFPE (real faults),
 * SIGPIPE (already ignored by Deno's runtime: a write to a closed socket is an error, not a
 * signal), SIGPROF (V8's CPU profiler samples with it), SIGCHLD/SIGWINCH/SIGURG (ignored by
 * default), SIGTSTP/SIGTTIN/SIGTTOU/SIGCONT (job control: they stop the process, they do not end
 * it), and the rarely sent SIGALRM, SIGVTALRM, SIGXCPU, SIGXFSZ, SIGPWR, SIGSYS, SIGTRAP.
 */
import type { Logger } from "./log.ts";

export type SignalPolicy =
  /** Stop as SIGTERM does: disconnect every subscription, close the socket, exit 0. */
  | { action: "shutdown" }
  /** Keep running; log this line (rate-limited by the logger like any other). */
  | { action: "ignore"; line: string };

export const SIGNAL_POLICY: Readonly<Partial<Record<Deno.Signal, SignalPolicy>>> = {
  // systemd's stop (KillSignal=SIGTERM), kill(1)'s default.
  SIGTERM: { action: "shutdown" },
  // Ctrl-C.
  SIGINT: { action: "shutdown" },
  // Ctrl-\. Its default would exit at once (and dump core) with subscriptions live.
  SIGQUIT: { action: "shutdown" },
  // Daemons reload their configuration on SIGHUP; the exporter has none to reload (everything is
  // on the command line), and it must survive a closed terminal or a log-rotation `kill -HUP`.
  // `systemctl reload` sends it (ExecReload in the unit).
  SIGHUP: { action: "ignore", line: "SIGHUP: nothing to reload (all settings are on the command line); still running" },
  SIGUSR1: { action: "ignore", line: "SIGUSR1: no action assigned; ignored, still running" },
  SIGUSR2: { action: "ignore", line: "SIGUSR2: no action assigned; ignored, still running" },
};

/**
 * Listens for every signal in SIGNAL_POLICY; `shutdown` is called with the signal's name for the
 * shutdown ones (it must be idempotent: a second SIGTERM while stopping changes nothing). Returns
 * a function that removes the listeners.
 */
export function installSignalHandlers(log: Logger, shutdown: (signal: Deno.Signal) => void): () => void {
  const installed: [Deno.Signal, () => void][] = [];
  for (const [signal, policy] of Object.entries(SIGNAL_POLICY) as [Deno.Signal, SignalPolicy][]) {
    const listener = policy.action === "shutdown" ? () => shutdown(signal) : () => log.info(policy.line, signal);
    Deno.addSignalListener(signal, listener);
    installed.push([signal, listener]);
  }
  return () => {
    for (const [signal, listener] of installed.splice(0)) Deno.removeSignalListener(signal, listener);
  };
}
