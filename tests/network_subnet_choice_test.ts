// Which subnets are taken and which one a network gets; the host-wide paths;
// an older berth's per-root definitions moved into the network directory.
import { assertEquals, assertThrows } from "./assert.ts";
import { join } from "node:path";
import {
  bridgeCandidates,
  firstFree,
  networkCandidates,
  podmanInstalled,
  podmanSubnets,
} from "../lib/network/_subnet_choice.ts";
import { formatSubnet, parseCidr, type Subnet } from "../lib/network/_subnet.ts";
import { hostNetworkPaths, secureNetworkDir } from "../lib/network/_host_paths.ts";
import {
  bridgeName,
  buildConfList,
  createNetwork,
  listNetworks,
  loadNetwork,
  migrateLegacy,
  networkInUse,
  networkPaths,
} from "../lib/network/_networks.ts";
import { listLeases } from "../lib/network/_leases.ts";
import { InvalidArgument, RuntimeError } from "../lib/host/errors.ts";

const cidr = (s: string): Subnet => parseCidr(s)!;
const pick = (c: Subnet[], taken: string[]) => {
  const s = firstFree(c, taken.map((t) => parseCidr(t, false)!));
  return s === null ? null : formatSubnet(s);
};

Deno.test("bridge: 10.88.0.0/16 when free, else the first free /16 from 10.90.0.0/16", () => {
  assertEquals(pick(bridgeCandidates(), []), "10.88.0.0/16");
  // podman's podman0 routes 10.88.0.0/16: 10.89 is podman's range for new networks, skipped.
  assertEquals(pick(bridgeCandidates(), ["10.88.0.0/16"]), "10.90.0.0/16");
  assertEquals(pick(bridgeCandidates(), ["10.88.0.1/24", "10.90.3.0/24"]), "10.91.0.0/16");
  // A host network covering all of 10/8: none.
  assertEquals(pick(bridgeCandidates(), ["10.0.0.0/8"]), null);
  assertEquals(bridgeCandidates().length, 1 + 166);
  assertEquals(formatSubnet(bridgeCandidates().at(-1)!), "10.255.0.0/16");
});

Deno.test("a new network: the first /24 of 10.89.0.0/16 no route, definition or podman holds", () => {
  assertEquals(pick(networkCandidates(), []), "10.89.0.0/24");
  assertEquals(pick(networkCandidates(), ["10.89.0.0/24", "10.89.1.0/25"]), "10.89.2.0/24");
  assertEquals(pick(networkCandidates(), ["10.89.0.0/16"]), null);
  assertEquals(pick(networkCandidates(), ["10.88.0.0/16", "10.90.0.0/16"]), "10.89.0.0/24");
});

