// gc's host-wide sweep (issue 23): stale bth-* bridges and the bridge-level
// rules of bridges that are gone, whoever left them; a stale bridge removed
// as in the way takes its rules. Each test runs berth in a private network
// namespace (real bridges, real iptables there; the host's are never seen
// nor touched), so what the sweep removes is only what the test made.

import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  busyboxRootfs,
  eventually,
  freeTestSubnet,
  hasNetworking,
  makeRoots,
  monitorPids,
  mountsUnder,
  resolverPids,
  type Roots,
} from "../helpers.ts";
import { join } from "node:path";
import { iptablesLog, privateNs, runSleeping as run } from "./net_helpers.ts";

const ignore = !hasNetworking();

type Ns = Awaited<ReturnType<typeof privateNs>>;

/**
 * A private namespace's set-up: a sysfs of its own (the cgroup tree kept
 * where it was, through a temp directory that is removed again).
 */
const SYSFS_OF_NS = "d=$(mktemp -d) && mount --rbind /sys/fs/cgroup $d && " +
  "mount -t sysfs sysfs /sys && mount --rbind $d /sys/fs/cgroup && umount -l $d && rmdir $d";

/**
 * Runs `fn` with `count` fresh roots used only in a private namespace made
 * with `setup`, and cleans up there: a `gc` in the host's namespace (the
 * suite's usual cleanup) would sweep the host's stale bridges and rules.
 */
