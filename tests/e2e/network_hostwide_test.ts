// Host-wide networks over real bridges, runc and the CNI plugins: one set
// of definitions (--network-dir) for every root and namespace, addresses
// unique across roots, `bridge` beside an interface that routes
// 10.88.0.0/16 (podman's podman0), stale berth bridges, --internal, --ip.
// Only 127.0.0.1, berth's own bridges and interfaces these tests make are
// addressed. Tests that use `bridge` take the host-wide test lock of its
// subnets (/tmp/berth-test-default-bridge.lock); the others use random free
// subnets of 10.200.0.0/13.

import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthOk,
  cleanup,
  eventually,
  freePort,
  freeTestSubnet,
  hasNetworking,
  makeRoots,
  monitorPids,
  mountsUnder,
  rootGc,
  type Roots,
  stateOf,
  withRoots,
} from "../helpers.ts";
import { join } from "node:path";
import { get, httpd } from "./net_helpers.ts";

const ignore = !hasNetworking();
const decoder = new TextDecoder();

function assertMatch(text: string, re: RegExp, msg?: string): void {
  assert(re.test(text), msg ?? `${JSON.stringify(text)} does not match ${re}`);
}

async function sh(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: decoder.decode(r.stdout) + decoder.decode(r.stderr) };
}

/** Roots sharing `a`'s network directory. */
async function sharing(a: Roots): Promise<Roots> {
  const b = await makeRoots();
  b.networkDir = a.networkDir;
  b.env.BERTH_NETWORK_DIR = a.networkDir;
  return b;
}

/** The host-wide test lock of `bridge`'s subnets, held while `fn` runs. */
async function withBridgeLock(fn: () => Promise<void>): Promise<void> {
  const f = await Deno.open("/tmp/berth-test-default-bridge.lock", { create: true, write: true });
  await f.lock(true);
  try {
    await fn();
  } finally {
    f.close();
  }
}

/** A bridge this test makes (not berth's: no bth- name), with `addr` on it, up. */
async function testBridge(addr: string): Promise<string> {
  const name = `tb${crypto.randomUUID().slice(0, 8)}`;
  const r = await sh([
    "sh",
    "-c",
    `ip link add ${name} type bridge && ip addr add ${addr} dev ${name} && ip link set ${name} up`,
  ]);
  assertEquals(r.code, 0, r.out);
  return name;
}

async function delLink(name: string): Promise<void> {
  await sh(["ip", "link", "delete", name]);
}

async function inspectNet(roots: Roots, name: string) {
  return JSON.parse(await berthOk(roots, ["network", "inspect", name]))[0] as {
    subnet: string;
    gateway: string;
    bridge: string;
    internal: boolean;
    dns_enabled: boolean;
    containers: { namespace: string; id: string }[];
  };
}

function ipOf(s: Record<string, unknown>): string {
  return (s.network as { ip: string }).ip;
}

