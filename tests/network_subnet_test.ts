// IPv4 parsing, canonical subnets, overlap and gateways.
import { assertEquals } from "./assert.ts";
import {
  contains,
  formatSubnet,
  gatewayOf,
  overlaps,
  parseCidr,
  parseIpv4,
} from "../lib/network/subnet.ts";

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
