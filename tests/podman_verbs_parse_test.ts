// Parsing and output of the podman verbs port, rename, logs' time options and the prunes.
import { assertEquals, assertThrows } from "./assert.ts";
import { parsePortQuery, portCommand, portLines } from "../lib/cli/commands/port.ts";
import { InvalidArgument } from "../lib/host/errors.ts";

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
