// Networking over the real CNI plugins (bridge, host-local, portmap,
// loopback, firewall) and iptables, with real traffic. Only 127.0.0.1 and
// the bridges these tests make are ever addressed. Every test's roots have
// their own --network-dir (tests/helpers.ts), and every test makes its own
// network on a random free subnet of 10.200.0.0/13, so roots of other test
// runs on this host never share one; the default `bridge` (10.88.0.0/16, or
// the first free /16 from 10.90.0.0/16) is used under a host-wide lock.

import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthOk,
  cleanup,
  eventually,
  freePort,
  freeTestSubnet,
  hasNetworking,
  leftovers,
  makeRoots,
  mountsUnder,
  rootGc,
  type Roots,
  stateOf,
  withRoots,
} from "../helpers.ts";
import { join } from "node:path";
import {
  get,
  httpd,
  iptablesLog,
  privateNs,
  runSleeping,
  sh,
  sleepingArgs,
} from "./net_helpers.ts";
import dgram from "node:dgram";
import { CniClient } from "../../lib/network/_cni.ts";
import type { AttachRecord } from "../../lib/network/_attach.ts";

const ignore = !hasNetworking();
if (ignore) {
  console.log(
    "network tests skipped: needs root, the CNI plugins in /usr/lib/cni, iptables and ip",
  );
}

function assertMatch(text: string, re: RegExp, msg?: string): void {
  assert(re.test(text), msg ?? `${JSON.stringify(text)} does not match ${re}`);
}

/** The attachment records of a root (the CNI container IDs among them). */
function records(roots: Roots): { token: string; id: string; netns: string }[] {
  const dir = join(roots.root, "networks/attach");
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json"))
      .map((e) => JSON.parse(Deno.readTextFileSync(join(dir, e.name))));
  } catch {
    return [];
  }
}

/** Addresses host-local holds in the roots' network directory (host-wide: beside it, in run/). */
function ipamFiles(roots: Roots): string[] {
  const dir = join(roots.networkDir, "run/ipam");
  const out: string[] = [];
  try {
    for (const n of Deno.readDirSync(dir)) {
      for (const f of Deno.readDirSync(join(dir, n.name))) {
        if (/^[0-9.]+$/.test(f.name)) out.push(`${n.name}/${f.name}`);
      }
    }
  } catch { /* none */ }
  return out;
}

function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** The veth ports of a bridge device. */
function bridgePorts(bridge: string): string[] {
  try {
    return [...Deno.readDirSync(`/sys/class/net/${bridge}/brif`)].map((e) => e.name);
  } catch {
    return [];
  }
}

interface Net {
  name: string;
  subnet: string;
  bridge: string;
}

async function createNet(roots: Roots, name: string): Promise<Net> {
  const subnet = freeTestSubnet();
  await berthOk(roots, ["network", "create", "--subnet", subnet, name]);
  const [v] = JSON.parse(await berthOk(roots, ["network", "inspect", name]));
  return { name, subnet, bridge: v.bridge };
}

/** Checks that nothing of the root's networking is left, tokens of the containers included. */
async function assertNothingLeft(
  roots: Roots,
  tokens: string[],
  bridge: string,
  ports: number[],
  ips: string[] = [],
) {
  assertEquals(records(roots), [], "attachment records");
  assertEquals(ipamFiles(roots), [], "host-local allocations");
  assertEquals(
    [...listDir(join(roots.networkDir, "run/leases"))],
    [],
    "host-wide leases",
  );
  assertEquals(await mountsUnder(join(roots.root, "networks")), [], "namespace mounts");
  // berth's own tear-down leaves the veth pair to the namespace's removal:
  // the kernel destroys both ends once the namespace is unmounted, a moment later.
  await eventually(() => bridgePorts(bridge).length === 0, 5_000, `no veth on ${bridge}`);
  const rules = (await sh(["iptables-save"])).out + (await sh(["iptables-save", "-t", "nat"])).out;
  for (const t of tokens) assert(!rules.includes(`berth-${t}`), `an iptables rule names ${t}`);
  // The firewall plugin's rules (berth's own set-up makes the same) name only the address.
  for (const ip of ips) assert(!rules.includes(`${ip}/32`), `an iptables rule names ${ip}`);
  for (const p of ports) assertEquals(await get(p), null, `port ${p} still answers`);
  assertEquals(await leftovers(roots), []);
}

/** Fresh roots; afterwards every container deleted and the roots' bridges removed (cleanup). */
const withNet = withRoots;

Deno.test({
  name:
    "network: httpd published on 127.0.0.1 answers; hosts, resolv.conf, state; delete leaves nothing",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const net = await createNet(roots, "web");
      const port = freePort();
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "web",
        "-p",
        `127.0.0.1:${port}:8080`,
        "--rootfs",
        rootfs,
        "web1",
        "--",
        ...httpd("hello-web1"),
      ]);
      await eventually(async () => (await get(port)) === "hello-web1\n", 10_000, "httpd answers");
      const s = await stateOf(roots, "web1");
      const network = s.network as { name: string; ip: string };
      assertEquals(network.name, "web");
      assertMatch(network.ip, new RegExp(`^${net.subnet.split(".").slice(0, 3).join("\\.")}\\.`));
      const hosts = await berthOk(roots, ["exec", "web1", "--", "cat", "/etc/hosts"]);
      assertMatch(hosts, new RegExp(`^${network.ip.replaceAll(".", "\\.")}\\s+web1$`, "m"));
      const resolv = await berthOk(roots, ["exec", "web1", "--", "cat", "/etc/resolv.conf"]);
      assert(!/^nameserver\s+127\./m.test(resolv), resolv);
      const tokens = records(roots).map((r) => r.token);
      assertEquals(tokens.length, 1);
      assertEquals(bridgePorts(net.bridge).length, 1);
      await berthOk(roots, ["delete", "-f", "web1"]);
      await assertNothingLeft(roots, tokens, net.bridge, [port]);
      // rm removes the bridge device too.
      await berthOk(roots, ["network", "rm", "web"]);
      assertEquals((await sh(["ip", "link", "show", net.bridge])).code !== 0, true);
    }),
});

