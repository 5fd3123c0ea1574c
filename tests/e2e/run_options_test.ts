// Run options of issue 13 (mounts, named volumes, process options, inspect,
// run -d, logs --tail) against the real runc and a busybox rootfs.
import { join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthOk,
  eventually,
  listTree,
  mountsUnder,
  rootGc,
  type Roots,
  withRoots,
} from "../helpers.ts";

/** Runs `sh -c script` in a fresh `--rm` container; its stdout (exit 0 required). */
async function sh(roots: Roots, rootfs: string, opts: string[], script: string): Promise<string> {
  return await berthOk(roots, [
    "run",
    "--rm",
    "--rootfs",
    rootfs,
    ...opts,
    "t",
    "--",
    "sh",
    "-c",
    script,
  ]);
}

/** Everything under both roots (a lock file's presence aside, nothing may change). */
async function bothRoots(roots: Roots): Promise<string[]> {
  return [
    ...(await listTree(roots.root)).map((p) => `root/${p}`),
    ...(await listTree(roots.dataRoot)).map((p) => `data/${p}`),
  ];
}

/** A copy of `rootfs` with user `app` (uid 1234, gid 2345, also in group `extra` 3456). */
async function rootfsWithUser(rootfs: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "berth-users-" });
  const r = await new Deno.Command("cp", { args: ["-a", `${rootfs}/.`, dir] }).output();
  assertEquals(r.code, 0);
  await Deno.writeTextFile(join(dir, "etc/passwd"), "app:x:1234:2345:app:/home/app:/bin/sh\n", {
    append: true,
  });
  await Deno.writeTextFile(join(dir, "etc/group"), "appgrp:x:2345:\nextra:x:3456:app\n", {
    append: true,
  });
  return dir;
}

Deno.test("bind, read-only bind and tmpfs (with its size) mounts", async () => {
  await withRoots(async (roots, rootfs) => {
    const host = await Deno.makeTempDir({ prefix: "berth-bind-" });
    try {
      await Deno.writeTextFile(join(host, "in.txt"), "from the host\n");
      const out = await sh(
        roots,
        rootfs,
        [
          "-v",
          `${host}:/rw`,
          "--mount",
          `type=bind,src=${host},dst=/ro,ro`,
          "--tmpfs",
          "/scratch:size=2m",
        ],
        "cat /rw/in.txt; echo written > /rw/out.txt; " +
          "if echo x > /ro/nope 2>/dev/null; then echo ro-writable; else echo ro-refused; fi; " +
          "grep ' /scratch ' /proc/mounts",
      );
      const lines = out.trim().split("\n");
      assertEquals(lines[0], "from the host");
      assertEquals(lines[1], "ro-refused");
      assertTrue(/^tmpfs \/scratch tmpfs .*size=2048k/.test(lines[2]!), lines[2]);
      // The write through the read-write bind reached the host; the read-only one wrote nothing.
      assertEquals(await Deno.readTextFile(join(host, "out.txt")), "written\n");
      assertEquals((await listTree(host)).sort(), ["in.txt", "out.txt"]);
      // Nothing is left mounted under either root once the container is gone.
      assertEquals(await mountsUnder(roots.root), []);
      assertEquals(await mountsUnder(roots.dataRoot), []);
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  });
});

Deno.test("a named volume survives its container, is reused, and rm is refused while in use", async () => {
  await withRoots(async (roots, rootfs) => {
    await sh(roots, rootfs, ["-v", "data:/data"], "echo kept > /data/f");
    // Made on first use; the container is gone, the volume is not.
    assertEquals((await berthOk(roots, ["volume", "ls", "-q"])).trim(), "data");
    assertEquals(
      await sh(roots, rootfs, ["--mount", "type=volume,src=data,dst=/v"], "cat /v/f"),
      "kept\n",
    );
    await berthOk(roots, [
      "create",
      "--rootfs",
      rootfs,
      "-v",
      "data:/data:ro",
      "user1",
      "--",
      "true",
    ]);
    const rm = await berth(roots, ["volume", "rm", "data"]);
    assertEquals(rm.code, 5, rm.stderr);
    assertTrue(rm.stderr.includes('"user1"'), rm.stderr);
    // prune leaves a used volume alone, removes an unused one.
    await berthOk(roots, ["volume", "create", "spare"]);
    assertEquals((await berth(roots, ["volume", "create", "spare"])).code, 4);
    assertEquals(await berthOk(roots, ["volume", "prune"]), "spare\n");
    const info = JSON.parse(await berthOk(roots, ["volume", "inspect", "data"]));
    assertEquals(info[0].usedBy, ["user1"]);
    assertEquals(info[0].mountpoint, join(roots.dataRoot, "volumes/default/data/_data"));
    await berthOk(roots, ["delete", "user1"]);
    await berthOk(roots, ["volume", "rm", "data"]);
    assertEquals(await berthOk(roots, ["volume", "ls", "-q"]), "");
    assertEquals((await berth(roots, ["volume", "rm", "data"])).code, 3);
    assertEquals(await listTree(join(roots.dataRoot, "volumes/default")), []);
  });
});

Deno.test("a create that fails after making its first volume takes back exactly what it made", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["volume", "create", "old"]);
    const args = ["create", "--rootfs", rootfs, "-v", "old:/o", "-v", "v1:/a", "-v", "v2:/b"];
    // The second volume made on first use fails (as a full disk would), the first exists.
    for (const point of ["fail:volume:built@2", "fail:create:recorded"]) {
      const r = await berth(roots, [...args, "vc", "--", "true"], { BERTH_CRASH_AT: point });
      assertEquals(r.code, 1, `${point}: ${r.stderr}`);
      assertTrue(r.stderr.startsWith("berth: "), r.stderr);
      assertTrue(r.stderr.includes("injected failure"), r.stderr);
      assertEquals((await berthOk(roots, ["volume", "ls", "-q"])).trim(), "old", point);
      assertEquals(await listTree(join(roots.dataRoot, "volumes/default")), [
        "old",
        "old/_data",
        "old/volume.json",
      ], point);
      assertEquals((await berth(roots, ["state", "vc"])).code, 3, point);
      assertEquals(await rootGc(roots, true), "", point);
    }
  });
});