Deno.test({
  name:
    "hostwide: bridge beside an interface routing 10.88.0.0/16 (podman0) falls back to 10.90+, " +
    "and moves on when its subnet is taken while no container uses it",
  ignore,
  fn: () =>
    withBridgeLock(() =>
      withRoots(async (roots, rootfs) => {
        const run = (id: string, port: number) =>
          berth(roots, [
            "run",
            "-d",
            "-p",
            `127.0.0.1:${port}:8080`,
            "--rootfs",
            rootfs,
            id,
            "--",
            ...httpd(id),
          ], { BERTH_NETWORK: "" });
        const links: string[] = [];
        const other = await makeRoots();
        const slash16 = (subnet: string) => subnet.split(".").slice(0, 2).join(".");
        try {
          // An interface of the host's (as podman's podman0) routes 10.88.0.0/16.
          links.push(await testBridge("10.88.255.254/16"));
          const p1 = freePort();
          const r1 = await run("c1", p1);
          assertEquals(r1.code, 0, r1.stderr);
          const v1 = await inspectNet(roots, "bridge");
          assertMatch(v1.subnet, /^10\.(9\d|1\d\d|2[0-5]\d)\.0\.0\/16$/);
          assert(ipOf(await stateOf(roots, "c1")).startsWith(slash16(v1.subnet) + "."));
          await eventually(async () => (await get(p1)) === "c1\n", 10_000, "c1 answers");
          // Another network directory's bridge, settled now: the next free /16 (c1's is routed).
          const v3 = await inspectNet(other, "bridge");
          assertMatch(v3.subnet, /^10\.(9\d|1\d\d|2[0-5]\d)\.0\.0\/16$/);
          assert(v3.subnet !== v1.subnet, `${v3.subnet} and ${v1.subnet}`);
          await berthOk(roots, ["delete", "-f", "c1"]);
          // Another interface takes bridge's subnet while no container uses it: bridge moves.
          links.push(await testBridge(`${slash16(v1.subnet)}.255.254/16`));
          const p2 = freePort();
          const r2 = await run("c2", p2);
          assertEquals(r2.code, 0, r2.stderr);
          const v2 = await inspectNet(roots, "bridge");
          assert(v2.subnet !== v1.subnet && v2.subnet !== "10.88.0.0/16", v2.subnet);
          assertEquals(v2.bridge, v1.bridge);
          assert(ipOf(await stateOf(roots, "c2")).startsWith(slash16(v2.subnet) + "."));
          await eventually(async () => (await get(p2)) === "c2\n", 10_000, "c2 answers");
          // berth's device no longer holds the old subnet (it was made again).
          const addrs = (await sh(["ip", "-o", "-4", "addr", "show", "dev", v2.bridge])).out;
          assert(!addrs.includes(` ${slash16(v1.subnet)}.`), addrs);
          // Taken while c2 uses it: bridge stays, a new container is refused in one line.
          links.push(await testBridge(`${slash16(v2.subnet)}.255.254/16`));
          const r3 = await run("c3", freePort());
          assertEquals(r3.code, 1, r3.stderr);
          assertMatch(
            r3.stderr,
            /^berth: network "bridge": its subnet [^\n]* already routed through tb/,
          );
          assertEquals((await inspectNet(roots, "bridge")).subnet, v2.subnet);
          assertEquals((await berth(roots, ["state", "c3"])).code, 3);
          await berthOk(roots, ["delete", "-f", "c2"]);
        } finally {
          for (const l of links) await delLink(l);
          await cleanup(other);
        }
      })
    ),
});

