// podman's 127/126 read from the runtime's error text (lib/cli/commands/not_runnable.ts).
import { assertEquals } from "./assert.ts";
import { commandExitCode } from "../lib/cli/commands/not_runnable.ts";
import { notRunnableCode } from "../lib/ops/not_runnable.ts";
import { NotFound, RuntimeError } from "../lib/host/errors.ts";

Deno.test("not found is 127, cannot run is 126, anything else keeps berth's code", () => {
  const runc = (tail: string) =>
    new RuntimeError(
      `create "x": runtime: runc create failed: unable to start container process: ${tail}`,
    );
  assertEquals(notRunnableCode(runc('exec: "nosuch": executable file not found in $PATH')), 127);
  assertEquals(
    notRunnableCode(runc('exec: "/no/x": stat /no/x: no such file or directory')),
    127,
  );
  assertEquals(notRunnableCode(runc('exec: "/etc/passwd": permission denied')), 126);
  assertEquals(notRunnableCode(runc('exec: "/etc": is a directory')), 126);
  assertEquals(notRunnableCode(runc("cgroup: permission denied")), null);
  assertEquals(commandExitCode(new NotFound('container "x" not found')), 3);
  assertEquals(commandExitCode(runc("something else")), 1);
});