Deno.test("podman's subnets: its network files (netavark's format) and 10.88.0.0/16 when installed", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(
      join(dir, "a.json"),
      JSON.stringify({ name: "a", subnets: [{ subnet: "10.89.0.0/24", gateway: "10.89.0.1" }] }),
    );
    Deno.writeTextFileSync(
      join(dir, "b.json"),
      JSON.stringify({ name: "b", subnets: [{ subnet: "10.89.7.0/24" }, { subnet: "fd00::/64" }] }),
    );
    Deno.writeTextFileSync(join(dir, "broken.json"), "{");
    Deno.writeTextFileSync(
      join(dir, "c.conf"),
      JSON.stringify({ subnets: [{ subnet: "1.0.0.0/8" }] }),
    );
    const got = (installed: boolean) => podmanSubnets(dir, installed).map(formatSubnet).sort();
    assertEquals(got(false), ["10.89.0.0/24", "10.89.7.0/24"]);
    assertEquals(got(true), ["10.88.0.0/16", "10.89.0.0/24", "10.89.7.0/24"]);
    assertEquals(podmanSubnets(join(dir, "nosuch"), false), []);
    Deno.mkdirSync(join(dir, "bin"));
    assertEquals(
      podmanInstalled(join(dir, "bin")),
      Deno.statSync("/usr/bin").isDirectory &&
        (() => {
          try {
            return Deno.statSync("/usr/bin/podman").isFile;
          } catch {
            return false;
          }
        })(),
    );
    Deno.writeTextFileSync(join(dir, "bin/podman"), "");
    assertEquals(podmanInstalled(join(dir, "bin")), true);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("host paths: the default directory's state in /run/berth/networks, any other's in DIR/run", () => {
  assertEquals(hostNetworkPaths("/etc/berth/networks"), {
    configDir: "/etc/berth/networks",
    runDir: "/run/berth/networks",
  });
  assertEquals(hostNetworkPaths("/etc/berth/networks/"), {
    configDir: "/etc/berth/networks",
    runDir: "/run/berth/networks",
  });
  assertEquals(hostNetworkPaths("/tmp/t/nets"), {
    configDir: "/tmp/t/nets",
    runDir: "/tmp/t/nets/run",
  });
  const p = networkPaths("/r", "/d", "/tmp/t/nets");
  assertEquals([p.configDir, p.runDir, p.stateDir, p.legacyDir], [
    "/tmp/t/nets",
    "/tmp/t/nets/run",
    "/r/networks",
    "/d/networks",
  ]);
  // Bridge names follow the network directory and the name, never a root.
  assertEquals(bridgeName("/tmp/t/nets", "n"), bridgeName("/tmp/t/nets/", "n"));
  assertEquals(bridgeName("/tmp/t/nets", "n") === bridgeName("/tmp/t/other", "n"), false);
  assertEquals(bridgeName("/tmp/t/nets", "n").length <= 15, true);
});

Deno.test("an older berth's per-root definitions move into the network directory, once", async () => {
  const base = Deno.makeTempDirSync();
  try {
    const p = networkPaths(join(base, "run"), join(base, "data"), join(base, "nets"));
    Deno.mkdirSync(p.legacyDir, { recursive: true });
    const old = (name: string, subnet: string, bridge: string) =>
      Deno.writeTextFileSync(
        join(p.legacyDir, `${name}.conflist`),
        JSON.stringify(buildConfList(name, cidr(subnet), bridge)),
      );
    old("web", "10.201.1.0/24", "bth-0ld00001");
    // A container of the root on "web", running: its record, and its address in the
    // root's own IPAM directory (where an older berth kept them).
    const token = "0123456789abcdef01234567";
    const oldIpam = join(p.stateDir, "ipam");
    const record = join(p.stateDir, "attach", `${token}.json`);
    Deno.mkdirSync(join(p.stateDir, "attach"), { recursive: true });
    Deno.mkdirSync(join(oldIpam, "web"), { recursive: true });
    const conf = buildConfList("web", cidr("10.201.1.0/24"), "bth-0ld00001");
    (conf.plugins[0]!.ipam as Record<string, unknown>).dataDir = oldIpam;
    Deno.writeTextFileSync(
      record,
      JSON.stringify({ token, ns: "default", id: "w1", network: "web", conf, ports: [] }),
    );
    Deno.writeTextFileSync(join(oldIpam, "web", "10.201.1.9"), `berth-${token}\r\neth0`);
    old("db", "10.201.2.0/24", "bth-0ld00002");
    old("clash", "10.201.3.0/24", "bth-0ld00003");
    // Before the move, a root still finds its own (loaded from the old place).
    assertEquals(loadNetwork(p, "web").subnet, "10.201.1.0/24");
    // Another root's berth already defined "clash" on another subnet, and "db" on the same one.
    Deno.mkdirSync(p.configDir, { recursive: true });
    for (const [name, subnet] of [["clash", "10.202.3.0/24"], ["db", "10.201.2.0/24"]]) {
      Deno.writeTextFileSync(
        join(p.configDir, `${name}.conflist`),
        JSON.stringify(buildConfList(name!, cidr(subnet!), bridgeName(p.configDir, name!))),
      );
    }
    // A create migrates first: "web" moved (its bridge name kept), "db" was the
    // same network (the old file went), "clash" set aside.
    await createNetwork(p, "new", cidr("10.203.0.0/24"), undefined, () => []);
    assertEquals(listNetworks(p).map((n) => [n.name, n.subnet, n.bridge]).slice(1), [
      ["clash", "10.202.3.0/24", bridgeName(p.configDir, "clash")],
      ["db", "10.201.2.0/24", bridgeName(p.configDir, "db")],
      ["new", "10.203.0.0/24", bridgeName(p.configDir, "new")],
      ["web", "10.201.1.0/24", "bth-0ld00001"],
    ]);
    assertEquals([...Deno.readDirSync(p.legacyDir)].map((e) => e.name), [
      "clash.conflist.unmigrated",
    ]);
    assertEquals(await migrateLegacy(p), []);
    // The running container is host-wide now: a lease naming its record, its address
    // held in the host-wide IPAM (no root is given it), and "web" is in use.
    assertEquals(listLeases(p.runDir), [
      { token, network: "web", record, ns: "default", id: "w1" },
    ]);
    assertEquals(
      Deno.readTextFileSync(join(p.runDir, "ipam/web/10.201.1.9")),
      `berth-${token}\r\neth0`,
    );
    assertEquals(networkInUse(p, "web"), true);
    // An unknown name is still refused.
    assertThrows(() => loadNetwork(p, "nosuch"), InvalidArgument, 'unknown network "nosuch"');
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});

Deno.test("a network directory others may write, or another user owns, is refused; absent is fine", () => {
  const dir = Deno.makeTempDirSync();
  try {
    secureNetworkDir(join(dir, "absent"));
    Deno.chmodSync(dir, 0o755);
    secureNetworkDir(dir, Deno.uid() ?? 0);
    Deno.chmodSync(dir, 0o777);
    assertThrows(() => secureNetworkDir(dir, Deno.uid() ?? 0), RuntimeError, "others may write it");
    Deno.chmodSync(dir, 0o755);
    assertThrows(() => secureNetworkDir(dir, (Deno.uid() ?? 0) + 1), RuntimeError, "owned by uid");
    Deno.writeTextFileSync(join(dir, "f"), "");
    assertThrows(
      () => secureNetworkDir(join(dir, "f"), Deno.uid() ?? 0),
      RuntimeError,
      "not a directory",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