Deno.test({
  name: "hostwide: two roots and two namespaces share bridge and a named network: " +
    "distinct addresses, one host port each, reachable across roots; rm refused from the other root",
  ignore,
  fn: () =>
    withBridgeLock(() =>
      withRoots(async (a, rootfs) => {
        const b = await sharing(a);
        try {
          const subnet = freeTestSubnet();
          await berthOk(a, ["network", "create", "--subnet", subnet, "shared"]);
          // b sees a's network (and the same bridge).
          assertEquals(await berthOk(b, ["network", "ls", "-q"]), "bridge\nshared\n");
          assertEquals(
            (await inspectNet(b, "shared")).bridge,
            (await inspectNet(a, "shared")).bridge,
          );
          const jobs: Promise<string>[] = [];
          const ports = new Map<string, number>();
          for (const [roots, r] of [[a, "a"], [b, "b"]] as const) {
            for (const ns of ["default", "ns2"]) {
              for (const net of ["bridge", "shared"]) {
                const id = `${r}-${ns}-${net}`;
                const port = freePort();
                ports.set(id, port);
                jobs.push(berthOk(roots, [
                  "-n",
                  ns,
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
                ]));
              }
            }
          }
          await Promise.all(jobs);
          const ips: string[] = [];
          for (const [roots, r] of [[a, "a"], [b, "b"]] as const) {
            for (const ns of ["default", "ns2"]) {
              for (const net of ["bridge", "shared"]) {
                const s = JSON.parse(
                  await berthOk(roots, ["-n", ns, "state", `${r}-${ns}-${net}`]),
                );
                ips.push(s.network.ip);
              }
            }
          }
          assertEquals(new Set(ips).size, 8, ips.join(" "));
          for (const [id, port] of ports) {
            await eventually(async () => (await get(port)) === `${id}\n`, 10_000, `${id} answers`);
          }
          // A host port a's container publishes is refused to b.
          const taken = ports.get("a-default-shared")!;
          const clash = await berth(b, [
            "run",
            "-d",
            "--network",
            "shared",
            "-p",
            `127.0.0.1:${taken}:8080`,
            "--rootfs",
            rootfs,
            "clash",
            "--",
            "true",
          ]);
          assertEquals(clash.code, 1, clash.stderr);
          assertMatch(clash.stderr, /^berth: [^\n]*host port [^\n]*\n$/);
          assertEquals((await berth(b, ["state", "clash"])).code, 3);
          // Across roots on the shared network: b's container reaches a's by address.
          const aIp = ipOf(await stateOf(a, "a-default-shared"));
          const w = () =>
            berth(b, [
              "exec",
              "b-default-shared",
              "--",
              "timeout",
              "3",
              "wget",
              "-q",
              "-O",
              "-",
              `http://${aIp}:8080/`,
            ]);
          await eventually(
            async () => (await w()).stdout === "a-default-shared\n",
            10_000,
            "b's container reaches a's",
          );
          // Every root's containers are listed, by every root.
          assertEquals((await inspectNet(b, "shared")).containers.length, 4);
          // rm from b while only a's containers use it: refused, naming one.
          for (const ns of ["default", "ns2"]) {
            await berthOk(b, ["-n", ns, "delete", "-f", `b-${ns}-shared`]);
          }
          const rm = await berth(b, ["network", "rm", "shared"]);
          assertEquals(rm.code, 5, rm.stderr);
          assertMatch(
            rm.stderr,
            /^berth: cannot remove network "shared": container "a-[a-z0-9]+-shared" uses it\n$/,
          );
          assertEquals(await berthOk(a, ["network", "ls", "-q"]), "bridge\nshared\n");
          for (const ns of ["default", "ns2"]) {
            await berthOk(a, ["-n", ns, "delete", "-f", `a-${ns}-shared`]);
          }
          await berthOk(b, ["network", "rm", "shared"]);
          assertEquals(await berthOk(a, ["network", "ls", "-q"]), "bridge\n");
        } finally {
          await cleanup(b);
        }
      })
    ),
});

Deno.test({
  name:
    "hostwide: a root deleted by hand, then a new root: its address is reclaimed, the network works and goes",
  ignore,
  fn: () =>
    withRoots(async (a, rootfs) => {
      const b = await sharing(a);
      try {
        await berthOk(a, ["network", "create", "--subnet", freeTestSubnet(), "n"]);
        await berthOk(a, [
          "run",
          "-d",
          "--network",
          "n",
          "--rootfs",
          rootfs,
          "gone",
          "--",
          "sleep",
          "600",
        ]);
        const s = await stateOf(a, "gone");
        const ip = ipOf(s);
        // The root goes by hand: its processes killed, its mounts and directories removed.
        Deno.kill(s.pid as number, "SIGKILL");
        await eventually(
          async () => (await stateOf(a, "gone")).status === "stopped",
          10_000,
          "stop",
        );
        for (const pid of await monitorPids(a)) Deno.kill(pid, "SIGKILL");
        for (const m of (await mountsUnder(join(a.root, ".."))).reverse()) {
          await sh(["umount", "-l", m]);
        }
        await Deno.remove(a.root, { recursive: true });
        await Deno.remove(a.dataRoot, { recursive: true });
        // A new root on the same network directory: the dead root's address is free again.
        await berthOk(b, [
          "run",
          "-d",
          "--network",
          "n",
          "--ip",
          ip,
          "--rootfs",
          rootfs,
          "new",
          "--",
          "sleep",
          "600",
        ]);
        assertEquals(ipOf(await stateOf(b, "new")), ip);
        const gc = await berthOk(b, ["gc"]);
        assertMatch(gc, /lease of default\/gone on network n/);
        await berthOk(b, ["delete", "-f", "new"]);
        await berthOk(b, ["network", "rm", "n"]);
        assertEquals(await rootGc(b, true), "");
      } finally {
        await cleanup(b);
      }
    }),
});

