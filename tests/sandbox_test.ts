// Sandboxes (pods): members join the sandbox's network, IPC and UTS namespaces.
import { assertEquals, assertTrue } from "./assert.ts";
import { berth, berthOk, eventually, stateOf, withRoots } from "./helpers.ts";

Deno.test("members of a sandbox share its hostname and talk over loopback", async (t) => {
  await withRoots(async (roots, rootfs) => {
    // The listener's stdin stays open: busybox nc may quit at stdin EOF before data arrives.
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "pod",
      "--",
      "sh",
      "-c",
      "sleep 100 | nc -l -p 8080; sleep 100",
    ]);
    await t.step("a member sees the sandbox's hostname", async () => {
      const r = await berth(roots, [
        "run",
        "--rm",
        "--rootfs",
        rootfs,
        "--sandbox",
        "pod",
        "m0",
        "--",
        "hostname",
      ]);
      assertEquals([r.code, r.stdout], [0, "pod\n"]);
      // A container outside the sandbox has its own.
      const other = await berth(roots, [
        "run",
        "--rm",
        "--rootfs",
        rootfs,
        "loner",
        "--",
        "hostname",
      ]);
      assertEquals(other.stdout, "loner\n");
    });
    await t.step("a member reaches the sandbox's listener on 127.0.0.1", async () => {
      const r = await berth(roots, [
        "run",
        "--rootfs",
        rootfs,
        "--sandbox",
        "po",
        "m1",
        "--",
        "sh",
        "-c",
        "echo hello-pod | nc 127.0.0.1 8080",
      ]);
      assertEquals(r.code, 0, r.stderr);
      await eventually(
        async () => (await berthOk(roots, ["logs", "pod"])).includes("hello-pod"),
        5000,
        "delivery",
      );
    });
    await t.step("state shows the sandbox; list --sandbox filters", async () => {
      await berthOk(roots, [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "--sandbox",
        "pod",
        "m2",
        "--",
        "sleep",
        "100",
      ]);
      assertEquals((await stateOf(roots, "m2")).sandbox, "pod");
      assertEquals((await stateOf(roots, "pod")).sandbox, null);
      const ids = (await berthOk(roots, ["list", "-q", "--sandbox", "pod"])).trim().split("\n")
        .sort();
      assertEquals(ids, ["m1", "m2"]);
    });
    await t.step("joining a stopped container or a member is refused", async () => {
      assertEquals(
        (await berth(roots, ["create", "--rootfs", rootfs, "--sandbox", "m1", "x", "--", "true"]))
          .code,
        2,
      );
      assertEquals(
        (await berth(roots, ["create", "--rootfs", rootfs, "--sandbox", "nope", "x", "--", "true"]))
          .code,
        3,
      );
      await berthOk(roots, ["run", "--rootfs", rootfs, "dead", "--", "true"]);
      const r = await berth(roots, [
        "create",
        "--rootfs",
        rootfs,
        "--sandbox",
        "dead",
        "x",
        "--",
        "true",
      ]);
      assertEquals(r.code, 5);
      assertEquals(r.stderr, `berth: cannot join sandbox "dead": container is stopped\n`);
    });
    await t.step(
      "deleting the sandbox while members run needs -f, which removes them first",
      async () => {
        const r = await berth(roots, ["delete", "-f", "pod"].filter((a) => a !== "-f"));
        assertEquals(r.code, 5);
        assertTrue(r.stderr.includes("m2"), r.stderr);
        await berthOk(roots, ["kill", "pod", "KILL"]);
        await berthOk(roots, ["wait", "pod"]);
        assertEquals((await berth(roots, ["delete", "pod"])).code, 5, "m2 still runs");
        await berthOk(roots, ["delete", "-f", "pod"]);
        for (const id of ["pod", "m1", "m2"]) {
          assertEquals((await berth(roots, ["state", id])).code, 3, id);
        }
      },
    );
  });
});
