// /proc/net/route parsing and the refusal of a subnet another interface routes.
import { assertEquals, assertThrows } from "./assert.ts";
import { checkSubnetUnrouted, parseRoutes } from "../lib/network/_routes.ts";
import { parseCidr } from "../lib/network/_subnet.ts";
import { RuntimeError } from "../lib/host/errors.ts";

const TEXT = [
  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
  "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
  "bth-aaaa\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
  "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
  "",
].join("\n");

Deno.test("parseRoutes reads interfaces and destination subnets", () => {
  const routes = parseRoutes(TEXT).map((r) => [r.iface, r.dest.base, r.dest.bits]);
  assertEquals(routes, [
    ["eth0", 0, 0],
    ["bth-aaaa", parseCidr("10.88.0.0/16")!.base, 16],
    ["eth0", parseCidr("192.0.2.0/24")!.base, 24],
  ]);
});

Deno.test("a subnet routed through another interface is refused; its own bridge's route is fine", () => {
  const routes = parseRoutes(TEXT);
  checkSubnetUnrouted("bridge", parseCidr("10.88.0.0/16")!, "bth-aaaa", routes);
  checkSubnetUnrouted("n", parseCidr("10.89.0.0/24")!, "bth-bbbb", routes); // default route aside
  assertThrows(
    () => checkSubnetUnrouted("bridge", parseCidr("10.88.0.0/16")!, "bth-bbbb", routes),
    RuntimeError,
    'network "bridge": its subnet 10.88.0.0/16 is already routed through bth-aaaa',
  );
  assertThrows(
    () => checkSubnetUnrouted("n", parseCidr("192.0.2.128/25")!, "bth-bbbb", routes),
    RuntimeError,
    "already routed through eth0 (192.0.2.0/24",
  );
});