Deno.test({
  name: "hostwide: a stale bth- bridge on a network's subnet is removed; one with a port is not",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      const subnet = freeTestSubnet();
      const gw = subnet.replace(/\.0\/24$/, ".1/24");
      const stale = `bth-${crypto.randomUUID().slice(0, 8)}`;
      const links = [stale];
      try {
        // Left over, as by a network directory removed by hand: no definition names it.
        let r = await sh([
          "sh",
          "-c",
          `ip link add ${stale} type bridge && ip addr add ${gw} dev ${stale} && ip link set ${stale} up`,
        ]);
        assertEquals(r.code, 0, r.out);
        await berthOk(roots, ["network", "create", "--subnet", subnet, "n"]);
        // With a port (a veth of someone's): in use, kept; one clear line.
        const veth = `tv${crypto.randomUUID().slice(0, 8)}`;
        links.push(veth);
        r = await sh([
          "sh",
          "-c",
          `ip link add ${veth} type veth peer name ${veth}p && ip link set ${veth} master ${stale}`,
        ]);
        assertEquals(r.code, 0, r.out);
        const refused = await berth(roots, [
          "run",
          "-d",
          "--network",
          "n",
          "--rootfs",
          rootfs,
          "c",
          "--",
          "true",
        ]);
        assertEquals(refused.code, 1, refused.stderr);
        assertMatch(
          refused.stderr,
          new RegExp(`^berth: [^\\n]*already routed through ${stale}[^\\n]*\\n$`),
        );
        assertEquals((await berth(roots, ["state", "c"])).code, 3);
        await delLink(veth);
        // No port: stale, removed, the network works.
        await berthOk(roots, [
          "run",
          "-d",
          "--network",
          "n",
          "--rootfs",
          rootfs,
          "c",
          "--",
          "sleep",
          "600",
        ]);
        assertEquals(
          (await sh(["ip", "link", "show", stale])).code !== 0,
          true,
          "the stale bridge is gone",
        );
        assertEquals((await stateOf(roots, "c")).status, "running");
        // An idle bridge another network directory still defines is not stale: it is
        // marked with that directory, which another berth (a test moving
        // --network-dir) reads before it removes anything.
        const mine = await inspectNet(roots, "n");
        const alias = Deno.readTextFileSync(`/sys/class/net/${mine.bridge}/ifalias`).trim();
        assertEquals(alias, `berth:${roots.networkDir}`);
        await berthOk(roots, ["delete", "-f", "c"]);
        const other = await makeRoots();
        try {
          await berthOk(other, ["network", "create", "--subnet", subnet, "n"]);
          const r = await berth(other, [
            "run",
            "-d",
            "--network",
            "n",
            "--rootfs",
            rootfs,
            "o",
            "--",
            "true",
          ]);
          assertEquals(r.code, 1, r.stderr);
          assertMatch(r.stderr, new RegExp(`already routed through ${mine.bridge}`));
          assertEquals((await sh(["ip", "link", "show", mine.bridge])).code, 0, "kept");
          // Once its directory forgets it, it is stale.
          Deno.removeSync(join(roots.networkDir, "n.conflist"));
          await berthOk(other, [
            "run",
            "-d",
            "--network",
            "n",
            "--rootfs",
            rootfs,
            "o",
            "--",
            "sleep",
            "600",
          ]);
          assert((await sh(["ip", "link", "show", mine.bridge])).code !== 0, "removed");
          await berthOk(other, ["delete", "-f", "o"]);
        } finally {
          await cleanup(other);
        }
      } finally {
        for (const l of links) await delLink(l);
      }
    }),
});

