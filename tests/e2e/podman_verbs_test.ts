// podman's remaining verbs end to end with busybox rootfs containers (and two
// loaded images for system df/prune -a): port, logs' time options, container
// prune, info, system df/prune.
import { join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import { busyboxLayer, tarOf, writeOciLayout } from "../image_fixture.ts";
import { haveTmux, shq, Tmux } from "./tmux.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  eventsOf,
  freePort,
  freeTestSubnet,
  hasNetworking,
  withRoots,
} from "../helpers.ts";

const noNet = !hasNetworking();

function assertMatch(text: string, re: RegExp, msg?: string): void {
  assertTrue(re.test(text), msg ?? `${JSON.stringify(text)} does not match ${re}`);
}

Deno.test({
  name: "port: podman's lines for a running container's published ports; one port; none; unknown",
  ignore: noNet,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "pv"]);
      const [a, b] = [freePort(), freePort()];
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "pv",
        "-p",
        `127.0.0.1:${a}:80`,
        "-p",
        `${b}:53/udp`,
        "--rootfs",
        rootfs,
        "web1",
        "--",
        "sleep",
        "600",
      ]);
      assertEquals(
        await berthOk(roots, ["port", "web1"]),
        `80/tcp -> 127.0.0.1:${a}\n53/udp -> 0.0.0.0:${b}\n`,
      );
      assertEquals(await berthOk(roots, ["port", "web1", "80"]), `127.0.0.1:${a}\n`);
      assertEquals(await berthOk(roots, ["container", "port", "web1", "53/udp"]), `0.0.0.0:${b}\n`);
      const unpublished = await berth(roots, ["port", "web1", "53"]);
      assertEquals(unpublished.code, 3, unpublished.stderr);
      assertMatch(unpublished.stderr, /^berth: port: 53\/tcp of "web1" is not published\n$/);
      // A container without ports prints nothing.
      await berthOk(roots, ["create", "--rootfs", rootfs, "plain", "--", "true"]);
      assertEquals(await berthOk(roots, ["port", "plain"]), "");
      const unknown = await berth(roots, ["port", "nosuch"]);
      assertEquals([unknown.code, unknown.stdout], [3, ""], unknown.stderr);
      const bad = await berth(roots, ["port", "web1", "80/sctp"]);
      assertEquals(bad.code, 2, bad.stderr);
      await berthOk(roots, ["rm", "-f", "web1", "plain"]);
      await berthOk(roots, ["network", "rm", "pv"]);
    }),
});

Deno.test("logs --since/--until: exact bounds print all or nothing; others and -t refused", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "--rootfs", rootfs, "done1", "--", "echo", "hi"]);
    const logs = (args: string[]) => berth(roots, ["logs", ...args, "done1"]);
    for (
      const all of [["--since", "1h"], ["--until", "0s"], [
        "--since",
        "2000-01-01",
        "--until",
        "0s",
      ]]
    ) {
      const r = await logs(all);
      assertEquals([r.code, r.stdout], [0, "hi\n"], `${all}: ${r.stderr}`);
    }
    for (const none of [["--since", "0s"], ["--until", "2000-01-01T00:00:00Z"]]) {
      const r = await logs(none);
      assertEquals([r.code, r.stdout], [0, ""], `${none}: ${r.stderr}`);
    }
    const t = await logs(["-t"]);
    assertEquals([t.code, t.stdout], [2, ""]);
    assertMatch(t.stderr, /^berth: logs: -t is not supported: .*no time per line\n$/);
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "live1", "--", "sleep", "600"]);
    const cut = await berth(roots, ["logs", "--since", "0s", "live1"]);
    assertEquals([cut.code, cut.stdout], [2, ""]);
    assertMatch(cut.stderr, /^berth: logs: cannot cut "live1"'s log at that time: .*\n$/);
    await berthOk(roots, ["rm", "-f", "live1", "done1"]);
  });
});

