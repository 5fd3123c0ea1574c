// Parsing and output of the podman verbs port, rename, logs' time options and the prunes.
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./assert.ts";
import { containerPruneCommand } from "../lib/cli/commands/container_prune.ts";
import { confirmed } from "../lib/cli/commands/confirm.ts";
import { renameCommand } from "../lib/cli/commands/rename.ts";
import { dfSize, systemCommand, systemPruneWarning } from "../lib/cli/commands/system.ts";
import { infoCommand, infoJson, infoText, jsonKey } from "../lib/cli/commands/info.ts";
import { parsePortQuery, portCommand, portLines } from "../lib/cli/commands/port.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { logsCommand, parseLogTime, windowKeepsAll } from "../lib/cli/commands/logs.ts";

Deno.test("port: PORT[/PROTO] parses, tcp by default; bad ports are usage errors", () => {
  assertEquals(parsePortQuery("80"), { port: 80, protocol: "tcp" });
  assertEquals(parsePortQuery("53/udp"), { port: 53, protocol: "udp" });
  for (const bad of ["0", "65536", "80/sctp", "x", "80/", "-1", ""]) {
    assertThrows(() => parsePortQuery(bad), InvalidArgument);
  }
  assertEquals(portCommand.parse(["web1"]), { ref: "web1" });
  assertEquals(portCommand.parse(["web1", "8080/tcp"]), {
    ref: "web1",
    query: { port: 8080, protocol: "tcp" },
  });
  assertThrows(() => portCommand.parse([]), InvalidArgument, "missing NAME");
  assertThrows(() => portCommand.parse(["a", "80", "x"]), InvalidArgument, "unexpected");
});

Deno.test("port: podman's lines, every mapping or one port's host side", () => {
  const ports = [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" as const, hostIP: "" },
    { hostPort: 5353, containerPort: 53, protocol: "udp" as const, hostIP: "127.0.0.1" },
  ];
  assertEquals(portLines(ports), ["80/tcp -> 0.0.0.0:8080", "53/udp -> 127.0.0.1:5353"]);
  assertEquals(portLines(ports, { port: 80, protocol: "tcp" }), ["0.0.0.0:8080"]);
  assertEquals(portLines(ports, { port: 53, protocol: "tcp" }), []);
  assertEquals(portLines([]), []);
});

Deno.test("logs: TIME is RFC 3339, Unix seconds or a duration ago; -t is refused", () => {
  const now = Date.parse("2026-01-02T03:04:05Z");
  assertEquals(parseLogTime("since", "2026-01-02T03:00:00Z", now), now - 245_000);
  assertEquals(parseLogTime("since", "1700000000.5", now), 1_700_000_000_500);
  assertEquals(parseLogTime("since", "1h30m", now), now - 5_400_000);
  assertEquals(parseLogTime("until", "10s", now), now - 10_000);
  for (const bad of ["yesterday", "10x", "", "2026-13"]) {
    assertThrows(() => parseLogTime("since", bad, now), InvalidArgument);
  }
  assertThrows(() => logsCommand.parse(["-t", "c1"]), InvalidArgument, "no time per line");
  assertThrows(() => logsCommand.parse(["--since", "soon", "c1"]), InvalidArgument, "--since");
});

Deno.test("logs: a window is exact only before creation or after the exit", () => {
  const [created, exited] = [1000, 5000];
  assertEquals(windowKeepsAll({}, created, null), true);
  assertEquals(windowKeepsAll({ since: 999 }, created, null), true);
  assertEquals(windowKeepsAll({ since: 1001 }, created, null), undefined);
  assertEquals(windowKeepsAll({ until: 999 }, created, null), false);
  assertEquals(windowKeepsAll({ until: 9999 }, created, null), undefined);
  assertEquals(windowKeepsAll({ until: 5000 }, created, exited), true);
  assertEquals(windowKeepsAll({ since: 5001 }, created, exited), false);
  assertEquals(windowKeepsAll({ since: 2000 }, created, exited), undefined);
  assertEquals(windowKeepsAll({ since: 0, until: 4999 }, created, exited), undefined);
});

Deno.test("container prune: -f only; without a terminal to ask, refused unless -f", async () => {
  assertEquals(containerPruneCommand.parse(["-f"]), { force: true });
  assertEquals(containerPruneCommand.parse([]), { force: false });
  assertThrows(() => containerPruneCommand.parse(["x"]), InvalidArgument, "unexpected");
  const io = { out: () => {}, err: () => {} };
  assertEquals(await confirmed("container prune", "W", true, io, false), true);
  await assertRejects(
    () => confirmed("container prune", "W", false, io, false),
    InvalidArgument,
    "not a terminal",
  );
});

Deno.test("info: podman's JSON keys and text; --format parses", () => {
  assertEquals(["OCIRuntime", "OS", "GraphRoot", "CgroupVersion", "Number"].map(jsonKey), [
    "ociRuntime",
    "os",
    "graphRoot",
    "cgroupVersion",
    "number",
  ]);
  assertEquals(
    infoJson({ Host: { OS: "linux", OCIRuntime: { Name: "runc" } }, Version: { Version: "1" } }),
    { host: { os: "linux", ociRuntime: { name: "runc" } }, version: { Version: "1" } },
  );
  assertEquals(infoText({ a: { b: 1, c: "" } }), 'a:\n  b: 1\n  c: ""\n');
  assertEquals(infoCommand.parse([]), { format: null });
  assertThrows(() => infoCommand.parse(["--format", "{{.X"]), InvalidArgument);
  assertThrows(() => infoCommand.parse(["x"]), InvalidArgument, "unexpected");
});

Deno.test("system: df/prune parse; podman's decimal sizes; the warning names what goes", () => {
  assertEquals(systemCommand.parse(["df"]), { sub: "df", format: null });
  assertEquals(systemCommand.parse(["prune", "-a", "-f", "--volumes"]), {
    sub: "prune",
    all: true,
    force: true,
    volumes: true,
  });
  assertThrows(() => systemCommand.parse([]), InvalidArgument, "give a verb");
  assertThrows(() => systemCommand.parse(["reset"]), InvalidArgument, "unknown verb");
  assertThrows(() => systemCommand.parse(["df", "-a"]), InvalidArgument);
  assertThrows(() => systemCommand.parse(["prune", "x"]), InvalidArgument, "unexpected");
  assertEquals([0, 999, 1000, 4_270_000, 1_500_000_000].map(dfSize), [
    "0B",
    "999B",
    "1kB",
    "4.27MB",
    "1.5GB",
  ]);
  assertTrue(systemPruneWarning(true, true).includes("all volumes not used"));
  assertTrue(systemPruneWarning(false, false).includes("all dangling images"));
});

Deno.test("rename: OLD NEW; NEW must be a valid name (exit 2 before anything runs)", () => {
  assertEquals(renameCommand.parse(["web1", "web2"]), { ref: "web1", name: "web2" });
  assertThrows(() => renameCommand.parse(["web1"]), InvalidArgument, "missing NEW");
  assertThrows(() => renameCommand.parse(["a", "b", "c"]), InvalidArgument, "unexpected");
  for (const bad of ["", "a/b", "..", "a".repeat(200)]) {
    assertThrows(() => renameCommand.parse(["web1", bad]), InvalidArgument, "invalid name");
  }
});