Deno.test({
  name:
    "hostwide: --internal has no route out (nothing forwarded beyond its bridge); ls and inspect say so",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      // "Outside": a private network namespace behind a veth the test makes, serving HTTP.
      const outside = freeTestSubnet().replace(/\.0\/24$/, "");
      const veth = `to${crypto.randomUUID().slice(0, 8)}`;
      const www = await Deno.makeTempDir();
      Deno.writeTextFileSync(join(www, "index.html"), "outside\n");
      // The namespace's holder is the server itself (in the foreground): it
      // and the namespace go with the kill below (a daemonized httpd
      // outlived the test, holding the namespace).
      const holder = new Deno.Command("unshare", {
        args: [
          "--net",
          "sh",
          "-c",
          `ip link set lo up; echo ready; exec /tmp/berth-test-rootfs/bin/busybox httpd -f -p 8080 -h ${www}`,
        ],
        stdout: "piped",
        stdin: "null",
      }).spawn();
      const reader = holder.stdout.getReader();
      await reader.read();
      reader.releaseLock();
      try {
        const pid = String(holder.pid);
        const r = await sh([
          "sh",
          "-c",
          [
            `ip link add ${veth} type veth peer name ${veth}p`,
            `ip link set ${veth}p netns ${pid}`,
            `ip addr add ${outside}.1/30 dev ${veth} && ip link set ${veth} up`,
            `nsenter -t ${pid} -n sh -c 'ip addr add ${outside}.2/30 dev ${veth}p && ip link set ${veth}p up && ip route add default via ${outside}.1'`,
          ].join(" && "),
        ]);
        assertEquals(r.code, 0, r.out);
        await sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        await berthOk(roots, [
          "network",
          "create",
          "--disable-dns",
          "--subnet",
          freeTestSubnet(),
          "open",
        ]);
        await berthOk(roots, [
          "network",
          "create",
          "--internal",
          "--subnet",
          freeTestSubnet(),
          "closed",
        ]);
        const closed = await inspectNet(roots, "closed");
        assertEquals([closed.internal, closed.dns_enabled], [true, true]);
        const open = await inspectNet(roots, "open");
        assertEquals([open.internal, open.dns_enabled], [false, false]);
        // The definition carries the flags (the resolver reads dnsEnabled there).
        const def = JSON.parse(Deno.readTextFileSync(join(roots.networkDir, "open.conflist")));
        assertEquals([def.internal, def.dnsEnabled], [false, false]);
        const ls = JSON.parse(await berthOk(roots, ["network", "ls", "--format", "json"]));
        assertEquals(
          ls.map((n: { name: string; internal: boolean }) => [n.name, n.internal]),
          [["bridge", false], ["closed", true], ["open", false]],
        );
        const url = `http://${outside}.2:8080/`;
        const fetchFrom = (id: string) =>
          berth(roots, ["exec", id, "--", "timeout", "3", "wget", "-q", "-O", "-", url]);
        await berthOk(roots, [
          "run",
          "-d",
          "--network",
          "open",
          "--rootfs",
          rootfs,
          "o",
          "--",
          "sleep",
          "600",
        ]);
        await eventually(
          async () => (await fetchFrom("o")).stdout === "outside\n",
          10_000,
          "open reaches out",
        );
        // On the internal network: no default route at all.
        await berthOk(roots, [
          "run",
          "-d",
          "--network",
          "closed",
          "--rootfs",
          rootfs,
          "i",
          "--",
          "sleep",
          "600",
        ]);
        const routes = await berthOk(roots, ["exec", "i", "--", "ip", "route"]);
        assert(!routes.includes("default"), routes);
        assertEquals((await fetchFrom("i")).code !== 0, true);
        // Even one that makes its own default route (NET_ADMIN) gets nothing forwarded.
        await berthOk(roots, [
          "run",
          "-d",
          "--network",
          "closed",
          "--cap-add",
          "NET_ADMIN",
          "--rootfs",
          rootfs,
          "j",
          "--",
          "sleep",
          "600",
        ]);
        await berthOk(roots, [
          "exec",
          "j",
          "--",
          "ip",
          "route",
          "add",
          "default",
          "via",
          closed.gateway,
        ]);
        const j = await fetchFrom("j");
        assertEquals(j.code !== 0, true, j.stdout);
        // The open one still does, at the same time.
        assertEquals((await fetchFrom("o")).stdout, "outside\n");
        // -p on an internal network: refused, nothing made.
        const p = await berth(roots, [
          "run",
          "-d",
          "--network",
          "closed",
          "-p",
          `127.0.0.1:${freePort()}:8080`,
          "--rootfs",
          rootfs,
          "x",
          "--",
          "true",
        ]);
        assertEquals(p.code, 2, p.stderr);
        assertMatch(p.stderr, /^berth: -p [^\n]*internal\n$/);
        await berthOk(roots, ["delete", "-f", "i", "j", "o"]);
        await berthOk(roots, ["network", "rm", "closed", "open"]);
        const fw = (await sh(["iptables", "-S", "BERTH-FORWARD"])).out;
        assert(!fw.includes(closed.bridge), fw);
      } finally {
        holder.kill("SIGKILL");
        await holder.stdout.cancel();
        await holder.status;
        await delLink(veth);
        await Deno.remove(www, { recursive: true });
      }
    }),
});