Deno.test({
  name:
    "network: two containers on one network reach each other; none has only lo; host sees the host's",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      await createNet(roots, "pair");
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "pair",
        "--rootfs",
        rootfs,
        "a",
        "--",
        ...httpd("from-a"),
      ]);
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "pair",
        "--rootfs",
        rootfs,
        "b",
        "--",
        "sleep",
        "1000",
      ]);
      const ipA = ((await stateOf(roots, "a")).network as { ip: string }).ip;
      const ipB = ((await stateOf(roots, "b")).network as { ip: string }).ip;
      assert(ipA !== ipB);
      await eventually(
        async () => {
          const r = await berth(roots, [
            "exec",
            "b",
            "--",
            "wget",
            "-q",
            "-O",
            "-",
            `http://${ipA}:8080/`,
          ]);
          return r.stdout === "from-a\n";
        },
        10_000,
        "b reaches a",
      );
      // CNI CHECK of the chain (bridge, firewall: no -p, so no portmap, whose
      // 1.1.1 CHECK fails without IPv6) against the cached result: it holds,
      // until the container's address is taken away behind berth's back.
      const rec0 = records(roots).find((r) => r.id === "a")!;
      const rec = JSON.parse(
        Deno.readTextFileSync(join(roots.root, "networks/attach", `${rec0.token}.json`)),
      ) as AttachRecord;
      const att = {
        containerId: `berth-${rec.token}`,
        netns: rec.netns,
        ifName: "eth0",
        runtimeConfig: { portMappings: rec.ports },
      };
      const cni = new CniClient("/usr/lib/cni");
      // Not the firewall plugin's: its accepts are the network's (one set,
      // as netavark makes them), not the container's.
      rec.conf = { ...rec.conf, plugins: rec.conf.plugins.filter((p) => p.type !== "firewall") };
      await cni.check(rec.conf, att, rec.result!);
      assertEquals(
        (await sh(["nsenter", `--net=${rec.netns}`, "ip", "addr", "flush", "dev", "eth0"])).code,
        0,
      );
      let checkFailed = false;
      await cni.check(rec.conf, att, rec.result!).catch(() => (checkFailed = true));
      assert(checkFailed, "CHECK passed without the container's address");
      // Put it back: DEL finds the masquerade rules to remove through it.
      const addr = (rec.result!.ips ?? [])[0]!.address;
      assertEquals(
        (await sh(["nsenter", `--net=${rec.netns}`, "ip", "addr", "add", addr, "dev", "eth0"]))
          .code,
        0,
      );
      const none = await berthOk(roots, [
        "run",
        "--rm",
        "--network",
        "none",
        "--rootfs",
        rootfs,
        "n",
        "--",
        "cat",
        "/proc/net/dev",
      ]);
      const ifs = (text: string) =>
        text.split("\n").slice(2).map((l) => l.split(":")[0]!.trim()).filter((s) => s).sort();
      assertEquals(ifs(none), ["lo"]);
      const host = await berthOk(roots, [
        "run",
        "--rm",
        "--network",
        "host",
        "--rootfs",
        rootfs,
        "h",
        "--",
        "cat",
        "/proc/net/dev",
      ]);
      const hostIfs = ifs(Deno.readTextFileSync("/proc/net/dev")).filter((n) =>
        !n.startsWith("veth")
      );
      assert(hostIfs.length > 1 && hostIfs.every((n) => ifs(host).includes(n)), host);
      assertEquals((await stateOf(roots, "a")).network !== null, true);
      const bridge = JSON.parse(await berthOk(roots, ["network", "inspect", "pair"]))[0].bridge;
      const tokens = records(roots).map((r) => r.token);
      await berthOk(roots, ["delete", "-f", "a", "b"]);
      await assertNothingLeft(roots, tokens, bridge, []);
    }),
});

Deno.test({
  name:
    "network: a sandbox member serves through its owner's published port; -p on a member is refused",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      await createNet(roots, "pod");
      const port = freePort();
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "pod",
        "-p",
        `127.0.0.1:${port}:8080`,
        "--rootfs",
        rootfs,
        "owner",
        "--",
        "sleep",
        "1000",
      ]);
      const bad = await berth(roots, [
        "run",
        "-d",
        "--sandbox",
        "owner",
        "-p",
        `127.0.0.1:${freePort()}:80`,
        "--rootfs",
        rootfs,
        "m0",
        "--",
        "sleep",
        "1",
      ]);
      assertEquals(bad.code, 2, bad.stderr);
      assertMatch(bad.stderr, /^berth: -p belongs on the sandbox's owner "owner"\n$/);
      await berthOk(roots, [
        "run",
        "-d",
        "--sandbox",
        "owner",
        "--rootfs",
        rootfs,
        "m1",
        "--",
        ...httpd("from-member"),
      ]);
      await eventually(async () => (await get(port)) === "from-member\n", 10_000, "member answers");
      const shared = (await stateOf(roots, "owner")).network as { ip: string };
      assertEquals((await stateOf(roots, "m1")).network, shared);
      // The member sees its owner's /etc/hosts (the owner's name and address).
      const hosts = await berthOk(roots, ["exec", "m1", "--", "cat", "/etc/hosts"]);
      assertMatch(hosts, new RegExp(`^${shared.ip.replaceAll(".", "\\.")}\\s+owner$`, "m"));
    }),
});

Deno.test({
  name: "network: 8 concurrent creates on one network get 8 distinct addresses",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const net = await createNet(roots, "many");
      const ids = Array.from({ length: 8 }, (_, i) => `c${i}`);
      const rs = await Promise.all(ids.map((id) => berth(roots, sleepingArgs(rootfs, id, "many"))));
      for (const r of rs) {
        assertEquals(r.code, 0, r.stderr);
      }
      const ips = await Promise.all(
        ids.map(async (id) => ((await stateOf(roots, id)).network as { ip: string }).ip),
      );
      assertEquals(new Set(ips).size, 8, ips.join(" "));
      assertEquals(bridgePorts(net.bridge).length, 8);
      const tokens = records(roots).map((r) => r.token);
      await berthOk(roots, ["delete", "-f", ...ids]);
      await assertNothingLeft(roots, tokens, net.bridge, []);
    }),
});

