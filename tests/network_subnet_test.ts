// IPv4 parsing, canonical subnets, overlap and gateways.
import { assertEquals } from "./assert.ts";
import {
  contains,
  formatSubnet,
  gatewayOf,
  overlaps,
  parseCidr,
  parseIpv4,
  reservedOverlap,
} from "../lib/network/_subnet.ts";
import { parseSubnetOption } from "../lib/network/_networks.ts";
import { InvalidArgument } from "../lib/host/errors.ts";

Deno.test("parseIpv4 takes dotted quads only", () => {
  assertEquals(parseIpv4("10.88.0.1"), (10 << 24 | 88 << 16 | 1) >>> 0);
  assertEquals(parseIpv4("255.255.255.255"), 0xffffffff);
  for (
    const bad of ["10.88.0", "10.88.0.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", "", " 1.2.3.4"]
  ) {
    assertEquals(parseIpv4(bad), null, bad);
  }
});

Deno.test("parseCidr: canonical subnets, or any address with canonical=false", () => {
  assertEquals(formatSubnet(parseCidr("10.88.0.0/16")!), "10.88.0.0/16");
  assertEquals(parseCidr("10.88.0.1/16"), null);
  assertEquals(formatSubnet(parseCidr("10.88.0.1/16", false)!), "10.88.0.0/16");
  for (const bad of ["10.88.0.0", "10.88.0.0/33", "10.88.0.0/", "10.88.0.0/a", "300.1.0.0/16"]) {
    assertEquals(parseCidr(bad), null, bad);
  }
  assertEquals(formatSubnet(parseCidr("0.0.0.0/0")!), "0.0.0.0/0");
});

Deno.test("overlaps and contains", () => {
  const a = parseCidr("10.88.0.0/16")!;
  assertEquals(overlaps(a, parseCidr("10.88.5.0/24")!), true);
  assertEquals(overlaps(parseCidr("10.88.5.0/24")!, a), true);
  assertEquals(overlaps(a, parseCidr("10.89.0.0/24")!), false);
  assertEquals(overlaps(parseCidr("10.0.0.0/8")!, parseCidr("10.255.0.0/16")!), true);
  assertEquals(contains(a, parseIpv4("10.88.255.255")!), true);
  assertEquals(contains(a, parseIpv4("10.89.0.0")!), false);
  assertEquals(gatewayOf(a), "10.88.0.1");
});

Deno.test("reservedOverlap: any overlap with 0/8, 127/8, 169.254/16, 224/4, 240/4", () => {
  const cases: [string, string | null][] = [
    ["127.0.0.0/8", "127.0.0.0/8"],
    ["127.1.2.0/24", "127.0.0.0/8"],
    ["0.0.0.0/8", "0.0.0.0/8"],
    ["0.10.0.0/16", "0.0.0.0/8"],
    ["169.254.0.0/16", "169.254.0.0/16"],
    ["169.254.10.0/24", "169.254.0.0/16"],
    ["169.0.0.0/8", "169.254.0.0/16"], // holds it
    ["224.0.0.0/4", "224.0.0.0/4"],
    ["239.1.0.0/16", "224.0.0.0/4"],
    ["240.0.0.0/4", "240.0.0.0/4"],
    ["255.255.255.0/24", "240.0.0.0/4"], // 255.255.255.255 among them
    ["10.0.0.0/8", null],
    ["126.0.0.0/8", null],
    ["128.0.0.0/8", null],
    ["169.253.0.0/16", null],
    ["223.255.255.0/24", null],
    ["1.0.0.0/8", null],
  ];
  for (const [text, want] of cases) {
    const r = reservedOverlap(parseCidr(text)!);
    assertEquals(r === null ? null : formatSubnet(r.subnet), want, text);
  }
});

Deno.test("parseSubnetOption refuses reserved ranges (InvalidArgument: exit 2), one line", () => {
  for (
    const text of [
      "127.0.0.0/8",
      "0.0.0.0/8",
      "224.0.0.0/4",
      "169.254.0.0/16",
      "240.0.0.0/4",
      "255.255.255.0/24",
      "127.0.0.0/16",
    ]
  ) {
    let err: unknown = null;
    try {
      parseSubnetOption(text);
    } catch (e) {
      err = e;
    }
    assertEquals(err instanceof InvalidArgument, true, text);
    const msg = (err as Error).message;
    assertEquals(msg.includes("\n"), false);
    assertEquals(msg.startsWith(`invalid subnet "${text}": it overlaps `), true, msg);
  }
  assertEquals(formatSubnet(parseSubnetOption("10.90.0.0/24")), "10.90.0.0/24");
  assertEquals(formatSubnet(parseSubnetOption("172.16.0.0/12")), "172.16.0.0/12");
});