Deno.test({
  name:
    "hostwide: --ip gives that address; one outside the subnet or the gateway exits 2, a taken one 5, nothing left",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      const subnet = freeTestSubnet();
      const base = subnet.replace(/\.0\/24$/, "");
      await berthOk(roots, ["network", "create", "--subnet", subnet, "n"]);
      const run = (id: string, ip: string) =>
        berth(roots, [
          "run",
          "-d",
          "--network",
          "n",
          "--ip",
          ip,
          "--rootfs",
          rootfs,
          id,
          "--",
          "sleep",
          "600",
        ]);
      const ok = await run("a", `${base}.77`);
      assertEquals(ok.code, 0, ok.stderr);
      assertEquals(ipOf(await stateOf(roots, "a")), `${base}.77`);
      const inside = await berthOk(roots, [
        "exec",
        "a",
        "--",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
      ]);
      assert(inside.includes(` ${base}.77/24 `), inside);
      const before = await sh(["ls", "-R", roots.root]);
      for (
        const [ip, code, re] of [
          [`${base}.77`, 5, /container "a" holds it/],
          ["10.255.255.7", 2, /not a host address of network "n"/],
          [`${base}.1`, 2, /gateway/],
          [`${base}.255`, 2, /not a host address/],
          ["10.1.2", 2, /invalid --ip/],
        ] as const
      ) {
        const r = await run("b", ip);
        assertEquals(r.code, code, `${ip}: ${r.stderr}`);
        assertMatch(r.stderr, /^berth: [^\n]+\n$/);
        assertMatch(r.stderr, re);
        assertEquals((await berth(roots, ["state", "b"])).code, 3, ip);
      }
      assertEquals((await sh(["ls", "-R", roots.root])).out, before.out);
      const ipam = [...Deno.readDirSync(join(roots.networkDir, "run/ipam/n"))].map((e) => e.name)
        .filter((n) => /^[0-9.]+$/.test(n));
      assertEquals(ipam, [`${base}.77`]);
      // --gateway: the address the bridge takes, the containers' default route.
      const sub2 = freeTestSubnet();
      const base2 = sub2.replace(/\.0\/24$/, "");
      for (
        const [args, re] of [
          [["--subnet", sub2, "--gateway", `${base2}.0`], /invalid gateway/],
          [["--subnet", sub2, "--gateway", `${base}.5`], /invalid gateway/],
          [["--gateway", `${base2}.254`], /--gateway goes with --subnet/],
        ] as const
      ) {
        const r = await berth(roots, ["network", "create", ...args, "g"]);
        assertEquals(r.code, 2, r.stderr);
        assertMatch(r.stderr, re);
      }
      await berthOk(roots, [
        "network",
        "create",
        "--subnet",
        sub2,
        "--gateway",
        `${base2}.254`,
        "g",
      ]);
      assertEquals((await inspectNet(roots, "g")).gateway, `${base2}.254`);
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "g",
        "--rootfs",
        rootfs,
        "gw",
        "--",
        "sleep",
        "600",
      ]);
      const route = await berthOk(roots, ["exec", "gw", "--", "ip", "route"]);
      assert(route.includes(`default via ${base2}.254 `), route);
      assert(!ipOf(await stateOf(roots, "gw")).endsWith(".254"));
      await berthOk(roots, ["delete", "-f", "gw"]);
      // Once a is gone, b gets it.
      await berthOk(roots, ["delete", "-f", "a"]);
      assertEquals((await run("b", `${base}.77`)).code, 0);
      assertEquals(ipOf(await stateOf(roots, "b")), `${base}.77`);
    }),
});