async function withPrivateRoots(
  count: number,
  setup: string,
  fn: (ns: Ns, roots: Roots[], rootfs: string) => Promise<void>,
): Promise<void> {
  const rootfs = await busyboxRootfs();
  const roots: Roots[] = [];
  for (let i = 0; i < count; i++) roots.push(await makeRoots());
  const ns = await privateNs(setup);
  try {
    await fn(ns, roots, rootfs);
  } finally {
    for (const r of roots) {
      const ids = (await ns.berth(r, ["list", "-q"])).stdout.split("\n").filter((s) => s);
      if (ids.length > 0) await ns.berth(r, ["delete", "-f", ...ids]);
    }
    await ns.close();
    for (const r of roots) {
      await eventually(async () => (await monitorPids(r)).length === 0, 10_000, "monitor exit")
        .catch(async () => {
          for (const pid of await monitorPids(r)) Deno.kill(pid, "SIGKILL");
        });
      for (const pid of await resolverPids(r)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      const base = join(r.root, "..");
      for (const m of (await mountsUnder(base)).reverse()) {
        await new Deno.Command("umount", { args: ["-l", m] }).output();
      }
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  }
}

/** berth's bridge-level rules (comment `berth:`) of the namespace, sorted. */
async function berthRules(ns: Ns): Promise<string[]> {
  return (await ns.sh(["iptables-save"])).out.split("\n").filter((l) =>
    l.startsWith("-A ") && l.includes('"berth:')
  ).sort();
}

/** The namespace's links (names), sorted. */
async function links(ns: Ns): Promise<string[]> {
  const out = (await ns.sh(["ip", "-o", "link", "show"])).out;
  return out.split("\n").map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((n) =>
    n !== undefined
  ).sort() as string[];
}

async function bridgeOf(ns: Ns, roots: Roots, net: string): Promise<string> {
  return JSON.parse(await ns.berthOk(roots, ["network", "inspect", net]))[0].bridge as string;
}

Deno.test({
  name: "network sweep: a network directory deleted by hand: gc removes its idle bridge and " +
    "its rules (another root's tag), keeps a live directory's bridges and rules and what is " +
    "not berth's; --dry-run lists them and changes nothing (private netns)",
  ignore,
  fn: () =>
    withPrivateRoots(3, "true", async (ns, rs, rootfs) => {
      {
        const [a, b, c] = rs as [Roots, Roots, Roots];
        await ns.berthOk(a, ["network", "create", "--subnet", freeTestSubnet(), "na"]);
        await ns.berthOk(b, ["network", "create", "--subnet", freeTestSubnet(), "nb"]);
        await ns.berthOk(b, ["network", "create", "--subnet", freeTestSubnet(), "idle"]);
        await ns.berthOk(c, ["network", "create", "--subnet", freeTestSubnet(), "nc"]);
        await run(ns, a, rootfs, "a1", "na");
        await run(ns, b, rootfs, "b1", "nb");
        await run(ns, b, rootfs, "b2", "idle");
        await run(ns, c, rootfs, "c1", "nc");
        const [ba, bb, bi, bc] = [
          await bridgeOf(ns, a, "na"),
          await bridgeOf(ns, b, "nb"),
          await bridgeOf(ns, b, "idle"),
          await bridgeOf(ns, c, "nc"),
        ];
        await ns.berthOk(a, ["delete", "-f", "a1"]);
        // b's idle network: defined, no port: not stale; c's (another live
        // directory, which b's gc reads through the bridge's alias): neither.
        await ns.berthOk(b, ["delete", "-f", "b2"]);
        await ns.berthOk(c, ["delete", "-f", "c1"]);
        // A bth- bridge of no directory (no alias: an older berth's, a set-up
        // killed early): stale, removed after a pause. One with a port: kept.
        // Not berth's: another bridge, and rules outside berth's chains that
        // name a device that is not there.
        for (
          const cmd of [
            ["ip", "link", "add", "bth-0ld0a11a", "type", "bridge"],
            ["ip", "link", "add", "bth-b5y0b5y0", "type", "bridge"],
            ["ip", "link", "add", "tv-port", "type", "veth", "peer", "name", "tv-peer"],
            ["ip", "link", "set", "tv-port", "master", "bth-b5y0b5y0"],
            ["ip", "link", "add", "tb-other", "type", "bridge"],
            ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "bth-00000000", "-j", "RETURN"],
            ["iptables", "-A", "FORWARD", "-i", ba, "-j", "ACCEPT"],
          ]
        ) assertEquals((await ns.sh(cmd)).code, 0, cmd.join(" "));
        const rulesBefore = await berthRules(ns);
        assert(rulesBefore.some((l) => l.includes(ba)), rulesBefore.join("\n"));
        const mine = rulesBefore.filter((l) => !l.includes(ba));
        for (const br of [bb, bi, bc]) assert(mine.some((l) => l.includes(br)), br);
        const linksBefore = await links(ns);
        const otherRules = async () =>
          (await ns.sh(["iptables-save"])).out.split("\n").filter((l) =>
            l === "-A POSTROUTING -o bth-00000000 -j RETURN" ||
            l === `-A FORWARD -i ${ba} -j ACCEPT`
          );
        assertEquals((await otherRules()).length, 2);
        // The network directory of a goes by hand (as a test's or the bench's base).
        await Deno.remove(a.networkDir, { recursive: true });
        const dry = await ns.berthOk(b, ["gc", "--dry-run"]);
        assertEquals(
          dry.split("\n").filter((l) => l !== "").sort(),
          [
            `would remove the firewall rules of bridge ${ba} (no such device)`,
            `would remove the stale bridge ${ba} (no port, network directory ${a.networkDir} no longer defines it)`,
            "would remove the stale bridge bth-0ld0a11a (no port, no network directory claims it)",
          ].sort(),
        );
        assertEquals(await links(ns), linksBefore, "a dry run removes no device");
        assertEquals(await berthRules(ns), rulesBefore, "a dry run removes no rule");
        const done = await ns.berthOk(b, ["gc"]);
        assertEquals(
          done.split("\n").filter((l) => l !== "").sort(),
          [
            `removed the firewall rules of bridge ${ba} (no such device)`,
            `removed the stale bridge ${ba} (no port, network directory ${a.networkDir} no longer defines it)`,
            "removed the stale bridge bth-0ld0a11a (no port, no network directory claims it)",
          ].sort(),
        );
        assertEquals(
          await links(ns),
          linksBefore.filter((l) => l !== ba && l !== "bth-0ld0a11a"),
        );
        assertEquals(await berthRules(ns), mine, "b's rules stay, a's go");
        assertEquals((await otherRules()).length, 2, "rules outside berth's chains stay");
        // Nothing more to do: a second gc finds nothing.
        assertEquals(await ns.berthOk(b, ["gc"]), "");
        await ns.berthOk(b, ["delete", "-f", "b1"]);
        await ns.berthOk(b, ["network", "rm", "nb", "idle"]);
        await ns.berthOk(c, ["network", "rm", "nc"]);
      }
    }),
});

Deno.test({
  name: "network sweep: a stale bridge removed as in the way of a new network's subnet takes " +
    "its rules (private netns, its own sysfs)",
  ignore,
  fn: () =>
    // sysfs of the namespace: the old code's stale-bridge check read sysfs.
    withPrivateRoots(2, SYSFS_OF_NS, async (ns, rs, rootfs) => {
      {
        const [a, b] = rs as [Roots, Roots];
        const subnet = freeTestSubnet();
        await ns.berthOk(a, ["network", "create", "--subnet", subnet, "na"]);
        await run(ns, a, rootfs, "a1", "na");
        const ba = await bridgeOf(ns, a, "na");
        await ns.berthOk(a, ["delete", "-f", "a1"]);
        assert((await berthRules(ns)).some((l) => l.includes(ba)));
        await Deno.remove(a.networkDir, { recursive: true });
        // Another directory's network on the same subnet: a's bridge is in its way.
        await ns.berthOk(b, ["network", "create", "--subnet", subnet, "nb"]);
        await run(ns, b, rootfs, "b1", "nb");
        const bb = await bridgeOf(ns, b, "nb");
        assert(!(await links(ns)).includes(ba), "the stale bridge is gone");
        const rules = await berthRules(ns);
        assert(!rules.some((l) => l.includes(ba)), `its rules are gone:\n${rules.join("\n")}`);
        assert(rules.some((l) => l.includes(bb)), rules.join("\n"));
        await ns.berthOk(b, ["delete", "-f", "b1"]);
        await ns.berthOk(b, ["network", "rm", "nb"]);
        assertEquals(await berthRules(ns), []);
      }
    }),
});

Deno.test({
  name: "network sweep: gc runs no iptables where nothing changed since a gc found nothing " +
    "stale; a bridge deleted by hand is found (its rules go), as is any change (private netns)",
  ignore,
  fn: () =>
    withPrivateRoots(1, "true", async (ns, rs, rootfs) => {
      const roots = rs[0]!;
      const ipt = await iptablesLog(roots);
      const { roots: shimmed, calls } = ipt;
      try {
        for (const n of ["g1", "g2"]) {
          await ns.berthOk(shimmed, ["network", "create", "--subnet", freeTestSubnet(), n]);
          await run(ns, shimmed, rootfs, `c${n}`, n);
        }
        assertEquals(await ns.berthOk(shimmed, ["gc"]), "");
        calls();
        assertEquals(await ns.berthOk(shimmed, ["gc"]), "");
        assertEquals(calls(), [], "a gc where nothing changed");
        // A bridge gone without its rules (deleted by hand): listed, removed.
        const g1 = await bridgeOf(ns, shimmed, "g1");
        await ns.berthOk(shimmed, ["delete", "-f", "cg1"]);
        calls();
        assertEquals((await ns.sh(["ip", "link", "delete", g1])).code, 0);
        assertEquals(
          await ns.berthOk(shimmed, ["gc"]),
          `removed the firewall rules of bridge ${g1} (no such device)\n`,
        );
        // The sweep's listing and restore; the per-container rules' listing
        // (nat, filter) after it, the generation moved.
        assertEquals(calls(), [
          "iptables-save",
          "iptables-restore",
          "iptables-save",
          "iptables-save",
        ]);
        assert(!(await berthRules(ns)).some((l) => l.includes(g1)));
        // The next gc lists once (its note was not written at a restore), then none.
        assertEquals(await ns.berthOk(shimmed, ["gc"]), "");
        assertEquals(calls(), ["iptables-save"]);
        assertEquals(await ns.berthOk(shimmed, ["gc"]), "");
        assertEquals(calls(), []);
        // Anyone's change moves the generation: listed again.
        await ns.sh(["iptables", "-N", "SOMEONE-ELSE"]);
        calls();
        assertEquals(await ns.berthOk(shimmed, ["gc"]), "");
        assertEquals(calls(), ["iptables-save", "iptables-save", "iptables-save"]);
        await ns.berthOk(shimmed, ["delete", "-f", "cg2"]);
        await ns.berthOk(shimmed, ["network", "rm", "g1", "g2"]);
      } finally {
        await ipt.remove();
      }
    }),
});

Deno.test({
  name: "network sweep: network rm killed between its bridge and its rules: gc removes the " +
    "rules of the device that is gone; the network works again and goes (private netns)",
  ignore,
  fn: () =>
    withPrivateRoots(1, "true", async (ns, rs, rootfs) => {
      const roots = rs[0]!;
      for (const n of ["k1", "k2"]) {
        await ns.berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), n]);
        await run(ns, roots, rootfs, `c${n}`, n);
      }
      const [k1, k2] = [await bridgeOf(ns, roots, "k1"), await bridgeOf(ns, roots, "k2")];
      await ns.berthOk(roots, ["delete", "-f", "ck1"]);
      const killed = await ns.berth(
        { ...roots, env: { ...roots.env, BERTH_CRASH_AT: "network-rm:device" } },
        ["network", "rm", "k1"],
      );
      assertEquals(killed.code, 137, killed.stderr);
      assert(!(await links(ns)).includes(k1), "the device went first");
      assert((await berthRules(ns)).some((l) => l.includes(k1)), "its rules are left");
      assertEquals(
        await ns.berthOk(roots, ["gc"]),
        `removed the firewall rules of bridge ${k1} (no such device)\n`,
      );
      const rules = await berthRules(ns);
      assert(!rules.some((l) => l.includes(k1)), rules.join("\n"));
      assert(rules.some((l) => l.includes(k2)), rules.join("\n"));
      // Still defined: its next container makes its bridge and rules again.
      await run(ns, roots, rootfs, "ck1b", "k1");
      assert((await berthRules(ns)).some((l) => l.includes(k1)));
      await ns.berthOk(roots, ["delete", "-f", "ck1b", "ck2"]);
      await ns.berthOk(roots, ["network", "rm", "k1", "k2"]);
      assertEquals(await berthRules(ns), []);
      assertEquals(await ns.berthOk(roots, ["gc", "--dry-run"]), "");
    }),
});

