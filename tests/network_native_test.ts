// Which conflists berth sets up itself (lib/network/_native.ts): its own
// bridge networks as `network create` writes them (and `network connect`
// runs them, without portmap); anything else a user brings runs the CNI
// plugins. And the rules it plans: the plugins' chain names, a blind
// restore that fails as a whole when a shared rule is missing.

import { assertEquals, assertTrue as assert } from "./assert.ts";
import { buildConfList } from "../lib/network/_networks.ts";
import { hostVeth, nativeNet } from "../lib/network/_native.ts";
import { containerRules, planDel, restoreInput } from "../lib/network/_native_rules.ts";
import { containerChains } from "../lib/network/_stale_rules.ts";
import { parseCidr } from "../lib/network/_subnet.ts";
import type { ConfList } from "../lib/network/_cni.ts";

function withDataDir(conf: ConfList): ConfList {
  return {
    ...conf,
    plugins: conf.plugins.map((p) =>
      p.type === "bridge" ? { ...p, ipam: { ...(p.ipam as object), dataDir: "/run/x/ipam" } } : p
    ),
  };
}

Deno.test("nativeNet: berth's own bridge networks, internal or not, with or without portmap", () => {
  const subnet = parseCidr("10.89.3.0/24")!;
  const plain = nativeNet(withDataDir(buildConfList("web", subnet, "bth-1")))!;
  assertEquals(plain.bridge, "bth-1");
  assertEquals(plain.gateway, "10.89.3.1");
  assertEquals([plain.masquerade, plain.defaultRoute, plain.portmap, plain.firewall], [
    true,
    true,
    true,
    true,
  ]);
  const internal = nativeNet(withDataDir(
    buildConfList("in", subnet, "bth-2", { internal: true, dnsEnabled: true }),
  ))!;
  assertEquals([internal.masquerade, internal.defaultRoute], [false, false]);
  const conf = withDataDir(buildConfList("web", subnet, "bth-1"));
  const connect = { ...conf, plugins: conf.plugins.filter((p) => p.type !== "portmap") };
  assertEquals(nativeNet(connect)?.portmap, false);
});

Deno.test("nativeNet: a conflist of any other shape runs the plugins", () => {
  const conf = withDataDir(buildConfList("web", parseCidr("10.89.3.0/24")!, "bth-1"));
  const bridge = conf.plugins[0]!;
  const other = (plugins: Record<string, unknown>[]) => nativeNet({ ...conf, plugins });
  assertEquals(nativeNet(buildConfList("web", parseCidr("10.89.3.0/24")!, "bth-1")), null); // no dataDir
  assertEquals(other([...conf.plugins, { type: "tuning" }]), null);
  assertEquals(other([{ ...bridge, mtu: 9000 }, ...conf.plugins.slice(1)]), null);
  assertEquals(other([{ ...bridge, ipam: { type: "dhcp" } }, ...conf.plugins.slice(1)]), null);
  assertEquals(other([{ type: "macvlan", master: "eth0" }]), null);
  assertEquals(
    other([...conf.plugins.slice(0, 2), { type: "firewall", backend: "firewalld" }]),
    null,
  );
});

Deno.test("native rules: the plugins' chain names; DEL drops the chains", async () => {
  const id = "berth-0123456789abcdef01234567";
  const input = {
    network: "web",
    containerId: id,
    ip: "10.89.3.7",
    subnet: "10.89.3.0/24",
    masquerade: true,
    firewall: true,
    ports: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" as const, hostIP: "127.0.0.1" }],
  };
  const own = await containerRules(input);
  assertEquals(own.ownChains.map(([, c]) => c), await containerChains("web", id));
  assertEquals(hostVeth("9df73a2b0123456789abcdef").length <= 15, true);
  const del = restoreInput(planDel(null, own));
  for (const [, c] of own.ownChains) assert(del.includes(`-X ${c}\n`), del);
  assert(del.includes("-D CNI-FORWARD -s 10.89.3.7/32 -j ACCEPT"), del);
  assert(del.indexOf("-D POSTROUTING") < del.indexOf("-X CNI-"), "the jump goes before its chain");
});
