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
import { get, httpd } from "./net_helpers.ts";
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
    "network: berth's own set-up runs no CNI plugin (BERTH_CNI_ONLY=1 runs them); its rules are the plugins' rule for rule; containers set up either way reach each other; delete leaves nothing",
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
      // Only the udp port differs (each container has its own).
      const generic = (rs: string[]) => rs.map((l) => l.replace(/\b\d{4,5}\b/g, "PORT")).sort();
      assertEquals(generic(own), generic(plugins));
      assert(own.length >= 9, `rules: ${own.join("\n")}`);

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