Deno.test({
  name:
    "network: a host port another container publishes is refused cleanly; rm refused while used",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const net = await createNet(roots, "ports");
      const port = freePort();
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "ports",
        "-p",
        `127.0.0.1:${port}:8080`,
        "--rootfs",
        rootfs,
        "first",
        "--",
        ...httpd("first"),
      ]);
      await eventually(async () => (await get(port)) === "first\n", 10_000, "first answers");
      const before = records(roots);
      const r = await berth(roots, [
        "run",
        "-d",
        "--network",
        "ports",
        "-p",
        `${port}:8080`,
        "--rootfs",
        rootfs,
        "second",
        "--",
        "sleep",
        "1000",
      ]);
      assertEquals(r.code, 1, r.stderr);
      assertMatch(
        r.stderr,
        new RegExp(`^berth: host port ${port}/tcp is already published by container "first"\\n$`),
      );
      assertEquals((await berth(roots, ["state", "second"])).code, 3);
      assertEquals(records(roots), before);
      assertEquals(bridgePorts(net.bridge).length, 1);
      assertEquals(await get(port), "first\n");
      // Another root on this host: portmap's rules forward that port already.
      const other = await makeRoots();
      try {
        await berthOk(other, ["network", "create", "--subnet", freeTestSubnet(), "o"]);
        const r2 = await berth(other, [
          "run",
          "-d",
          "--network",
          "o",
          "-p",
          `127.0.0.1:${port}:8080`,
          "--rootfs",
          rootfs,
          "third",
          "--",
          "sleep",
          "1000",
        ]);
        assertEquals(r2.code, 1, r2.stderr);
        assertMatch(
          r2.stderr,
          new RegExp(
            `^berth: host port ${port}/tcp is already forwarded to a container on this host\\n$`,
          ),
        );
        assertEquals(records(other), []);
        // Its own network on the first root's subnet: that bridge routes it, refused.
        await berthOk(other, ["network", "create", "--subnet", net.subnet, "same"]);
        const r3 = await berth(other, [
          "run",
          "-d",
          "--network",
          "same",
          "--rootfs",
          rootfs,
          "fourth",
          "--",
          "sleep",
          "1000",
        ]);
        assertEquals(r3.code, 1, r3.stderr);
        assertMatch(
          r3.stderr,
          new RegExp(
            `^berth: network "same": its subnet ${
              net.subnet.replaceAll(".", "\\.")
            } is already routed through ${net.bridge}`,
          ),
        );
        assertEquals(records(other), []);
        assertEquals(await leftovers(other), []);
      } finally {
        await cleanup(other);
      }
      assertEquals(await get(port), "first\n");
      // rm while used: exit 5, the network stays.
      const rm = await berth(roots, ["network", "rm", "ports"]);
      assertEquals(rm.code, 5, rm.stderr);
      assertMatch(rm.stderr, /^berth: cannot remove network "ports": container "first" uses it\n$/);
      assertEquals((await berth(roots, ["network", "inspect", "ports"])).code, 0);
    }),
});

Deno.test({
  name: "network: two roots publishing one host port at the same moment: exactly one gets it",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const other = await makeRoots();
      try {
        await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "r1"]);
        await berthOk(other, ["network", "create", "--subnet", freeTestSubnet(), "r2"]);
        for (let round = 0; round < 3; round++) {
          const port = freePort();
          const run = (r: Roots, net: string) =>
            berth(r, [
              "run",
              "-d",
              "--network",
              net,
              "-p",
              `127.0.0.1:${port}:8080`,
              "--rootfs",
              rootfs,
              `race${round}`,
              "--",
              "sleep",
              "1000",
            ]);
          const [a, b] = await Promise.all([run(roots, "r1"), run(other, "r2")]);
          assertEquals([a.code, b.code].sort(), [0, 1], a.stderr + b.stderr);
          assertMatch(
            (a.code === 0 ? b : a).stderr,
            new RegExp(`host port ${port}/tcp is already`),
          );
          await berthOk(a.code === 0 ? roots : other, ["delete", "-f", `race${round}`]);
        }
        assertEquals(records(roots), []);
        assertEquals(records(other), []);
      } finally {
        await cleanup(other);
      }
    }),
});

Deno.test({
  name: "network: bad specs exit 2 and create nothing",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      await createNet(roots, "ok");
      // `bridge` is settled on first use: 10.88.0.0/16, or the first free /16 from 10.90.0.0/16.
      const [bridge] = JSON.parse(await berthOk(roots, ["network", "inspect", "bridge"]));
      const inBridge = bridge.subnet.replace(/\.0\.0\/16$/, ".5.0/24");
      const cases: [string[], RegExp][] = [
        [
          ["run", "-d", "--network", "ok", "-p", "99999:80", "--rootfs", rootfs, "x", "--", "true"],
          /invalid port "99999"/,
        ],
        [
          ["run", "-d", "--network", "ok", "-p", "80", "--rootfs", rootfs, "x", "--", "true"],
          /invalid -p 80/,
        ],
        [
          ["run", "-d", "--network", "ok", "-p", "1:2/sctp", "--rootfs", rootfs, "x", "--", "true"],
          /invalid protocol/,
        ],
        [
          ["run", "-d", "--network", "nosuch", "--rootfs", rootfs, "x", "--", "true"],
          /unknown network "nosuch"/,
        ],
        [
          ["create", "--network", "none", "-p", "8080:80", "--rootfs", rootfs, "x"],
          /-p needs a bridge network/,
        ],
        [
          ["network", "create", "--subnet", "10.1.2.3/24", "n1"],
          /invalid subnet "10\.1\.2\.3\/24"/,
        ],
        [["network", "create", "--subnet", "300.1.0.0/16", "n1"], /invalid subnet/],
        [["network", "create", "--subnet", inBridge, "n1"], /overlaps network "bridge"/],
        // Reserved ranges (any overlap): never routed through a bridge.
        ...["127.0.0.0/8", "0.0.0.0/8", "224.0.0.0/4", "169.254.0.0/16", "240.0.0.0/4"].map((
          cidr,
        ): [string[], RegExp] => [
          ["network", "create", "--subnet", cidr, "n1"],
          new RegExp(`invalid subnet "${cidr.replaceAll(".", "\\.")}": it overlaps `),
        ]),
        [
          ["network", "create", "--subnet", "255.255.255.0/24", "n1"],
          /overlaps 240\.0\.0\.0\/4 \(reserved, with the broadcast address\)/,
        ],
        [["network", "create", "--subnet", "127.5.0.0/16", "n1"], /overlaps 127\.0\.0\.0\/8/],
        [["network", "create", "bad/name"], /invalid network name/],
        [["network", "create", "ok"], /network "ok" already exists/],
        [["network", "rm", "bridge"], /built in/],
      ];
      const before = await leftovers(roots);
      const nets = await berthOk(roots, ["network", "ls", "-q"]);
      for (const [args, re] of cases) {
        const r = await berth(roots, args);
        assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assertMatch(r.stderr, /^berth: [^\n]+\n$/);
        assertMatch(r.stderr, re);
      }
      // A host without the plugins: one line that names --network none, nothing made.
      const noCni = await berth(
        roots,
        ["run", "-d", "--network", "ok", "--rootfs", rootfs, "x", "--", "true"],
        { BERTH_CNI_PATH: "/nonexistent" },
      );
      assertEquals(noCni.code, 1, noCni.stderr);
      assertMatch(noCni.stderr, /^berth: [^\n]*use --network none\n$/);
      const r = await berth(roots, ["network", "rm", "nosuch"]);
      assertEquals(r.code === 2 || r.code === 3, true, r.stderr);
      assertEquals(await leftovers(roots), before);
      assertEquals(records(roots), []);
      assertEquals(await berthOk(roots, ["network", "ls", "-q"]), nets);
      // Without --subnet: free /24s of 10.89.0.0/16, distinct; rm removes them.
      await berthOk(roots, ["network", "create", "auto1"]);
      await berthOk(roots, ["network", "create", "auto2"]);
      const auto = JSON.parse(await berthOk(roots, ["network", "inspect", "auto1", "auto2"]));
      for (const n of auto) assertMatch(n.subnet, /^10\.89\.[0-9]+\.0\/24$/);
      assert(auto[0].subnet !== auto[1].subnet, JSON.stringify(auto));
      await berthOk(roots, ["network", "rm", "auto1", "auto2"]);
      assertEquals(await berthOk(roots, ["network", "ls", "-q"]), nets);
    }),
});

