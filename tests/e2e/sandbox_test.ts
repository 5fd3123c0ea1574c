// Sandboxes (pods): members join the sandbox's network, IPC and UTS namespaces.
import { join } from "node:path";
import { assertEquals, assertRejects, assertTrue } from "../assert.ts";
import { berth, berthOk, eventually, stateOf, withRoots } from "../helpers.ts";
import { createContext } from "../../lib/container/context.ts";
import { parseGlobals } from "../../lib/container/globals.ts";
import { membersOf } from "../../lib/ops/delete.ts";

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

Deno.test("a sandbox finds its members by their markers, without reading every state", async () => {
  await withRoots(async (roots, rootfs) => {
    const run = (id: string, ...extra: string[]) =>
      berthOk(roots, ["run", "-d", "--rootfs", rootfs, ...extra, id, "--", "sleep", "100"]);
    await run("pod");
    await run("m1", "--sandbox", "pod");
    await berthOk(roots, ["create", "--rootfs", rootfs, "other", "--", "true"]);
    const { globals } = parseGlobals(
      ["--root", roots.root, "--data-root", roots.dataRoot],
      () => undefined,
    );
    const real = createContext(globals);
    // A store that refuses to list every state: membersOf must not need to.
    const store = new Proxy(real.store, {
      get(target, prop) {
        if (prop === "list") return () => Promise.reject(new Error("read every state"));
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const ctx = { ...real, store };
    const ids = async (c: typeof ctx, sid: string) =>
      (await membersOf(c, "default", sid)).map((s) => s.id);
    assertEquals(await ids(ctx, "pod"), ["m1"]);
    assertEquals(await ids(ctx, "other"), []);
    // A deleted member takes its marker along; a --rm member that failed to start leaves none.
    const markers = join(String((await stateOf(roots, "pod")).bundle), "members");
    await berthOk(roots, ["delete", "-f", "m1"]);
    const bad = [
      "run",
      "-d",
      "--rm",
      "--rootfs",
      rootfs,
      "--sandbox",
      "pod",
      "bad",
      "--",
      "/no/such",
    ];
    // (Exit 127: the command is not found, podman's code.)
    assertEquals((await berth(roots, bad)).code, 127);
    assertEquals(await Array.fromAsync(Deno.readDir(markers)), []);
    // A sandbox without markers (made by an older berth) is found by reading every state.
    await run("m2", "--sandbox", "pod");
    await Deno.remove(markers, { recursive: true });
    await assertRejects(() => ids(ctx, "pod"), Error, "read every state");
    assertEquals(await ids(real, "pod"), ["m2"]);
    await berthOk(roots, ["delete", "-f", "pod"]);
    assertEquals((await berth(roots, ["state", "m2"])).code, 3);
  });
});