Deno.test("a volume made on first use belongs to the container's user; an existing one is left as it is", async () => {
  await withRoots(async (roots, rootfs) => {
    const script = "touch /d/mine && stat -c '%u:%g' /d";
    assertEquals(
      await sh(roots, rootfs, ["-u", "1234:5678", "-v", "fresh:/d"], script),
      "1234:5678\n",
    );
    await berthOk(roots, ["volume", "create", "rootowned"]);
    const r = await berth(roots, [
      "run",
      "--rm",
      "--rootfs",
      rootfs,
      "-u",
      "1234",
      "-v",
      "rootowned:/d",
      "t",
      "--",
      "touch",
      "/d/x",
    ]);
    assertTrue(r.code !== 0, "a root-owned volume is not writable by uid 1234");
  });
});

Deno.test("volume rm/prune racing creates never removes a volume a container records", async () => {
  await withRoots(async (roots, rootfs) => {
    for (let round = 0; round < 6; round++) {
      const id = `racer${round}`;
      const [created] = await Promise.all([
        berth(roots, ["create", "--rootfs", rootfs, "-v", "racy:/d", id, "--", "true"]),
        berth(roots, ["volume", round % 2 === 0 ? "prune" : "rm", ...(round % 2 ? ["racy"] : [])]),
        berth(roots, ["volume", "prune"]),
      ]);
      assertEquals(created.code, 0, created.stderr);
      // The container recorded it: the volume must be there.
      assertTrue((await listTree(join(roots.dataRoot, "volumes/default"))).includes("racy/_data"));
      assertEquals((await berth(roots, ["volume", "rm", "racy"])).code, 5);
      await berthOk(roots, ["delete", id]);
    }
  });
});

Deno.test("--env-file and -e NAME", async () => {
  await withRoots(async (roots, rootfs) => {
    const file = await Deno.makeTempFile({ prefix: "berth-env-" });
    try {
      await Deno.writeTextFile(file, "# a comment\nA=1\n\n  # another\nB=two words\nC=from-file\n");
      const r = await berth(
        roots,
        [
          "run",
          "--rm",
          "--rootfs",
          rootfs,
          "--env-file",
          file,
          "-e",
          "C=flag",
          "-e",
          "FROM_BERTH",
          "-e",
          "UNSET_ONE",
          "t",
          "--",
          "env",
        ],
        { FROM_BERTH: "berth's value" },
      );
      assertEquals(r.code, 0, r.stderr);
      const env = r.stdout.trim().split("\n");
      for (const want of ["A=1", "B=two words", "C=flag", "FROM_BERTH=berth's value"]) {
        assertTrue(env.includes(want), `${want} missing: ${env.join(" | ")}`);
      }
      assertTrue(!env.some((e) => e.startsWith("UNSET_ONE")), "an unset NAME is left out");
      assertTrue(!env.some((e) => e.startsWith("C=from-file")), "-e wins over the file");
    } finally {
      await Deno.remove(file);
    }
  });
});