Deno.test({
  name: "network: the default network is bridge (10.88.0.0/16 unless taken, like podman's)",
  ignore,
  fn: async () => {
    // One test at a time on this host uses `bridge`'s subnets.
    const lockFile = await Deno.open("/tmp/berth-test-default-bridge.lock", {
      create: true,
      write: true,
    });
    await lockFile.lock(true);
    try {
      // 10.88.0.0/16 is taken when an interface routes it or podman is installed.
      const routed = Deno.readTextFileSync("/proc/net/route").split("\n")
        .some((l) => /\t0000580A\t/.test(l));
      const podman = (await sh(["sh", "-c", "command -v podman"])).code === 0;
      await withNet(async (roots, rootfs) => {
        const port = freePort();
        const r = await berth(roots, [
          "run",
          "-d",
          "-p",
          `127.0.0.1:${port}:8080`,
          "--rootfs",
          rootfs,
          "d1",
          "--",
          ...httpd("default"),
        ], { BERTH_NETWORK: "" });
        assertEquals(r.code, 0, r.stderr);
        const s = await stateOf(roots, "d1");
        const n = s.network as { name: string; ip: string };
        assertEquals(n.name, "bridge");
        await eventually(async () => (await get(port)) === "default\n", 10_000, "default answers");
        const [v] = JSON.parse(await berthOk(roots, ["network", "inspect", "bridge"]));
        if (routed || podman) {
          assertMatch(v.subnet, /^10\.(9[0-9]|1[0-9][0-9]|2[0-5][0-9])\.0\.0\/16$/);
          assert(v.subnet !== "10.89.0.0/16", v.subnet);
        } else {
          assertEquals([v.subnet, v.gateway], ["10.88.0.0/16", "10.88.0.1"]);
        }
        assert(n.ip.startsWith(v.subnet.split(".").slice(0, 2).join(".") + "."), n.ip);
        assertEquals([v.internal, v.dns_enabled], [false, false]);
        const tokens = records(roots).map((r) => r.token);
        await berthOk(roots, ["delete", "-f", "d1"]);
        await assertNothingLeft(roots, tokens, v.bridge, [port]);
      });
    } finally {
      lockFile.close();
    }
  },
});

Deno.test({
  name: "network: SIGKILL during set-up or tear-down, then gc, leaves nothing",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const net = await createNet(roots, "crash");
      const points = [
        "create:recorded",
        "network:lease",
        "network:netns-file",
        "network:netns",
        "network:allocated",
        "network:partial",
        "network:added",
        "create:runtime",
      ];
      const delPoints = [
        "network:del-partial",
        "network:del-unlinked",
        "network:deleted",
        "network:unrecorded",
        "delete:network",
      ];
      const tokens: string[] = [];
      const ports: number[] = [];
      const ips: string[] = [];
      for (const point of [...points, ...delPoints]) {
        const port = freePort();
        ports.push(port);
        const run = [
          "run",
          "-d",
          "--network",
          "crash",
          "-p",
          `127.0.0.1:${port}:8080`,
          "--rootfs",
          rootfs,
          "k",
          "--",
          ...httpd("k"),
        ];
        if (points.includes(point)) {
          const r = await berth(roots, run, { BERTH_CRASH_AT: point });
          assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        } else {
          await berthOk(roots, run);
          const r = await berth(roots, ["delete", "-f", "k"], { BERTH_CRASH_AT: point });
          assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        }
        tokens.push(...records(roots).map((x) => x.token));
        ips.push(...ipamFiles(roots).map((f) => f.split("/")[1]!));
        const g = await berth(roots, ["gc"]);
        assertEquals(g.code, 0, `${point}: ${g.stderr}`);
        assertEquals((await berth(roots, ["state", "k"])).code, 3, point);
        await assertNothingLeft(roots, tokens, net.bridge, ports, ips);
      }
    }),
});

/** What a host listener got: TCP connections accepted and UDP datagrams, by sender. */
interface Heard {
  tcp: string[];
  udp: string[];
}

/**
 * A TCP listener and a UDP socket on the host's `hostname` (ports chosen by
 * the kernel), recording who reached them, until `close`.
 */