Deno.test("container prune: -f removes created and stopped containers, prints their IDs; a running one stays; no terminal without -f is refused", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "made1", "--", "true"]);
    await berthOk(roots, ["run", "--rootfs", rootfs, "done1", "--", "true"]);
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "live1", "--", "sleep", "600"]);
    const ask = await berth(roots, ["container", "prune"]);
    assertEquals([ask.code, ask.stdout], [2, ""]);
    assertMatch(ask.stderr, /^berth: container prune: stdin is not a terminal .*-f.*\n$/);
    assertEquals(await berthOk(roots, ["list", "-q"]), "done1\nlive1\nmade1\n");
    const pruned = await berthOk(roots, ["container", "prune", "-f"]);
    assertEquals(pruned.trim().split("\n").sort(), ["done1", "made1"]);
    assertEquals(await berthOk(roots, ["list", "-q"]), "live1\n");
    // Nothing left to prune: nothing printed.
    assertEquals(await berthOk(roots, ["container", "prune", "-f"]), "");
    const extra = await berth(roots, ["container", "prune", "-f", "live1"]);
    assertEquals(extra.code, 2, extra.stderr);
    await berthOk(roots, ["rm", "-f", "live1"]);
  });
});

Deno.test("info: host and store as podman's info; counts by status; json and templates", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "made1", "--", "true"]);
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "live1", "--", "sleep", "600"]);
    const j = JSON.parse(await berthOk(roots, ["info", "--format", "json"]));
    assertEquals(j.host.kernel, Deno.osRelease());
    const v2 = (() => {
      try {
        return Deno.statSync("/sys/fs/cgroup/cgroup.controllers").isFile;
      } catch {
        return false;
      }
    })();
    assertEquals(j.host.cgroupVersion, v2 ? "v2" : "v1");
    assertMatch(j.host.ociRuntime.path, /^\/.*runc$/);
    assertMatch(j.host.ociRuntime.version, /^runc version /);
    assertEquals([j.store.runRoot, j.store.graphRoot], [roots.root, roots.dataRoot]);
    assertEquals(j.store.containerStore, {
      number: 2,
      created: 1,
      running: 1,
      paused: 0,
      stopped: 0,
    });
    assertEquals(j.store.imageStore, { number: 0 });
    assertEquals(j.version.DenoVersion, Deno.version.deno);
    const t = await berthOk(roots, [
      "info",
      "--format",
      "{{.Store.ContainerStore.Running}} {{.Host.OCIRuntime.Name}}",
    ]);
    assertEquals(t, "1 runc\n");
    const text = await berthOk(roots, ["info"]);
    assertMatch(text, /^host:\n {2}arch: .*\n[^]*\nstore:\n[^]*\n {4}running: 1\n/);
    const bad = await berth(roots, ["info", "--format", "{{.Host"]);
    assertEquals([bad.code, bad.stdout], [2, ""]);
    await berthOk(roots, ["rm", "-f", "live1", "made1"]);
  });
});

Deno.test("system df counts and sizes; system prune removes stopped containers and (--volumes) unused volumes only", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["volume", "create", "free1"]);
    await berthOk(roots, ["create", "--rootfs", rootfs, "made1", "--", "true"]);
    await berthOk(roots, [
      "run",
      "--rootfs",
      rootfs,
      "done1",
      "--",
      "sh",
      "-c",
      "head -c 300000 /dev/zero | tr '\\0' x",
    ]);
    await berthOk(roots, [
      "run",
      "-d",
      "-v",
      "kept1:/data",
      "--rootfs",
      rootfs,
      "live1",
      "--",
      "sh",
      "-c",
      "head -c 200000 /dev/zero > /data/z; sleep 600",
    ]);
    const df = JSON.parse(await berthOk(roots, ["system", "df", "--format", "json"]));
    const byType = Object.fromEntries(df.map((r: { Type: string }) => [r.Type, r]));
    assertEquals([byType.Images.Total, byType.Images.RawSize], [0, 0]);
    assertEquals([byType.Containers.Total, byType.Containers.Active], [3, 1]);
    // done1's 300 kB log is reclaimable; the running one's is not.
    assertTrue(byType.Containers.RawReclaimable >= 300_000, JSON.stringify(byType.Containers));
    assertEquals([byType["Local Volumes"].Total, byType["Local Volumes"].Active], [2, 1]);
    assertTrue(byType["Local Volumes"].RawSize >= 200_000, JSON.stringify(df));
    // Only free1's empty directory is reclaimable, not kept1's 200 kB.
    assertTrue(byType["Local Volumes"].RawReclaimable < 100_000, JSON.stringify(df));
    const text = await berthOk(roots, ["system", "df"]);
    assertMatch(text, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +0 +0 +0B +0B \(0%\)\n/);
    assertMatch(text, /\nContainers +3 +1 +[0-9.]+[kM]B +[0-9.]+[kM]B \([0-9]+%\)\n/);
    assertEquals(
      await berthOk(roots, ["system", "df", "--format", "{{.Type}}={{.Total}}"]),
      "Images=0\nContainers=3\nLocal Volumes=2\n",
    );

    const ask = await berth(roots, ["system", "prune"]);
    assertEquals([ask.code, ask.stdout], [2, ""]);
    assertMatch(ask.stderr, /^berth: system prune: stdin is not a terminal/);
    assertEquals(await berthOk(roots, ["list", "-q"]), "done1\nlive1\nmade1\n");

    const out = await berthOk(roots, ["system", "prune", "-f", "--volumes"]);
    assertMatch(out, /^Deleted Containers\n(done1\nmade1|made1\ndone1)\nDeleted Volumes\nfree1\n/);
    assertMatch(out, /\nTotal reclaimed space: [0-9.]+[kM]B\n$/);
    assertEquals(await berthOk(roots, ["list", "-q"]), "live1\n");
    assertEquals(await berthOk(roots, ["volume", "ls", "-q"]), "kept1\n");
    await berthOk(roots, ["rm", "-f", "live1"]);
  });
});