Deno.test("--user by number and by name, -w, --hostname, --read-only", async () => {
  await withRoots(async (roots, rootfs) => {
    const users = await rootfsWithUser(rootfs);
    try {
      assertEquals(await sh(roots, users, ["-u", "4321:4322"], "id -u; id -g"), "4321\n4322\n");
      const byName = await sh(
        roots,
        users,
        ["--user", "app", "-w", "/tmp", "--hostname", "box1"],
        "id -u; id -g; id -G; pwd; hostname",
      );
      assertEquals(byName, "1234\n2345\n2345 3456\n/tmp\nbox1\n");
      const unknown = await berth(roots, [
        "create",
        "--rootfs",
        users,
        "-u",
        "ghost",
        "x",
        "--",
        "true",
      ]);
      assertEquals(unknown.code, 2, unknown.stderr);
      assertTrue(unknown.stderr.includes("no such user"), unknown.stderr);
      // The name is looked up in the container's files, not the host's.
      assertEquals(
        (await berth(roots, ["create", "--rootfs", rootfs, "-u", "app", "x", "--", "true"])).code,
        2,
      );
      const ro = await sh(
        roots,
        rootfs,
        ["--read-only", "--tmpfs", "/tmp"],
        "if touch /f 2>/dev/null; then echo writable; else echo refused; fi; touch /tmp/ok && echo tmp-ok",
      );
      assertEquals(ro, "refused\ntmp-ok\n");
    } finally {
      await Deno.remove(users, { recursive: true });
    }
  });
});

Deno.test("--cap-drop ALL empties the effective set; --cap-add adds one", async () => {
  await withRoots(async (roots, rootfs) => {
    const capEff = async (opts: string[]) =>
      BigInt(
        "0x" +
          /CapEff:\s*([0-9a-f]+)/.exec(await sh(roots, rootfs, opts, "cat /proc/self/status"))![1],
      );
    assertEquals(await capEff(["--cap-drop", "ALL"]), 0n);
    const NET_ADMIN = 1n << 12n;
    assertEquals(await capEff(["--cap-drop", "all", "--cap-add", "net_admin"]), NET_ADMIN);
    const plain = await capEff([]);
    assertEquals(plain & NET_ADMIN, 0n);
    assertEquals(await capEff(["--cap-add", "CAP_NET_ADMIN"]), plain | NET_ADMIN);
    assertEquals(await capEff(["--cap-drop", "KILL"]), plain & ~(1n << 5n));
  });
});