async function hostListener(hostname: string) {
  const heard: Heard = { tcp: [], udp: [] };
  const tcp = Deno.listen({ hostname, port: 0 });
  const accepting = (async () => {
    try {
      for await (const c of tcp) {
        heard.tcp.push((c.remoteAddr as Deno.NetAddr).hostname);
        c.close();
      }
    } catch { /* closed */ }
  })();
  const udp = dgram.createSocket("udp4");
  udp.on("message", (_m: unknown, from: { address: string }) => heard.udp.push(from.address));
  await new Promise<void>((resolve) => udp.bind(0, hostname, () => resolve()));
  return {
    heard,
    tcpPort: (tcp.addr as Deno.NetAddr).port,
    udpPort: udp.address().port,
    async close() {
      tcp.close();
      await accepting;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

/** Sockets on 127.0.0.1:PORT in SYN_RECV (a SYN was answered there). */
function synRecv(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === local && f[3] === "03";
    }).length;
}

/** The shell line a container probes a host listener with: TCP (nc) and UDP (tftp), at once. */
function probe(addr: string, tcpPort: number, udpPort: number): string {
  return `(echo probe | nc -w 2 ${addr} ${tcpPort}) & ` +
    `(timeout 2 tftp -g -r probe -l /tmp/probe-${addr} ${addr} ${udpPort}) & `;
}

Deno.test({
  name:
    "network: a container cannot reach the host's 127.0.0.1 through its gateway (UDP, TCP); -p on 127.0.0.1 still answers",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const net = await createNet(roots, "lonet");
      const gateway = net.subnet.replace(/\.0\/24$/, ".1");
      const port = freePort();
      // --privileged: the container may route 127.0.0.1 through eth0 (an
      // attacker with NET_ADMIN or NET_RAW in a container could send such
      // packets anyway); portmap set route_localnet=1 on the bridge for -p.
      await berthOk(roots, [
        "run",
        "-d",
        "--privileged",
        "--network",
        "lonet",
        "-p",
        `127.0.0.1:${port}:8080`,
        "--rootfs",
        rootfs,
        "lo1",
        "--",
        ...httpd("lo1"),
      ]);
      await eventually(async () => (await get(port)) === "lo1\n", 10_000, "the published port");
      assertEquals(
        Deno.readTextFileSync(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`).trim(),
        "1",
        "portmap's route_localnet (what made the host's loopback reachable)",
      );
      const loopback = await hostListener("127.0.0.1");
      const bridge = await hostListener(gateway); // the control: the same probes, routed normally
      try {
        const ip = ((await stateOf(roots, "lo1")).network as { ip: string }).ip;
        const r = await berth(roots, [
          "exec",
          "lo1",
          "--",
          "sh",
          "-c",
          "ip route del 127.0.0.0/8 table local; ip route del 127.0.0.1 table local; " +
          `ip route add 127.0.0.1/32 via ${gateway} dev eth0 && ` +
          "sysctl -qw net.ipv4.conf.eth0.route_localnet=1 && " +
          "ip route get 127.0.0.1 && " +
          probe("127.0.0.1", loopback.tcpPort, loopback.udpPort) +
          probe(gateway, bridge.tcpPort, bridge.udpPort) + "wait",
        ]);
        assertMatch(r.stdout, new RegExp(`127\\.0\\.0\\.1 via ${gateway.replaceAll(".", "\\.")}`));
        await eventually(
          () => bridge.heard.tcp.length > 0 && bridge.heard.udp.length > 0,
          5_000,
          `the probes reach the gateway's listeners (${JSON.stringify(bridge.heard)})`,
        );
        assertEquals(bridge.heard.tcp[0], ip);
        assertEquals(bridge.heard.udp[0], ip);
        assertEquals(loopback.heard, { tcp: [], udp: [] }, "the host's 127.0.0.1 was reached");
        assertEquals(synRecv(loopback.tcpPort), 0, "a SYN to the host's 127.0.0.1 was answered");
      } finally {
        await loopback.close();
        await bridge.close();
      }
      assertEquals(await get(port), "lo1\n", "the published port after the probes");
    }),
});

Deno.test({
  name:
    "network: networks are isolated (no TCP, no ping across); within one and to the host they reach; a published port is reachable from another network",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const a = await createNet(roots, "neta");
      const b = await createNet(roots, "netb");
      const gwA = a.subnet.replace(/\.0\/24$/, ".1");
      const gwB = b.subnet.replace(/\.0\/24$/, ".1");
      const run = (name: string, net: string, extra: string[] = []) =>
        berthOk(roots, [
          "run",
          "-d",
          "--network",
          net,
          ...extra,
          "--rootfs",
          rootfs,
          name,
          "--",
          ...httpd(name),
        ]);
      await run("a1", "neta");
      await run("a2", "neta");
      // b1 also publishes a port on neta's gateway (a host address once a1 made the bridge).
      const port = freePort();
      await run("b1", "netb", ["-p", `${gwA}:${port}:8080`]);
      const ip = async (id: string) => ((await stateOf(roots, id)).network as { ip: string }).ip;
      const [ipA1, ipB1] = [await ip("a1"), await ip("b1")];
      // (busybox's wget -T crashes: timeout bounds it instead)
      const wget = (from: string, url: string) =>
        berth(roots, ["exec", from, "--", "timeout", "3", "wget", "-q", "-O", "-", url]);
      // Within a network: a2 reaches a1.
      await eventually(
        async () => (await wget("a2", `http://${ipA1}:8080/`)).stdout === "a1\n",
        10_000,
        "a2 reaches a1",
      );
      // Across: nothing, either way, TCP or ICMP.
      const ab = await wget("a1", `http://${ipB1}:8080/`);
      assert(ab.code !== 0 && ab.stdout === "", `a1 reached b1: ${ab.stdout}`);
      const ba = await wget("b1", `http://${ipA1}:8080/`);
      assert(ba.code !== 0 && ba.stdout === "", `b1 reached a1: ${ba.stdout}`);
      for (const [from, to] of [["a1", ipB1], ["b1", ipA1]] as const) {
        const p = await berth(roots, ["exec", from, "--", "ping", "-c", "1", "-W", "1", to]);
        assert(p.code !== 0, `${from} pings ${to}: ${p.stdout}`);
      }
      // The host: each reaches a listener on its own gateway.
      for (const [from, gw] of [["a1", gwA], ["b1", gwB]] as const) {
        const l = await hostListener(gw);
        try {
          await berth(roots, [
            "exec",
            from,
            "--",
            "sh",
            "-c",
            probe(gw, l.tcpPort, l.udpPort) + "wait",
          ]);
          await eventually(() => l.heard.tcp.length > 0, 5_000, `${from} reaches the host`);
        } finally {
          await l.close();
        }
      }
      // A published port is for everyone: a1 reaches b1's through its gateway.
      await eventually(
        async () => (await wget("a1", `http://${gwA}:${port}/`)).stdout === "b1\n",
        10_000,
        "a1 reaches b1's published port",
      );
      // network rm takes the network's own rule with it.
      const rules = async () => (await sh(["iptables", "-S", "BERTH-FORWARD"])).out;
      assert((await rules()).includes(`-i ${a.bridge} ! -o ${a.bridge}`), await rules());
      await berthOk(roots, ["delete", "-f", "a1", "a2"]);
      await berthOk(roots, ["network", "rm", "neta"]);
      assert(!(await rules()).includes(a.bridge), await rules());
      assert((await rules()).includes(`-i ${b.bridge} ! -o ${b.bridge}`), await rules());
      // gc removes the rules and the idle bridge of a network that went
      // without network rm (the roots' cleanup, which finds bridges through
      // the networks' files, would not: scripts/stress.sh found one left per run).
      Deno.removeSync(join(roots.networkDir, "netb.conflist"));
      await berthOk(roots, ["delete", "-f", "b1"]);
      assert((await rules()).includes(b.bridge), await rules());
      const g = await berthOk(roots, ["gc"]);
      assertMatch(g, new RegExp(`^removed the stale bridge ${b.bridge} `, "m"));
      assertMatch(g, new RegExp(`^removed the firewall rules of bridge ${b.bridge} `, "m"));
      assert(!(await rules()).includes(b.bridge), await rules());
      assert((await sh(["ip", "link", "show", b.bridge])).code !== 0, "the bridge is gone");
    }),
});

