/** `commit -c`: Dockerfile instructions applied to a config section; `history` rows. */

import { applyChange, type ContainerConfigSection } from "../lib/image/_config_changes.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { historyRows } from "../lib/cli/commands/history.ts";
import { assertEquals, assertThrows } from "./assert.ts";

function apply(changes: string[], c: ContainerConfigSection = {}): ContainerConfigSection {
  for (const ch of changes) applyChange(c, ch);
  return c;
}

Deno.test("config changes: CMD and ENTRYPOINT in JSON and shell form", () => {
  assertEquals(apply(['CMD ["echo","hi"]']).Cmd, ["echo", "hi"]);
  assertEquals(apply(["CMD echo hi"]).Cmd, ["/bin/sh", "-c", "echo hi"]);
  assertEquals(apply(["cmd [not json"]).Cmd, ["/bin/sh", "-c", "[not json"]);
  const e = apply(['ENTRYPOINT ["/app"]'], { Cmd: ["x"] });
  assertEquals([e.Entrypoint, e.Cmd], [["/app"], null]);
  assertEquals(apply(['ENTRYPOINT ["/app"]', 'CMD ["-v"]']).Cmd, ["-v"]);
});

Deno.test("config changes: ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL", () => {
  const c = apply([
    'ENV A=1 B="two words"',
    "ENV C three words",
    "ENV A=one",
    'LABEL x=y "z"=w',
    "EXPOSE 80 53/udp",
    'VOLUME ["/data"]',
    "VOLUME /a /b",
    "USER 1000:1000",
    "WORKDIR /srv",
    "WORKDIR app",
    "STOPSIGNAL SIGTERM",
  ], { Env: ["PATH=/bin"] });
  assertEquals(c.Env, ["PATH=/bin", "A=one", "B=two words", "C=three words"]);
  assertEquals(c.Labels, { x: "y", z: "w" });
  assertEquals(c.ExposedPorts, { "80/tcp": {}, "53/udp": {} });
  assertEquals(Object.keys(c.Volumes!), ["/data", "/a", "/b"]);
  assertEquals([c.User, c.WorkingDir, c.StopSignal], ["1000:1000", "/srv/app", "SIGTERM"]);
});

Deno.test("config changes: bad instructions are usage errors naming the change", () => {
  for (
    const [bad, why] of [
      ["FROM busybox", "FROM is not one of"],
      ["RUN true", "RUN is not one of"],
      ["ENV", "needs a value"],
      ["EXPOSE http", "not PORT"],
      ["EXPOSE 70000", "not PORT"],
      ["VOLUME data", "not an absolute path"],
      ['CMD ["a", 1]', "array of strings"],
      ['LABEL a="b', "unterminated quote"],
      ["ENV =x", "not KEY=VALUE"],
      ["", "not an instruction"],
    ]
  ) {
    const err = assertThrows(() => apply([bad!]), InvalidArgument);
    assertEquals(err.message.startsWith(`commit: -c "${bad}": `), true, err.message);
    assertEquals(err.message.includes(why!), true, err.message);
  }
});

Deno.test("history rows: newest first, the ID on top, empty layers weigh nothing, missing history padded", () => {
  const rows = historyRows("abc", [
    { created: "2020-01-01T00:00:00Z", created_by: "ADD x" },
    { created_by: "ENV a=b", empty_layer: true },
    { created_by: "commit", comment: "m" },
  ], [10, 20]);
  assertEquals(rows.map((r) => [r.id, r.createdBy, r.size, r.comment]), [
    ["abc", "commit", 20, "m"],
    ["<missing>", "ENV a=b", 0, ""],
    ["<missing>", "ADD x", 10, ""],
  ]);
  assertEquals(historyRows("i", undefined, [1, 2]).map((r) => r.size), [2, 1]);
});