Deno.test({
  name: "network sweep: a network's set-up removes another bridge's masquerade and accepts " +
    "left on its subnet (their device deleted without them), which would take its traffic; " +
    "gc the rest (private netns)",
  ignore,
  fn: () =>
    withPrivateRoots(2, "true", async (ns, rs, rootfs) => {
      const [a, b] = rs as [Roots, Roots];
      const subnet = freeTestSubnet();
      await ns.berthOk(a, ["network", "create", "--subnet", subnet, "na"]);
      await run(ns, a, rootfs, "a1", "na");
      const ba = await bridgeOf(ns, a, "na");
      await ns.berthOk(a, ["delete", "-f", "a1"]);
      // The device goes by hand, its rules stay; then its directory.
      assertEquals((await ns.sh(["ip", "link", "delete", ba])).code, 0);
      await Deno.remove(a.networkDir, { recursive: true });
      const left = (await berthRules(ns)).filter((l) => l.includes(ba));
      assert(left.some((l) => l.includes("MASQUERADE") && l.includes(subnet)), left.join("\n"));
      await ns.berthOk(b, ["network", "create", "--subnet", subnet, "nb"]);
      await run(ns, b, rootfs, "b1", "nb");
      const after = (await berthRules(ns)).filter((l) => l.includes(ba));
      assertEquals(after.filter((l) => l.includes(subnet)), [], "none on the subnet");
      // Its own rule names no subnet: gc's.
      assertEquals(
        await ns.berthOk(b, ["gc"]),
        `removed the firewall rules of bridge ${ba} (no such device)\n`,
      );
      assertEquals((await berthRules(ns)).filter((l) => l.includes(ba)), []);
      await ns.berthOk(b, ["delete", "-f", "b1"]);
      await ns.berthOk(b, ["network", "rm", "nb"]);
    }),
});