/** The iptables-save lines (nat and filter) that name `berth-TOKEN`. */
async function rulesOf(token: string): Promise<string[]> {
  const all = (await sh(["iptables-save", "-t", "nat"])).out +
    (await sh(["iptables-save", "-t", "filter"])).out;
  return all.split("\n").filter((l) => l.includes(`berth-${token}`));
}

Deno.test({
  name: "network: gc removes the firewall rules of an attachment whose record is gone, " +
    "and nothing of another root's live container or of its own",
  ignore,
  fn: () =>
    withNet(async (a, rootfs) => {
      const b = await makeRoots();
      try {
        await createNet(a, "sa");
        await createNet(b, "sb");
        const run = (roots: Roots, net: string, id: string, port: number) =>
          berthOk(roots, [
            "run",
            "-d",
            "--network",
            net,
            "-p",
            `127.0.0.1:${port}:8080`,
            "--rootfs",
            rootfs,
            id,
            "--",
            ...httpd(id),
          ]);
        const [pa1, pa2, pb] = [freePort(), freePort(), freePort()];
        await run(a, "sa", "a1", pa1);
        await run(a, "sa", "a2", pa2);
        await run(b, "sb", "b1", pb);
        const token = (roots: Roots, id: string) => records(roots).find((r) => r.id === id)!.token;
        const [ta1, ta2, tb] = [token(a, "a1"), token(a, "a2"), token(b, "b1")];
        // Each token begins with its root's tag.
        assertEquals(ta1.slice(0, 8), ta2.slice(0, 8));
        assert(ta1.slice(0, 8) !== tb.slice(0, 8), `${ta1} ${tb}`);
        const ipA1 = ((await stateOf(a, "a1")).network as { ip: string }).ip;
        const keptA2 = await rulesOf(ta2);
        const keptB = await rulesOf(tb);
        // (portmap's DNAT jump names it; the masquerade is the network's.)
        assert(keptB.length >= 1, keptB.join("\n"));
        // a1's record removed by hand: its delete cannot tear its rules down.
        await Deno.remove(join(a.root, "networks/attach", `${ta1}.json`));
        await berthOk(a, ["delete", "-f", "a1"]);
        const left = await rulesOf(ta1);
        assert(left.length >= 1, `a1's rules were left: ${left.join("\n")}`);
        // b's gc leaves a's rules alone: not its token.
        await berthOk(b, ["gc"]);
        assertEquals(await rulesOf(ta1), left, "another root's gc");
        // Its address goes too (host-local's file names no record either).
        const dry = await rootGc(a, true);
        assertEquals(dry.split("\n").filter((l) => l !== "").sort(), [
          `would release the address ${ipA1} of network sa`,
          // (No masquerade rule of its own names its address: the network's is shared.)
          `would remove the firewall rules of network attachment ${ta1} (network sa)`,
        ]);
        assertEquals(await rulesOf(ta1), left, "a dry run");
        const out = await rootGc(a);
        assertEquals(out, dry.replaceAll(/^would (release|remove)/gm, (_, v) => `${v}d`));
        assertEquals(await rulesOf(ta1), [], "a1's rules");
        const forward = (await sh(["iptables-save", "-t", "filter"])).out;
        assert(!forward.includes(` ${ipA1}/32 `), `a1's CNI-FORWARD rules: ${forward}`);
        assertEquals(await rulesOf(ta2), keptA2, "a2's rules");
        assertEquals(await rulesOf(tb), keptB, "b1's rules");
        await eventually(async () => (await get(pa2)) === "a2\n", 10_000, "a2 answers");
        await eventually(async () => (await get(pb)) === "b1\n", 10_000, "b1 answers");
        assertEquals(await rootGc(a, true), "");
      } finally {
        await cleanup(b);
      }
    }),
});

