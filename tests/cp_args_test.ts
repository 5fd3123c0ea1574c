// `berth cp` arguments: which side is a container's (docker's split), -a,
// and the usage errors (exit 2) for two host sides, two containers, `- -`.
import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { cpCommand } from "../lib/cli/commands/cp.ts";
import { parseEndpoint } from "../lib/ops/cp.ts";

Deno.test("NAME:PATH is a container's; a path starting with / or . is the host's", () => {
  assertEquals(parseEndpoint("web1:/etc/x"), { container: "web1", path: "/etc/x" });
  assertEquals(parseEndpoint("web1:etc/x"), { container: "web1", path: "etc/x" });
  assertEquals(parseEndpoint("web1:"), { container: "web1", path: "/" });
  assertEquals(parseEndpoint("/tmp/a:b"), { container: null, path: "/tmp/a:b" });
  assertEquals(parseEndpoint("./a:b"), { container: null, path: "./a:b" });
  assertEquals(parseEndpoint("file.txt"), { container: null, path: "file.txt" });
  assertEquals(parseEndpoint("-"), { container: null, path: "-" });
  assertThrows(() => parseEndpoint(":x"), InvalidArgument);
});

Deno.test("cp parses -a and refuses two host sides, two containers, - -, a missing DST", () => {
  assertEquals(cpCommand.parse(["-a", "./f", "web1:/tmp"]), {
    src: { container: null, path: "./f" },
    dst: { container: "web1", path: "/tmp" },
    archive: true,
  });
  assertEquals(cpCommand.parse(["web1:/etc", "-"]).archive, false);
  for (
    const args of [
      ["./a", "./b"],
      ["a:/x", "b:/y"],
      ["-", "-"],
      ["-", "./b"],
      ["web1:/x"],
      ["web1:/x", "./y", "./z"],
      ["--nope", "web1:/x", "./y"],
    ]
  ) {
    const err = assertThrows(() => cpCommand.parse(args), InvalidArgument);
    assertEquals(err.message.startsWith("cp: "), true, err.message);
  }
});
