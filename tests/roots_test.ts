// The roots check (lib/host/roots.ts): refused when another user owns a
// root or others may write it; tightened to 0700 when others may enter.
import { assertEquals, assertThrows } from "./assert.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { secureRoot } from "../lib/host/roots.ts";

Deno.test("roots owned by someone else or writable by others are refused; open ones tightened", async () => {
  const dir = await Deno.makeTempDir();
  secureRoot(`${dir}/absent`, 0); // made 0700 when first needed
  await Deno.chmod(dir, 0o755);
  secureRoot(dir, 0);
  assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
  assertThrows(() => secureRoot(dir, 1000), RuntimeError, "owned by uid 0, not uid 1000");
  await Deno.chmod(dir, 0o1777);
  assertThrows(() => secureRoot(dir, 0), RuntimeError, "others may write it (mode 1777");
  await Deno.writeTextFile(`${dir}/f`, "");
  assertThrows(() => secureRoot(`${dir}/f`, 0), RuntimeError, "not a directory");
  await Deno.remove(dir, { recursive: true });
});