Deno.test("run -d prints the ID; inspect shows the configuration; logs --tail; generate systemd", async () => {
  await withRoots(async (roots, rootfs) => {
    const host = await Deno.makeTempDir({ prefix: "berth-bind-" });
    try {
      const out = await berthOk(roots, [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "-v",
        `${host}:/h:ro`,
        "-v",
        "vol:/v",
        "--tmpfs",
        "/t:size=1m",
        "-u",
        "7:8",
        "--hostname",
        "web",
        "--cap-drop",
        "ALL",
        "--read-only",
        "-e",
        "K=V",
        "--memory",
        "64m",
        "w1",
        "--",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; sleep 100",
      ]);
      assertEquals(out, "w1\n");
      const [entry] = JSON.parse(await berthOk(roots, ["inspect", "w1"]));
      assertEquals(entry.Berth.id, "w1");
      assertEquals(entry.Berth.status, "running");
      // podman's shape
      assertEquals([entry.Id, entry.Name, entry.State.Status, entry.State.Running], [
        "w1",
        "w1",
        "running",
        true,
      ]);
      assertEquals(entry.Path, "sh");
      assertEquals(entry.Args[0], "-c");
      assertEquals(
        entry.Mounts.map((m: { Type: string; Destination: string; RW: boolean }) => [
          m.Type,
          m.Destination,
          m.RW,
        ]),
        [["bind", "/h", false], ["volume", "/v", true], ["tmpfs", "/t", true]],
      );
      assertEquals(entry.Mounts[1].Name, "vol");
      assertEquals(entry.HostConfig.Binds[0], `${host}:/h:ro,rprivate,rbind`);
      assertEquals(entry.Config.User, "7:8");
      assertEquals(entry.Config.Hostname, "web");
      assertTrue(entry.Config.Env.includes("K=V"));
      assertEquals(entry.HostConfig.ReadonlyRootfs, true);
      assertEquals(entry.HostConfig.CapDrop, ["ALL"]);
      assertEquals(entry.HostConfig.Memory, 64 * 1024 * 1024);
      assertEquals(entry.HostConfig.RestartPolicy, { Name: "no", MaximumRetryCount: 0 });
      const c = entry.Berth.config;
      assertEquals(
        c.mounts.map((
          m: { type: string; destination: string; readOnly: boolean },
        ) => [m.type, m.destination, m.readOnly]),
        [
          ["bind", "/h", true],
          ["volume", "/v", false],
          ["tmpfs", "/t", false],
        ],
      );
      assertEquals(c.mounts[2].size, 1024 * 1024);
      assertEquals([c.process.user.uid, c.process.user.gid], [7, 8]);
      assertEquals(c.process.hostname, "web");
      assertEquals(c.process.readOnly, true);
      assertEquals(c.process.capabilities, []);
      assertTrue(c.process.env.includes("K=V"));
      assertEquals(c.restart, { policy: "no", count: 0 });
      assertEquals(c.limits.memory, 64 * 1024 * 1024);
      for (const k of ["image", "limits", "network", "ports", "health"]) assertTrue(k in c, k);
      await eventually(async () => (await berthOk(roots, ["logs", "w1"])).includes("out5"));
      const tail = await berth(roots, ["logs", "--tail", "2", "w1"]);
      assertEquals(tail.stdout, "out4\nout5\n");
      assertEquals(tail.stderr, "err4\nerr5\n");
      assertEquals((await berth(roots, ["logs", "--tail", "x", "w1"])).code, 2);
      const unit = await berthOk(roots, ["generate", "systemd", "w1"]);
      for (
        const flag of [
          `--mount type=bind,src=${host},dst=/h,ro`,
          "--mount type=volume,src=vol,dst=/v",
          "--mount type=tmpfs,dst=/t,size=1048576",
          "--user 7:8",
          "--hostname web",
          "--read-only",
          "--cap-drop ALL",
        ]
      ) assertTrue(unit.includes(flag), `${flag} missing in ${unit}`);
      assertEquals((await berth(roots, ["inspect", "w1", "nosuch"])).code, 3);
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  });
});

Deno.test("every malformed run option is exit 2 with nothing changed under either root", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["volume", "create", "existing"]);
    await berthOk(roots, ["create", "--rootfs", rootfs, "keep", "--", "true"]);
    const before = await bothRoots(roots);
    const bad: string[][] = [
      ["-v", "./rel:/x"],
      ["-v", "rel/dir:/x"],
      ["-v", "/no/such/dir:/x"],
      ["-v", "/tmp:relative"],
      ["-v", "/tmp:/x:rx"],
      ["-v", "/tmp"],
      ["-v", "/tmp:/"],
      ["-v", "newvol:/x/../y"],
      ["--mount", "type=bind,src=/no/such,dst=/x"],
      ["--mount", "type=nfs,src=/tmp,dst=/x"],
      ["--mount", "type=bind,src=vol,dst=/x"],
      ["--mount", "type=volume,src=/tmp,dst=/x"],
      ["--mount", "type=tmpfs,dst=/x,size=lots"],
      ["--mount", "type=bind,src=/tmp"],
      ["--tmpfs", "relative"],
      ["--tmpfs", "/t:size=12q"],
      ["--tmpfs", "/t:size=0"],
      ["--tmpfs", "/t:mode=1777"],
      ["-v", "/tmp:/same", "--tmpfs", "/same"],
      ["--env-file", "/no/such/file"],
      ["-e", "=value"],
      ["-e", "bad name"],
      ["-u", "ghost"],
      ["-u", "1:2:3"],
      ["-u", "99999999999"],
      ["--hostname", "bad_host"],
      ["--cap-add", "NOT_A_CAP"],
      ["--cap-drop", "CAP_BOGUS"],
      ["--cwd", "/a", "-w", "/b"],
      ["-w", "relative"],
      ["-v", "newvol:/x", "--cap-add", "NOPE"],
    ];
    const envFile = await Deno.makeTempFile();
    await Deno.writeTextFile(envFile, "OK=1\n=broken\n");
    bad.push(["--env-file", envFile], ["-v", "fresh:/x", "-u", "ghost"]);
    try {
      for (const opts of bad) {
        for (const verb of ["create", "run"]) {
          const r = await berth(roots, [verb, "--rootfs", rootfs, ...opts, "bad1", "--", "true"]);
          assertEquals(r.code, 2, `${verb} ${opts.join(" ")}: ${r.stderr}`);
          assertTrue(/^berth: [^\n]+\n$/.test(r.stderr), `one line: ${r.stderr}`);
          assertEquals(
            await bothRoots(roots),
            before,
            `${verb} ${opts.join(" ")} changed the roots`,
          );
        }
      }
    } finally {
      await Deno.remove(envFile);
    }
  });
});

Deno.test("a restart policy reruns the container with its mounts and user", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--restart",
      "always",
      "--rootfs",
      rootfs,
      "-v",
      "runs:/v",
      "-u",
      "0:0",
      "--hostname",
      "again",
      "loop",
      "--",
      "sh",
      "-c",
      "hostname >> /v/log; exit 1",
    ]);
    const log = join(roots.dataRoot, "volumes/default/runs/_data/log");
    await eventually(
      async () =>
        (await Deno.readTextFile(log).catch(() => "")).split("\n").filter((l) => l).length >= 3,
      20_000,
      "three runs",
    );
    assertEquals(new Set((await Deno.readTextFile(log)).trim().split("\n")), new Set(["again"]));
    await berthOk(roots, ["delete", "-f", "loop"]);
  });
});