Deno.test({
  name: "hostwide: network connect/disconnect give a running container an interface on another " +
    "network and take it away; a kill at any of their points, then gc, leaves nothing of it",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "n1"]);
      await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "n2"]);
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "n2",
        "--rootfs",
        rootfs,
        "d",
        "--",
        ...httpd("d"),
      ]);
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "n1",
        "--rootfs",
        rootfs,
        "c",
        "--",
        "sleep",
        "600",
      ]);
      const dIp = ipOf(await stateOf(roots, "d"));
      const reach = async () =>
        (await berth(roots, [
          "exec",
          "c",
          "--",
          "timeout",
          "3",
          "wget",
          "-q",
          "-O",
          "-",
          `http://${dIp}:8080/`,
        ]))
          .stdout === "d\n";
      const eth1 = async () =>
        (await berth(roots, ["exec", "c", "--", "ip", "-o", "-4", "addr", "show", "eth1"])).stdout;
      const n2Addresses = () =>
        [...Deno.readDirSync(join(roots.networkDir, "run/ipam/n2"))].map((e) => e.name)
          .filter((n) => /^[0-9.]+$/.test(n)).sort();
      const networksOf = async (id: string) => {
        const [v] = JSON.parse(await berthOk(roots, ["inspect", id]));
        return Object.keys(v.NetworkSettings.Networks).sort();
      };
      const attachRecords = () =>
        [...Deno.readDirSync(join(roots.root, "networks/attach"))].filter((e) =>
          e.name.endsWith(".json")
        )
          .length;
      assertEquals(await reach(), false, "isolated before connect");
      // Kills during the connect: gc tears the half-made attachment down; c is as before.
      for (const point of ["network:lease", "network:partial", "network:added"]) {
        const r = await berth(roots, ["network", "connect", "n2", "c"], { BERTH_CRASH_AT: point });
        assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        await berthOk(roots, ["gc"]);
        assertEquals(n2Addresses(), [dIp], point);
        assertEquals(attachRecords(), 2, point);
        assertEquals(await networksOf("c"), ["n1"], point);
        assertEquals(await eth1(), "", point);
      }
      await berthOk(roots, ["network", "connect", "n2", "c"]);
      assertEquals(await networksOf("c"), ["n1", "n2"]);
      const [inspected] = JSON.parse(await berthOk(roots, ["inspect", "c"]));
      const cIp2 = inspected.NetworkSettings.Networks.n2.IPAddress as string;
      assert((await eth1()).includes(` ${cIp2}/24 `), await eth1());
      await eventually(reach, 10_000, "c reaches d through eth1");
      assertEquals(
        (await inspectNet(roots, "n2")).containers.map((c) => c.id).sort(),
        ["c", "d"],
      );
      // Refusals: one line each, nothing changed.
      for (
        const [args, code, re] of [
          [["network", "connect", "n2", "c"], 5, /already connected to network "n2"/],
          [["network", "connect", "nosuch", "c"], 2, /unknown network "nosuch"/],
          [["network", "connect", "n2", "nosuch"], 3, /not found/],
          [["network", "disconnect", "n1", "c"], 5, /the network it was created on/],
          [["network", "disconnect", "bridge", "c"], 5, /not connected to network "bridge"/],
          [["network", "rm", "n2"], 5, /container "[cd]" uses it/],
        ] as const
      ) {
        const r = await berth(roots, [...args]);
        assertEquals(r.code, code, `${args.join(" ")}: ${r.stderr}`);
        assertMatch(r.stderr, /^berth: [^\n]+\n$/);
        assertMatch(r.stderr, re);
      }
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "none",
        "--rootfs",
        rootfs,
        "lo",
        "--",
        "sleep",
        "600",
      ]);
      const lo = await berth(roots, ["network", "connect", "n2", "lo"]);
      assertEquals(lo.code, 5, lo.stderr);
      assertEquals(n2Addresses(), [dIp, cIp2].sort());
      // Kills during the disconnect: gc finishes it.
      for (
        const point of [
          "connect:forgotten",
          "network:del-partial",
          "network:deleted",
          "network:unrecorded",
        ]
      ) {
        const r = await berth(roots, ["network", "disconnect", "n2", "c"], {
          BERTH_CRASH_AT: point,
        });
        assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        await berthOk(roots, ["gc"]);
        assertEquals(n2Addresses(), [dIp], point);
        assertEquals(await eth1(), "", point);
        assertEquals(await reach(), false, point);
        await berthOk(roots, ["network", "connect", "n2", "c"]);
        await eventually(reach, 10_000, `c reaches d again after ${point}`);
      }
      await berthOk(roots, ["network", "disconnect", "n2", "c"]);
      assertEquals(await eth1(), "");
      assertEquals(await reach(), false, "isolated after disconnect");
      assertEquals(n2Addresses(), [dIp]);
      // delete releases a connected network too.
      await berthOk(roots, ["network", "connect", "n2", "c"]);
      await berthOk(roots, ["delete", "-f", "c", "d", "lo"]);
      assertEquals(n2Addresses(), []);
      assertEquals(attachRecords(), 0);
      assertEquals([...Deno.readDirSync(join(roots.networkDir, "run/leases"))], []);
      assertEquals(await rootGc(roots, true), "");
      await berthOk(roots, ["network", "rm", "n1", "n2"]);
    }),
});