Deno.test({
  name: "network: resolv.conf from the host's servers, behind systemd-resolved's stub, " +
    "or without a server and a warning (private mount and network namespace)",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const dir = await Deno.makeTempDir({ prefix: "berth-resolv-" });
      const hostFile = join(dir, "resolv.conf");
      const runSystemd = join(dir, "systemd"); // mounted over /run/systemd
      Deno.writeTextFileSync(hostFile, "");
      Deno.mkdirSync(join(runSystemd, "resolve"), { recursive: true });
      const resolved = join(runSystemd, "resolve", "resolv.conf");
      Deno.writeTextFileSync(resolved, "");
      const ns = await privateNs(
        `mount --bind ${hostFile} /etc/resolv.conf && mount --bind ${runSystemd} /run/systemd`,
      );
      try {
        // On the default bridge (alone in this network namespace): on other
        // networks a container asks berth's resolver on its gateway instead.
        const cases: { host: string; resolved: string | null; want: string; warn: boolean }[] = [
          {
            // Upstream servers in the host's file: loopback and IPv6 ones left out.
            host: "# made by hand\nsearch a.example\nnameserver 127.0.0.53\n" +
              "nameserver 192.0.2.1\nnameserver 2001:db8::1\noptions ndots:2\n",
            resolved: null,
            want: "nameserver 192.0.2.1\nsearch a.example\noptions ndots:2\n",
            warn: false,
          },
          {
            // systemd-resolved's stub alone: its upstream list instead.
            host: "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch stub.example\n",
            resolved: "# resolved\nnameserver 192.0.2.10\nnameserver 192.0.2.11\n" +
              "search corp.example\n",
            want: "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch corp.example\n",
            warn: false,
          },
          {
            // Nothing usable anywhere: no nameserver, and a warning.
            host: "nameserver 127.0.0.53\nsearch stub.example\n",
            resolved: "nameserver 127.0.0.1\n",
            want: "search stub.example\n",
            warn: true,
          },
        ];
        for (const [i, c] of cases.entries()) {
          Deno.writeTextFileSync(hostFile, c.host);
          if (c.resolved === null) Deno.removeSync(resolved, { recursive: true });
          else Deno.writeTextFileSync(resolved, c.resolved);
          const id = `dns${i}`;
          const r = await ns.berth(roots, [
            "run",
            "-d",
            "--network",
            "bridge",
            "--rootfs",
            rootfs,
            id,
            "--",
            "sleep",
            "1000",
          ]);
          assertEquals(r.code, 0, r.stderr);
          if (c.warn) {
            assertMatch(
              r.stderr,
              new RegExp(`^berth: warning: container "${id}" gets no DNS server: [^\\n]*\\n$`),
            );
            assertMatch(r.stderr, /127\.0\.0\.53.*\/run\/systemd\/resolve\/resolv\.conf/);
          } else {
            assertEquals(r.stderr, "", id);
          }
          const got = await ns.berthOk(roots, ["exec", id, "--", "cat", "/etc/resolv.conf"]);
          assertEquals(got, c.want, id);
          await ns.berthOk(roots, ["delete", "-f", id]);
        }
      } finally {
        await ns.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
});

Deno.test({
  name: "network: /etc/hosts names the container by its --hostname and its name; " +
    "a user's own /etc/hosts or /etc/resolv.conf wins, the other file is berth's",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const dir = await Deno.makeTempDir({ prefix: "berth-hosts-" });
      const hostFile = join(dir, "host-resolv.conf");
      Deno.writeTextFileSync(hostFile, "nameserver 192.0.2.1\n");
      const myHosts = join(dir, "hosts");
      const myResolv = join(dir, "resolv.conf");
      Deno.writeTextFileSync(myHosts, "127.0.0.1\tlocalhost\n192.0.2.99\tmine\n");
      Deno.writeTextFileSync(myResolv, "nameserver 192.0.2.98\nsearch mine.example\n");
      const ns = await privateNs(`mount --bind ${hostFile} /etc/resolv.conf`);
      try {
        await ns.berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "hn"]);
        const run = (id: string, extra: string[]) =>
          ns.berthOk(roots, [
            "run",
            "-d",
            "--network",
            "hn",
            ...extra,
            "--rootfs",
            rootfs,
            id,
            "--",
            "sleep",
            "1000",
          ]);
        const cat = (id: string, f: string) => ns.berthOk(roots, ["exec", id, "--", "cat", f]);
        const ipOf = async (id: string) =>
          JSON.parse(await ns.berthOk(roots, ["state", id])).network.ip as string;
        // --hostname: the address with the hostname, then the name.
        await run("h1", ["--hostname", "web"]);
        assertEquals((await ns.berthOk(roots, ["exec", "h1", "--", "hostname"])).trim(), "web");
        const hosts = await cat("h1", "/etc/hosts");
        assertMatch(
          hosts,
          new RegExp(`^${(await ipOf("h1")).replaceAll(".", "\\.")}\\tweb h1$`, "m"),
        );
        assertMatch(hosts, /^127\.0\.0\.1\tlocalhost$/m);
        // -v FILE:/etc/hosts:ro wins; resolv.conf is berth's.
        await run("h2", ["-v", `${myHosts}:/etc/hosts:ro`]);
        assertEquals(await cat("h2", "/etc/hosts"), Deno.readTextFileSync(myHosts));
        // On a network with DNS the nameserver is the gateway (berth's resolver).
        const [hn] = JSON.parse(await ns.berthOk(roots, ["network", "inspect", "hn"]));
        assertEquals(await cat("h2", "/etc/resolv.conf"), `nameserver ${hn.gateway}\n`);
        // --mount …,dst=/etc/resolv.conf wins; hosts is berth's.
        await run("h3", ["--mount", `type=bind,src=${myResolv},dst=/etc/resolv.conf,ro`]);
        assertEquals(await cat("h3", "/etc/resolv.conf"), Deno.readTextFileSync(myResolv));
        assertMatch(
          await cat("h3", "/etc/hosts"),
          new RegExp(`^${(await ipOf("h3")).replaceAll(".", "\\.")}\\th3$`, "m"),
        );
        // Both, read-only as asked.
        await run("h4", [
          "-v",
          `${myHosts}:/etc/hosts:ro`,
          "-v",
          `${myResolv}:/etc/resolv.conf:ro`,
        ]);
        assertEquals(await cat("h4", "/etc/hosts"), Deno.readTextFileSync(myHosts));
        assertEquals(await cat("h4", "/etc/resolv.conf"), Deno.readTextFileSync(myResolv));
        const w = await ns.berth(roots, ["exec", "h4", "--", "sh", "-c", "echo x >> /etc/hosts"]);
        assert(w.code !== 0, "the user's read-only /etc/hosts was writable");
        // --network host: the user's file wins there too.
        const hostMode = await ns.berth(roots, [
          "run",
          "-d",
          "--network",
          "host",
          "-v",
          `${myHosts}:/etc/hosts:ro`,
          "--rootfs",
          rootfs,
          "h5",
          "--",
          "sleep",
          "1000",
        ]);
        assertEquals(hostMode.code, 0, hostMode.stderr);
        assertEquals(await cat("h5", "/etc/hosts"), Deno.readTextFileSync(myHosts));
        assertEquals(await cat("h5", "/etc/resolv.conf"), "nameserver 192.0.2.1\n");
        await ns.berthOk(roots, ["delete", "-f", "h1", "h2", "h3", "h4", "h5"]);
        await ns.berthOk(roots, ["network", "rm", "hn"]);
      } finally {
        await ns.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
});

Deno.test({
  name: "network: berth's loopback rule (and chains) go with the last bth- bridge, " +
    "come back on the next set-up; gc removes them where no bridge is left (private netns)",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const ns = await privateNs("true");
      try {
        const rules = async () => (await ns.sh(["iptables-save"])).out;
        const loopbackRule = async () => {
          const r = await rules();
          return r.includes("-A PREROUTING -j BERTH-PREROUTING") &&
            r.includes("-A BERTH-PREROUTING -d 127.0.0.0/8 -i bth+ -j DROP");
        };
        const bridgeOf = async (name: string) =>
          JSON.parse(await ns.berthOk(roots, ["network", "inspect", name]))[0].bridge as string;
        const run = (id: string, net: string) => runSleeping(ns, roots, rootfs, id, net);
        for (const n of ["l1", "l2"]) {
          await ns.berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), n]);
        }
        await run("c1", "l1");
        await run("c2", "l2");
        assert(await loopbackRule(), await rules());
        // Not the last bridge: the rule stays.
        await ns.berthOk(roots, ["delete", "-f", "c1"]);
        await ns.berthOk(roots, ["network", "rm", "l1"]);
        assert(await loopbackRule(), await rules());
        // The last one: berth's chains and jumps go with it.
        await ns.berthOk(roots, ["delete", "-f", "c2"]);
        await ns.berthOk(roots, ["network", "rm", "l2"]);
        assertEquals((await ns.sh(["ip", "-o", "link", "show", "type", "bridge"])).out, "");
        assert(!(await rules()).includes("BERTH-"), await rules());
        // The next set-up makes them again.
        await ns.berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "l3"]);
        await run("c3", "l3");
        assert(await loopbackRule(), await rules());
        // A bridge gone without network rm (a killed rm): gc removes them.
        await ns.berthOk(roots, ["delete", "-f", "c3"]);
        const dev = await bridgeOf("l3");
        assertEquals((await ns.sh(["ip", "link", "delete", dev])).code, 0);
        const dry = await ns.berthOk(roots, ["gc", "--dry-run"]);
        assertMatch(dry, /^would release berth's firewall chains \(.*no berth bridge is left\)$/m);
        assert(await loopbackRule(), "a dry run changes nothing");
        await ns.berthOk(roots, ["gc"]);
        assert(!(await rules()).includes("BERTH-"), await rules());
        await ns.berthOk(roots, ["network", "rm", "l3"]);
      } finally {
        await ns.close();
      }
    }),
});

