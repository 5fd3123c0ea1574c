// berth's own set-up of its bridge networks (lib/network/_native.ts) against
// the CNI plugins' (BERTH_CNI_ONLY=1), on real bridges and iptables: no
// plugin process runs, the rules are the plugins' rule for rule, traffic
// flows between containers set up either way, and tear-down leaves
// nothing. Only 127.0.0.1 and the test's own bridge are addressed.

import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthOk,
  eventually,
  freePort,
  freeTestSubnet,
  hasNetworking,
  type Roots,
  withRoots,
} from "../helpers.ts";
import { join } from "node:path";
import { get, httpd, sleepingArgs } from "./net_helpers.ts";
import { containerChains } from "../../lib/network/_stale_rules.ts";
import { bridgePorts } from "../../lib/network/_stale_bridges.ts";

const ignore = !hasNetworking();
const decoder = new TextDecoder();

async function sh(argv: string[]): Promise<string> {
  const r = await new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "piped" }).output();
  return decoder.decode(r.stdout);
}

/** A CNI directory whose plugins log each call to `log`, then run the real one. */
function loggingPlugins(dir: string, log: string): void {
  for (const p of ["bridge", "host-local", "portmap", "firewall", "loopback"]) {
    const f = join(dir, p);
    Deno.writeTextFileSync(
      f,
      `#!/bin/sh\necho "$CNI_COMMAND ${p}" >> ${log}\nexec /usr/lib/cni/${p} "$@"\n`,
    );
    Deno.chmodSync(f, 0o755);
  }
  Deno.writeTextFileSync(log, "");
}

function recordOf(roots: Roots, id: string): { token: string; native?: boolean } {
  const dir = join(roots.root, "networks/attach");
  for (const e of Deno.readDirSync(dir)) {
    const r = JSON.parse(Deno.readTextFileSync(join(dir, e.name)));
    if (r.id === id) return r;
  }
  throw new Error(`no record of ${id}`);
}

async function ipOf(roots: Roots, id: string): Promise<string> {
  return JSON.parse(await berthOk(roots, ["inspect", id]))[0].NetworkSettings.IPAddress;
}

/** The rules of one container (by its ID, chains and address), with those three made generic. */
async function rulesOf(network: string, token: string, ip: string): Promise<string[]> {
  const id = `berth-${token}`;
  const [masq, dn] = await containerChains(network, id);
  const text = (await sh(["iptables-save", "-t", "nat"])) +
    (await sh(["iptables-save", "-t", "filter"]));
  return text.split("\n")
    .filter((l) =>
      l.includes(id) || l.includes(masq!) || l.includes(dn!) || l.includes(`${ip}/32`) ||
      l.includes(`${ip}:`)
    )
    .map((l) =>
      l.replaceAll(id, "ID").replaceAll(masq!, "MASQ").replaceAll(dn!, "DN")
        .replaceAll(ip, "IP")
    )
    .sort();
}