Deno.test("system df counts images and their use; system prune -a removes only the image no container uses", async () => {
  await withRoots(async (roots) => {
    const dir = await Deno.makeTempDir({ prefix: "berth-verbs-" });
    try {
      await writeOciLayout(join(dir, "used"), "example.com/used:1", {
        layers: [busyboxLayer(await busyboxRootfs())],
        config: { Cmd: ["sleep", "600"], Env: ["PATH=/bin"] },
      });
      await writeOciLayout(join(dir, "unused"), "example.com/unused:1", {
        layers: [tarOf([{ name: "f", data: "x".repeat(5000) }])],
        config: { Cmd: ["true"] },
      });
      await berthOk(roots, ["load", "-q", "-i", join(dir, "used")]);
      await berthOk(roots, ["load", "-q", "-i", join(dir, "unused")]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    await berthOk(roots, ["run", "-d", "--name", "u1", "example.com/used:1"]);
    const unusedId = (await berthOk(roots, ["images", "--format", "{{.ID}} {{.Repository}}"]))
      .split("\n").find((l) => l.endsWith(" example.com/unused"))!.split(" ")[0]!;
    const images = () =>
      berthOk(roots, ["system", "df", "--format", "{{.Type}} {{.Total}} {{.Active}}"]);
    assertMatch(await images(), /^Images 2 1\n/);
    // Without -a only dangling images go: both have names.
    assertTrue(!(await berthOk(roots, ["system", "prune", "-f"])).includes("Deleted Images"));
    assertMatch(await images(), /^Images 2 1\n/);
    const out = await berthOk(roots, ["system", "prune", "-a", "-f"]);
    assertMatch(out, /^Deleted Images\nsha256:[0-9a-f]{64}\nTotal reclaimed space: /);
    assertTrue(out.includes(unusedId.replace(/^sha256:/, "").slice(0, 12)), out);
    assertMatch(await images(), /^Images 1 1\n/);
    assertEquals(
      await berthOk(roots, ["images", "--format", "{{.Repository}}"]),
      "example.com/used\n",
    );
    await berthOk(roots, ["rm", "-f", "u1"]);
  });
});

Deno.test({
  name: "container prune on a terminal asks podman's [y/N]: n keeps, y prunes",
  ignore: !haveTmux(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withRoots(async (roots, rootfs) => {
      const t = new Tmux();
      try {
        await berthOk(roots, ["run", "--rootfs", rootfs, "done1", "--", "true"]);
        await t.start("p", roots.env);
        const prune = `${berthArgv().map(shq).join(" ")} container prune; echo RC=$?`;
        await t.line("p", prune);
        await t.waitFor(
          "p",
          /This will remove all non running containers\.\nAre you sure you want to continue\? \[y\/N\] $/m,
        );
        await t.line("p", "n");
        await t.waitFor("p", /RC=0/);
        assertEquals(await berthOk(roots, ["list", "-q"]), "done1\n");
        await t.line("p", "clear; " + prune);
        await t.waitFor("p", /\[y\/N\] $/m);
        await t.line("p", "y");
        const screen = await t.waitFor("p", /RC=0/);
        assertTrue(/^done1$/m.test(screen), screen);
        assertEquals(await berthOk(roots, ["list", "-q"]), "");
      } finally {
        await t.kill();
      }
    }),
});

Deno.test("rename: a running container answers to NEW only; its ID, hostname and files stay; taken and bad names refused; back to its ID; rm leaves no name", async () => {
  await withRoots(async (roots, rootfs) => {
    const names = join(roots.root, "ns/default/names");
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "live1", "--", "sleep", "600"]);
    await berthOk(roots, ["create", "--rootfs", rootfs, "other1", "--", "true"]);
    assertEquals(await berthOk(roots, ["rename", "live1", "web"]), "");
    // An event, as every change: the ID and both names.
    const renamed = (await eventsOf(roots, "live1")).filter((e) => e.type === "rename");
    const pairs = renamed.map((e) => e as unknown as { name: string; oldName: string });
    assertEquals(pairs.map((e) => [e.name, e.oldName]), [["web", "live1"]]);
    assertEquals(await berthOk(roots, ["exec", "web", "--", "hostname"]), "live1\n");
    const [i] = JSON.parse(await berthOk(roots, ["inspect", "web"]));
    assertEquals([i.Id, i.Name], ["live1", "web"]);
    assertEquals(
      await berthOk(roots, ["ps", "-a", "--format", "{{.Names}} {{.ID}}"]),
      "web live1\nother1 other1\n",
    );
    // The old name is gone; the bundle still bears the ID.
    assertEquals((await berth(roots, ["inspect", "live1"])).code, 3);
    assertEquals((await berth(roots, ["stop", "live"])).code, 3, "no prefix of the old ID");
    assertTrue(Deno.statSync(join(roots.root, "ns/default/containers/live1")).isDirectory);
    // Taken: another's ID, its own name, the renamed-away ID for a new container.
    for (
      const [args, code] of [
        [["rename", "web", "other1"], 4],
        [["rename", "other1", "web"], 4],
        [["rename", "web", "web"], 4],
        [["rename", "web", "bad/name"], 2],
        [["rename", "nosuch", "x1"], 3],
        [["create", "--rootfs", rootfs, "web", "--", "true"], 4],
        [["create", "--rootfs", rootfs, "live1", "--", "true"], 4],
      ] as const
    ) {
      const r = await berth(roots, [...args]);
      assertEquals([r.code, r.stdout], [code, ""], `${args.join(" ")}: ${r.stderr}`);
    }
    // Works while it runs: stop and start by the new name.
    await berthOk(roots, ["stop", "-t", "1", "web"]);
    await berthOk(roots, ["start", "web"]);
    // A stale index entry (a crash between rename's steps) is ignored, then replaced.
    Deno.symlinkSync("live1", join(names, "ghost"));
    assertEquals((await berth(roots, ["inspect", "ghost"])).code, 3);
    await berthOk(roots, ["container", "rename", "web", "ghost"]);
    assertEquals(JSON.parse(await berthOk(roots, ["inspect", "ghost"]))[0].Name, "ghost");
    assertEquals((await berth(roots, ["inspect", "web"])).code, 3);
    // Back to its ID: no name record left.
    await berthOk(roots, ["rename", "ghost", "live1"]);
    assertEquals(JSON.parse(await berthOk(roots, ["inspect", "live1"]))[0].Name, "live1");
    assertEquals([...Deno.readDirSync(names)].map((e) => e.name), []);
    await berthOk(roots, ["rename", "live1", "web2"]);
    await berthOk(roots, ["rm", "-f", "web2", "other1"]);
    assertEquals([...Deno.readDirSync(names)].map((e) => e.name), []);
    assertEquals(await berthOk(roots, ["ps", "-aq"]), "");
  });
});
