/** Evaluates nix/module.nix (with the stub lib) and renders its service as a systemd unit file. */
const root = new URL("../../", import.meta.url).pathname;

export interface ModuleEval {
  optionNames: string[];
  defaults: Record<string, unknown>;
  service: {
    description: string;
    after: string[];
    bindsTo: string[];
    wantedBy: string[];
    startLimitIntervalSec: number;
    startLimitBurst: number;
    environment: Record<string, string>;
    serviceConfig: Record<string, string | number | boolean | string[]>;
  };
  firewall: number[];
}

export async function evalModule(options: string): Promise<ModuleEval> {
  const out = await new Deno.Command("nix-instantiate", {
    args: ["--eval", "--strict", "--json", `${root}nix/tests/eval-module.nix`, "--arg", "options", options],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`nix-instantiate failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function value(v: string | number | boolean): string {
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}

/** The unit as NixOS would write it (same sections and directives). */
export function renderUnit(s: ModuleEval["service"], header = ""): string {
  const lines = [header + "[Unit]", `Description=${s.description}`];
  if (s.after.length) lines.push(`After=${s.after.join(" ")}`);
  if (s.bindsTo.length) lines.push(`BindsTo=${s.bindsTo.join(" ")}`);
  lines.push(
    `StartLimitIntervalSec=${s.startLimitIntervalSec}`,
    `StartLimitBurst=${s.startLimitBurst}`,
    "",
    "[Service]",
  );
  for (const [k, v] of Object.entries(s.environment)) lines.push(`Environment=${k}=${v}`);
  for (const [k, v] of Object.entries(s.serviceConfig).sort(([a], [b]) => a.localeCompare(b))) {
    // NixOS writes a list as one line per element.
    for (const item of Array.isArray(v) ? v : [v]) lines.push(`${k}=${value(item)}`);
  }
  lines.push("", "[Install]", `WantedBy=${s.wantedBy.join(" ")}`, "");
  return lines.join("\n");
}

export const PACKAGING_OPTIONS =
  `{ package = "/usr/local"; user = "bitcoin"; group = "bitcoin"; socketPath = "/var/lib/bitcoind/node.sock"; after = [ "bitcoind.service" ]; bindsTo = [ "bitcoind.service" ]; }`;

export const PACKAGING_HEADER = `# bitcoind-ipc-exporter as a plain systemd service, for systems without Nix.
# Generated from nix/module.nix (the NixOS module's unit) by \`deno task unit\`; a test checks they agree.
# Install the exporter as /usr/local/bin/bitcoind-ipc-exporter (e.g. the bundle plus nix/wrapper.sh),
# adjust User/Group, the socket path (ExecStart's last argument) and ReadWritePaths, then:
#   systemctl daemon-reload && systemctl enable --now bitcoind-ipc-exporter
`;