Deno.test({
  name:
    "network: nf_tables' generation spares iptables: a second container without -p runs none, " +
    "one with -p only its restore (no listing, also on a port berth's delete just freed), a delete only its restore; any change lists again " +
    "(private netns)",
  ignore,
  fn: () =>
    withNet(async (roots, rootfs) => {
      const ipt = await iptablesLog(roots);
      const { roots: shimmed, calls } = ipt;
      const ns = await privateNs("true");
      try {
        await ns.berthOk(shimmed, ["network", "create", "--subnet", freeTestSubnet(), "gen1"]);
        const run = (id: string, extra: string[] = [], network = "gen1") =>
          ns.berthOk(shimmed, [
            "run",
            "-d",
            "--network",
            network,
            ...extra,
            "--rootfs",
            rootfs,
            id,
            "--",
            "sleep",
            "1000",
          ]);
        await run("c1");
        assert(calls().includes("iptables-save"), "the first set-up lists");
        await run("c2");
        assertEquals(calls(), [], "a second container without -p");
        // The first -p of the host makes portmap's shared chains (a listing);
        // its delete is one restore; a later -p on a port no listing saw
        // forwarded lists no more (p2 below).
        const rules = async () => (await ns.sh(["iptables-save", "-t", "nat"])).out;
        const [port1, port2] = [freePort(), freePort()];
        await run("p1", ["-p", `127.0.0.1:${port1}:8080`]);
        assert(calls().includes("iptables-save"), "the first -p lists");
        await ns.berthOk(shimmed, ["delete", "-f", "p1"]);
        assertEquals(calls(), ["iptables-restore"], "a delete with -p");
        assert(!(await rules()).includes(`--dport ${port1}`), await rules());
        // A port berth's own committed delete unforwarded: the ports note
        // advanced with that delete says it is free, so no listing.
        await run("p3", ["-p", `127.0.0.1:${port1}:8080`]);
        assertEquals(calls(), ["iptables-restore"], "a port berth's own delete unforwarded");
        assert((await rules()).includes(`--dport ${port1}`), await rules());
        await ns.berthOk(shimmed, ["delete", "-f", "p3"]);
        calls();
        // Another root, its bridge's rules known: p2's port (forwarded without a
        // listing) is refused to it as a listing would refuse it.
        const other = await makeRoots();
        const otherShim: Roots = { ...other, env: { ...other.env, PATH: shimmed.env.PATH! } };
        try {
          await ns.berthOk(otherShim, ["network", "create", "--subnet", freeTestSubnet(), "gen2"]);
          const runOther = (id: string, extra: string[]) =>
            ns.berth(otherShim, [
              "run",
              "-d",
              "--network",
              "gen2",
              ...extra,
              "--rootfs",
              rootfs,
              id,
              "--",
              "sleep",
              "1000",
            ]);
          assertEquals((await runOther("o1", [])).code, 0);
          calls();
          await run("p2", ["-p", `127.0.0.1:${port2}:8080`]);
          assertEquals(calls(), ["iptables-restore"], "a container with -p");
          assert((await rules()).includes(`--dport ${port2}`), await rules());
          const o2 = await runOther("o2", ["-p", `127.0.0.1:${port2}:8080`]);
          assert(o2.code !== 0, o2.stderr);
          assert(/already forwarded/.test(o2.stderr), o2.stderr);
          assertEquals((await ns.berth(otherShim, ["delete", "-f", "o1"])).code, 0);
          await ns.berthOk(otherShim, ["network", "rm", "gen2"]);
        } finally {
          await cleanup(other);
        }
        calls();
        await ns.berthOk(shimmed, ["delete", "-f", "p2"]);
        calls();
        await ns.berthOk(shimmed, ["delete", "-f", "c2"]);
        assertEquals(calls(), [], "a delete without -p");
        // A network only -p containers ever joined: the first set-up's listing
        // and its own commit show the network's rules complete, so the next
        // -p set-up on it needs no listing either.
        await ns.berthOk(shimmed, ["network", "create", "--subnet", freeTestSubnet(), "gen3"]);
        const port3 = freePort();
        calls();
        await run("q1", ["-p", `127.0.0.1:${port3}:8080`], "gen3");
        assert(calls().includes("iptables-save"), "the first set-up on gen3 lists");
        await ns.berthOk(shimmed, ["delete", "-f", "q1"]);
        assertEquals(calls(), ["iptables-restore"], "a delete with -p on gen3");
        await run("q2", ["-p", `127.0.0.1:${port3}:8080`], "gen3");
        assertEquals(calls(), ["iptables-restore"], "a second -p set-up on gen3");
        await ns.berthOk(shimmed, ["delete", "-f", "q2"]);
        await ns.berthOk(shimmed, ["network", "rm", "gen3"]);
        calls();
        // Someone else's change: the next set-up lists again.
        assertEquals((await ns.sh(["iptables", "-t", "nat", "-N", "SOMEONE"])).code, 0);
        await run("c3");
        assert(calls().includes("iptables-save"), "a set-up after another program's change lists");
        await run("c4");
        assertEquals(calls(), [], "and the next one no more");
        await ns.berthOk(shimmed, ["delete", "-f", "c1", "c3", "c4"]);
        await ns.berthOk(shimmed, ["network", "rm", "gen1"]);
      } finally {
        await ns.close();
        await ipt.remove();
      }
    }),
});