Deno.test({
  name:
    "network: berth's own set-up runs no CNI plugin (BERTH_CNI_ONLY=1 runs them); its port rules are portmap's rule for rule; containers set up either way reach each other; delete leaves nothing",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      const cni = join(roots.root, "..", "cni");
      Deno.mkdirSync(cni, { recursive: true });
      const log = join(cni, "calls.log");
      loggingPlugins(cni, log);
      const env = { BERTH_CNI_PATH: cni };
      await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "nat1"]);
      const bridge = JSON.parse(await berthOk(roots, ["network", "inspect", "nat1"]))[0]
        .bridge as string;
      const [p1, p2, p3, p4] = [freePort(), freePort(), freePort(), freePort()];
      const run = (id: string, port: number, extra: Record<string, string>) =>
        berth(roots, [
          "run",
          "-d",
          "--network",
          "nat1",
          "-p",
          `127.0.0.1:${port}:8080`,
          "-p",
          `${id === "a" ? p3 : p4}:8081/udp`,
          "--rootfs",
          rootfs,
          id,
          "--",
          ...httpd(`hello-${id}`),
        ], { ...env, ...extra });

      // Through the plugins: they run (and are logged).
      let r = await run("p", p1, { BERTH_CNI_ONLY: "1" });
      assertEquals(r.code, 0, r.stderr);
      assert(/ADD bridge/.test(Deno.readTextFileSync(log)), "the plugins ran");
      assertEquals(recordOf(roots, "p").native, undefined);
      const plugins = await rulesOf("nat1", recordOf(roots, "p").token, await ipOf(roots, "p"));

      // berth's own: no plugin runs.
      Deno.writeTextFileSync(log, "");
      r = await run("a", p2, {});
      assertEquals(r.code, 0, r.stderr);
      assertEquals(Deno.readTextFileSync(log), "", "no plugin ran for berth's own set-up");
      assertEquals(recordOf(roots, "a").native, true);
      const tokenA = recordOf(roots, "a").token;
      const ipA = await ipOf(roots, "a");
      const own = await rulesOf("nat1", tokenA, ipA);
      // Only the udp port differs (each container has its own). The
      // container's own rules are portmap's, rule for rule; the bridge
      // plugin's masquerade and the firewall plugin's accepts are the
      // network's, once (as netavark makes them), not the container's.
      const generic = (rs: string[]) => rs.map((l) => l.replace(/\b\d{4,5}\b/g, "PORT")).sort();
      const portmap = plugins.filter((l) => !l.includes("MASQ") && !l.includes("CNI-FORWARD"));
      assert(portmap.length < plugins.length, plugins.join("\n"));
      assertEquals(generic(own), generic(portmap));
      assert(own.length >= 7, `rules: ${own.join("\n")}`);

      // Both serve their published port; each reaches the other's address.
      await eventually(async () => (await get(p1)) === "hello-p\n", 10_000, "p answers");
      await eventually(async () => (await get(p2)) === "hello-a\n", 10_000, "a answers");
      const ipP = await ipOf(roots, "p");
      for (const [from, to, text] of [["a", ipP, "hello-p\n"], ["p", ipA, "hello-a\n"]]) {
        await eventually(
          async () => {
            const w = await berth(roots, [
              "exec",
              from!,
              "--",
              "wget",
              "-q",
              "-O",
              "-",
              `http://${to}:8080/`,
            ]);
            return w.stdout === text;
          },
          10_000,
          `${from} reaches ${to}`,
        );
      }
      assertEquals(bridgePorts(bridge)?.length, 2);

      // Tear-down of berth's own: no plugin either; nothing of it is left.
      Deno.writeTextFileSync(log, "");
      assertEquals((await berth(roots, ["delete", "-f", "a"], env)).code, 0);
      assertEquals(Deno.readTextFileSync(log), "");
      assertEquals(await rulesOf("nat1", tokenA, ipA), []);
      // The veth pair goes with the namespace (the kernel destroys it after the unmount).
      await eventually(() => bridgePorts(bridge)?.length === 1, 5_000, "the veth pair goes");
      assertEquals(await get(p2), null);
      const ipam = join(roots.networkDir, "run/ipam/nat1");
      assert(!Deno.readDirSync(ipam).some((e) => e.name === ipA), "the address is released");
      assertEquals((await berth(roots, ["delete", "-f", "p"], env)).code, 0);
      await eventually(() => bridgePorts(bridge)?.length === 0, 5_000, "no veth is left");
    }),
});

Deno.test({
  name:
    "network: a bridge berth makes has a MAC address of its own, which containers joining it never change (their ARP entries for the gateway stay right)",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "mac1"]);
      const bridge = JSON.parse(await berthOk(roots, ["network", "inspect", "mac1"]))[0]
        .bridge as string;
      const macs: string[] = [];
      for (const id of ["m1", "m2", "m3", "m4"]) {
        await berthOk(roots, [
          "run",
          "-d",
          "--network",
          "mac1",
          "--rootfs",
          rootfs,
          id,
          "--",
          "sleep",
          "600",
        ]);
        macs.push(Deno.readTextFileSync(`/sys/class/net/${bridge}/address`).trim());
      }
      // 3: NET_ADDR_SET (given when made); a kernel-chosen one follows the lowest port's.
      assertEquals(Deno.readTextFileSync(`/sys/class/net/${bridge}/addr_assign_type`).trim(), "3");
      assertEquals(new Set(macs).size, 1, macs.join(" "));
      assert(macs[0]!.startsWith("02:"), macs[0]);
      await berthOk(roots, ["delete", "-f", "m1", "m2", "m3", "m4"]);
      await berthOk(roots, ["network", "rm", "mac1"]);
    }),
});