Deno.test({
  name:
    "hostwide: network prune removes only networks no container of any root uses (created ones count); system prune too, after the containers",
  ignore,
  fn: () =>
    withRoots(async (a, rootfs) => {
      const b = await sharing(a);
      try {
        for (const n of ["free1", "free2", "useda", "usedb"]) {
          await berthOk(a, ["network", "create", "--subnet", freeTestSubnet(), n]);
        }
        // A created (never started) container in a; a running one in b.
        await berthOk(a, [
          "create",
          "--network",
          "useda",
          "--rootfs",
          rootfs,
          "made",
          "--",
          "true",
        ]);
        await berthOk(b, [
          "run",
          "-d",
          "--network",
          "usedb",
          "--rootfs",
          rootfs,
          "live",
          "--",
          "sleep",
          "100",
        ]);
        const all = "bridge\nfree1\nfree2\nuseda\nusedb\n";
        // No terminal to ask on, or a stray argument: refused, nothing removed.
        const ask = await berth(a, ["network", "prune"]);
        assertEquals([ask.code, ask.stdout], [2, ""]);
        assertMatch(ask.stderr, /^berth: network prune: stdin is not a terminal[^\n]*\n$/);
        const extra = await berth(a, ["network", "prune", "-f", "free1"]);
        assertEquals(extra.code, 2, extra.stderr);
        assertMatch(extra.stderr, /^berth: [^\n]+\n$/);
        const sub = await berth(a, ["network", "prune", "-f", "--subnet", "10.1.0.0/24"]);
        assertEquals(sub.code, 2, sub.stderr);
        assertEquals(await berthOk(b, ["network", "ls", "-q"]), all);

        assertEquals(await berthOk(a, ["network", "prune", "-f"]), "free1\nfree2\n");
        assertEquals(await berthOk(b, ["network", "ls", "-q"]), "bridge\nuseda\nusedb\n");
        // Nothing left to prune: prints nothing.
        assertEquals(await berthOk(b, ["network", "prune", "-f"]), "");

        // system prune removes the created container first, then its network;
        // b's running container keeps usedb.
        const out = await berthOk(a, ["system", "prune", "-f"]);
        assertMatch(out, /^Deleted Containers\nmade\nDeleted Networks\nuseda\nTotal reclaimed/);
        assertEquals(await berthOk(a, ["network", "ls", "-q"]), "bridge\nusedb\n");
        await berthOk(b, ["delete", "-f", "live"]);
        assertMatch(await berthOk(b, ["system", "prune", "-f"]), /^Deleted Networks\nusedb\n/);
        assertEquals(await berthOk(a, ["network", "ls", "-q"]), "bridge\n");
      } finally {
        await cleanup(b);
      }
    }),
});
