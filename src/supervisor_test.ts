import { assertStringIncludes } from "../tests/support/assert.ts";
import { describeConnectFailure } from "./supervisor.ts";
import { FlavourError } from "./ipc/errors.ts";

Deno.test("connect failures read as one line with the fix", () => {
  const path = "/var/lib/bitcoind/node.sock";
  const denied = describeConnectFailure(new Deno.errors.PermissionDenied("EACCES"), path, "uid 990");
  assertStringIncludes(denied, path);
  assertStringIncludes(denied, "uid 990");
  assertStringIncludes(denied, "group-writable");
  assertStringIncludes(describeConnectFailure(new Deno.errors.NotFound("x"), path, undefined), "-ipcbind=unix");
  // The socket's owner and mode, when it can be read, say what to change.
  const file = Deno.makeTempFileSync();
  try {
    Deno.chmodSync(file, 0o600);
    const st = Deno.statSync(file);
    assertStringIncludes(
      describeConnectFailure(new Deno.errors.PermissionDenied("EACCES"), file, undefined),
      `${file} (owner uid ${st.uid}, gid ${st.gid}, mode 0600): the exporter's user needs write access`,
    );
  } finally {
    Deno.removeSync(file);
  }
  assertStringIncludes(describeConnectFailure(new Deno.errors.ConnectionRefused("x"), path, undefined), "refused");
  assertStringIncludes(describeConnectFailure(new FlavourError("stock release"), path, undefined), "stock release");
});