/** A network namespace of the test's, behind a veth pair on `subnet` (host .1, namespace .2). */
async function outsideNs(subnet: string) {
  const tag = crypto.randomUUID().slice(0, 6);
  const [name, host, peer] = [`bt-out-${tag}`, `bto${tag}`, `bti${tag}`];
  const [hostAddr, farAddr] = [subnet.replace(/\.0\/24$/, ".1"), subnet.replace(/\.0\/24$/, ".2")];
  const must = async (argv: string[]) => {
    const r = await new Deno.Command(argv[0]!, { args: argv.slice(1), stderr: "piped" }).output();
    if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${decoder.decode(r.stderr)}`);
  };
  await must(["ip", "netns", "add", name]);
  try {
    await must(["ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", name]);
    await must(["ip", "addr", "add", `${hostAddr}/24`, "dev", host]);
    await must(["ip", "link", "set", host, "up"]);
    await must(["ip", "-n", name, "addr", "add", `${farAddr}/24`, "dev", peer]);
    await must(["ip", "-n", name, "link", "set", peer, "up"]);
    await must(["ip", "-n", name, "link", "set", "lo", "up"]);
  } catch (err) {
    await sh(["ip", "netns", "del", name]);
    throw err;
  }
  return {
    hostAddr,
    farAddr,
    /** Accepts one TCP connection on `farAddr:port` there; resolves to its peer's address. */
    acceptOne(port: number): { ready: Promise<void>; peer: Promise<string> } {
      const child = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          name,
          Deno.execPath(),
          "eval",
          `const l = Deno.listen({ hostname: "${farAddr}", port: ${port} }); console.log("ready"); ` +
          `const c = await l.accept(); console.log(c.remoteAddr.hostname); c.close(); l.close();`,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      const line = async () => {
        while (!buf.includes("\n")) {
          const { value, done } = await lines.read();
          if (done) throw new Error("the listener ended");
          buf += value;
        }
        const i = buf.indexOf("\n");
        const out = buf.slice(0, i);
        buf = buf.slice(i + 1);
        return out;
      };
      const ready = line().then(() => {});
      const peer = ready.then(line).finally(async () => {
        lines.releaseLock();
        await child.stdout.cancel().catch(() => {});
        try {
          child.kill("SIGKILL");
        } catch { /* ended */ }
        await child.status;
      });
      return { ready, peer };
    },
    async close() {
      await sh(["ip", "link", "delete", host]);
      await sh(["ip", "netns", "del", name]);
    },
  };
}

/** The iptables-save lines (nat and filter) that name `text`. */
async function rulesNaming(text: string): Promise<string[]> {
  const all = (await sh(["iptables-save", "-t", "nat"])) +
    (await sh(["iptables-save", "-t", "filter"]));
  return all.split("\n").filter((l) => l.includes(text));
}

Deno.test({
  name:
    "network: a container without published ports has no rule of its own: the network's shared accepts and masquerade (made once) take it out to another namespace; a kill during set-up, then gc, leaves nothing of it; the network's rules go with network rm",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      const subnet = freeTestSubnet();
      await berthOk(roots, ["network", "create", "--subnet", subnet, "shr1"]);
      const bridge = JSON.parse(await berthOk(roots, ["network", "inspect", "shr1"]))[0]
        .bridge as string;
      const run = (id: string, env: Record<string, string> = {}) =>
        berth(roots, sleepingArgs(rootfs, id, "shr1"), env);
      assertEquals((await run("c1")).code, 0);
      const shared = await rulesNaming(subnet);
      // Three accepts (replies in, out of the host, within the bridge) and the masquerade.
      assertEquals(shared.length, 4, shared.join("\n"));
      assertEquals((await run("c2")).code, 0);
      assertEquals(await rulesNaming(subnet), shared, "a second container adds no rule");
      for (const id of ["c1", "c2"]) {
        assertEquals(await rulesOf("shr1", recordOf(roots, id).token, await ipOf(roots, id)), []);
      }

      // Out through the host to another namespace: masqueraded to the host's address there.
      const outside = await outsideNs(freeTestSubnet());
      try {
        const port = freePort();
        const conn = outside.acceptOne(port);
        await conn.ready;
        const sent = await berth(roots, [
          "exec",
          "c1",
          "--",
          "sh",
          "-c",
          `echo hi | nc -w 3 ${outside.farAddr} ${port}`,
        ]);
        assertEquals(sent.code, 0, sent.stderr);
        assertEquals(await conn.peer, outside.hostAddr);
      } finally {
        await outside.close();
      }

      // Killed during set-up (before and after the rules): gc leaves nothing of it.
      for (const point of ["network:partial", "network:added"]) {
        const r = await run("k", { BERTH_CRASH_AT: point });
        assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        const { token } = recordOf(roots, "k");
        const ipam = join(roots.networkDir, "run/ipam/shr1");
        const ips = [...Deno.readDirSync(ipam)].map((e) => e.name).filter((n) => /^\d/.test(n));
        assertEquals((await berth(roots, ["gc"])).code, 0, point);
        assertEquals((await berth(roots, ["state", "k"])).code, 3, point);
        const left = [...Deno.readDirSync(ipam)].map((e) => e.name).filter((n) => /^\d/.test(n));
        assertEquals(left.length, 2, `${point}: addresses ${left}`);
        for (const ip of ips.filter((i) => !left.includes(i))) {
          assertEquals(await rulesOf("shr1", token, ip), [], point);
        }
        await eventually(() => bridgePorts(bridge)?.length === 2, 5_000, `${point}: veth pairs`);
        assertEquals(await rulesNaming(subnet), shared, `${point}: the network's rules`);
      }

      // network rm: the network's rules go with it.
      await berthOk(roots, ["delete", "-f", "c1", "c2"]);
      await berthOk(roots, ["network", "rm", "shr1"]);
      assertEquals(await rulesNaming(subnet), []);
      assertEquals(await rulesNaming(bridge), []);
    }),
});

