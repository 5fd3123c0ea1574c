// -p parsing and host port clashes.
import { assertEquals, assertThrows } from "./assert.ts";
import { checkOwnPorts, formatPort, parsePublish, portsClash } from "../lib/network/_ports.ts";
import { InvalidArgument } from "../lib/host/errors.ts";

Deno.test("parsePublish: [IP:]HOSTPORT:PORT[/tcp|udp]", () => {
  assertEquals(parsePublish("8080:80"), {
    hostPort: 8080,
    containerPort: 80,
    protocol: "tcp",
    hostIP: "",
  });
  assertEquals(parsePublish("127.0.0.1:8080:80/udp"), {
    hostPort: 8080,
    containerPort: 80,
    protocol: "udp",
    hostIP: "127.0.0.1",
  });
  assertEquals(parsePublish("0.0.0.0:1:65535").hostIP, "");
  assertEquals(parsePublish(":53:53/udp").hostIP, "");
  for (
    const [bad, why] of [
      ["99999:80", 'invalid port "99999"'],
      ["0:80", 'invalid port "0"'],
      ["80", "invalid -p 80"],
      ["1:2:3:4", "invalid -p"],
      ["8080:80/sctp", 'invalid protocol "sctp"'],
      ["localhost:8080:80", 'invalid host address "localhost"'],
      ["::1:8080:80", "invalid"],
      ["a:80", 'invalid port "a"'],
    ]
  ) {
    assertThrows(() => parsePublish(bad!), InvalidArgument, why);
  }
});

Deno.test("portsClash: same port and protocol on overlapping addresses", () => {
  const p = (s: string) => parsePublish(s);
  assertEquals(portsClash(p("8080:80"), p("127.0.0.1:8080:81")), true);
  assertEquals(portsClash(p("127.0.0.2:8080:80"), p("127.0.0.1:8080:81")), false);
  assertEquals(portsClash(p("8080:80/udp"), p("8080:80/tcp")), false);
  assertEquals(portsClash(p("8080:80"), p("8081:80")), false);
  assertThrows(
    () => checkOwnPorts([p("8080:80"), p("127.0.0.1:8080:90")]),
    InvalidArgument,
    "twice",
  );
  checkOwnPorts([p("8080:80"), p("8080:80/udp")]);
  assertEquals(formatPort(p("8080:80")), "0.0.0.0:8080->80/tcp");
});
