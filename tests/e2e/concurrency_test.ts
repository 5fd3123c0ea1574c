// Many berth processes at once, against the real runc.
import { join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import { berth, berthOk, listTree, stateOf, withRoots } from "../helpers.ts";
import { STATUSES } from "../../lib/container/status.ts";

Deno.test("12 concurrent creates of one ID: one wins, the rest exit 4, nothing left behind", async () => {
  await withRoots(async (roots, rootfs) => {
    const results = await Promise.all(
      Array.from(
        { length: 12 },
        () => berth(roots, ["create", "--rootfs", rootfs, "dup", "--", "true"]),
      ),
    );
    const codes = results.map((r) => r.code).sort();
    assertEquals(codes, [0, ...Array(11).fill(4)]);
    for (const r of results.filter((r) => r.code === 4)) {
      assertEquals(r.stderr, `berth: container "dup" already exists\n`);
    }
    assertEquals((await stateOf(roots, "dup")).status, "created");
    // Exactly one container's files: no stray bundle, work dir or lock.
    const bundleFiles = (await listTree(join(roots.root, "ns/default/containers")))
      .filter((p) => !p.startsWith("dup/rootfs/")); // the mounted rootfs's contents
    assertEquals(bundleFiles, [
      "dup",
      "dup/config.json",
      "dup/init.pid",
      "dup/members",
      "dup/rootfs",
      "dup/runc.log",
      "dup/state.json",
    ]);
    assertEquals(await listTree(join(roots.root, "ns/default/locks")), ["dup.lock"]);
    assertEquals(
      (await listTree(join(roots.dataRoot, "ns/default"))).filter((p) => !p.includes("/")),
      ["dup"],
    );
    await berthOk(roots, ["delete", "dup"]);
    assertEquals(await listTree(join(roots.root, "ns/default/containers")), []);
  });
});

Deno.test("20 concurrent creates of distinct IDs all succeed", async () => {
  await withRoots(async (roots, rootfs) => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const results = await Promise.all(
      ids.map((id) => berth(roots, ["run", "-d", "--rootfs", rootfs, id, "--", "sleep", "100"])),
    );
    assertEquals(
      results.map((r) => r.code),
      Array(20).fill(0),
      results.map((r) => r.stderr).join(""),
    );
    const listed = JSON.parse(await berthOk(roots, ["list", "--format", "json"]));
    assertEquals(listed.map((s: { id: string }) => s.id).sort(), [...ids].sort());
    assertTrue(listed.every((s: { status: string }) => s.status === "running"));
    const dels = await Promise.all(ids.map((id) => berth(roots, ["delete", "-f", id])));
    assertEquals(dels.map((r) => r.code), Array(20).fill(0));
    assertEquals(await listTree(join(roots.root, "ns/default/containers")), []);
  });
});

Deno.test("a pause/resume/state storm from several processes: every output parses", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "storm", "--", "sleep", "100"]);
    const clients = Array.from({ length: 6 }, async (_, i) => {
      const outcomes: number[] = [];
      for (let n = 0; n < 6; n++) {
        const op = ["pause", "resume", "state"][(i + n) % 3]!;
        const r = await berth(roots, [op, "storm"]);
        outcomes.push(r.code);
        if (op === "state") {
          assertEquals(r.code, 0, r.stderr);
          const s = JSON.parse(r.stdout);
          assertTrue(STATUSES.includes(s.status));
        } else {
          // Either it applied, or the status did not allow it (never a crash or a lock timeout).
          assertTrue(r.code === 0 || r.code === 5, `${op}: ${r.code} ${r.stderr}`);
          if (r.code === 5) assertTrue(r.stderr.startsWith(`berth: cannot ${op} "storm"`));
        }
      }
      return outcomes;
    });
    await Promise.all(clients);
    const s = await stateOf(roots, "storm");
    assertTrue(s.status === "running" || s.status === "paused");
    // The state agrees with the runtime's freezer.
    const runc = new Deno.Command("runc", {
      args: ["--root", join(roots.root, "ns/default/runc"), "state", "storm"],
      stdout: "piped",
    });
    const rs = JSON.parse(new TextDecoder().decode((await runc.output()).stdout));
    assertEquals(rs.status, s.status);
  });
});

Deno.test("two roots on one host: the same namespace and ID never share a cgroup", async () => {
  await withRoots(async (a, rootfs) => {
    await withRoots(async (b) => {
      await berthOk(a, ["run", "-d", "--rootfs", rootfs, "same", "--", "sleep", "100"]);
      await berthOk(b, ["run", "-d", "--rootfs", rootfs, "same", "--", "sleep", "100"]);
      const cgroupOf = async (roots: typeof a) => {
        const pid = (await stateOf(roots, "same")).pid;
        return (await Deno.readTextFile(`/proc/${pid}/cgroup`)).split("\n")
          .find((l) => l.includes(":pids:") || l.startsWith("0::"))!;
      };
      const ca = await cgroupOf(a);
      const cb = await cgroupOf(b);
      assertTrue(ca !== cb, `${ca} == ${cb}`);
      assertTrue(/\/berth\/[0-9a-f]{8}\/default\/same$/.test(ca), ca);
      // Force-deleting one leaves the other running.
      await berthOk(a, ["delete", "-f", "same"]);
      assertEquals((await stateOf(b, "same")).status, "running");
      const pid = Number((await stateOf(b, "same")).pid);
      assertTrue(!/\) [ZX] /.test(await Deno.readTextFile(`/proc/${pid}/stat`)));
    });
  });
});