Deno.test({
  name:
    "network: published ports' rules are made while the monitor launches the container; when they cannot be made, the run fails, the launched container is taken back, and nothing of it is left (state, veth, address, rules); the port is free for the next run",
  ignore,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      const subnet = freeTestSubnet();
      await berthOk(roots, ["network", "create", "--subnet", subnet, "pf1"]);
      const bridge = JSON.parse(await berthOk(roots, ["network", "inspect", "pf1"]))[0]
        .bridge as string;
      const port = freePort();
      const run = (id: string, env: Record<string, string> = {}) =>
        berth(roots, [
          "run",
          "-d",
          "--network",
          "pf1",
          "-p",
          `127.0.0.1:${port}:8080`,
          "--rootfs",
          rootfs,
          id,
          "--",
          ...httpd(id),
        ], env);
      // A first container makes the network's rules and bridge; then it goes.
      assertEquals((await run("c0")).code, 0);
      await berthOk(roots, ["delete", "-f", "c0"]);
      const ipam = join(roots.networkDir, "run/ipam/pf1");
      const addresses = () =>
        [...Deno.readDirSync(ipam)].map((e) => e.name).filter((n) => /^\d/.test(n));

      // An iptables-restore that always fails, ahead of the real one on the PATH.
      const bin = Deno.makeTempDirSync();
      try {
        Deno.writeTextFileSync(
          join(bin, "iptables-restore"),
          "#!/bin/sh\ncat >/dev/null\nexit 1\n",
        );
        Deno.chmodSync(join(bin, "iptables-restore"), 0o755);
        const r = await run("k", { PATH: `${bin}:${Deno.env.get("PATH")}` });
        assertEquals(r.code, 1, r.stderr);
        assert(r.stderr.startsWith("berth: ") && r.stderr.includes("firewall"), r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      } finally {
        Deno.removeSync(bin, { recursive: true });
      }
      assertEquals((await berth(roots, ["state", "k"])).code, 3);
      assertEquals(bridgePorts(bridge), [], "no veth left on the bridge");
      assertEquals(addresses(), [], "no address left");
      assertEquals(await rulesNaming(`dport ${port} `), [], "no port rule left");
      assertEquals(await rulesNaming(`--dports ${port} `), [], "no jump left");
      assertEquals(
        [...Deno.readDirSync(join(roots.root, "networks/attach"))].length,
        0,
        "no attachment record left",
      );

      // The port (and the host ports lock) is free: the next run publishes it and serves.
      assertEquals((await run("c1")).code, 0);
      await eventually(async () => (await get(port))?.includes("c1") === true, 10_000, "c1 serves");
      await berthOk(roots, ["delete", "-f", "c1"]);
      assertEquals(await rulesNaming(`dport ${port} `), []);
    }),
});
