// commit, export, import and history end to end: images from a real registry
// (docker-registry on loopback), containers run by runc, skopeo and umoci as
// independent readers of what berth pushes.

import { join } from "../../lib/_std/path.ts";
import { unpackCalls } from "../../lib/image/_ffi.ts";
import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  cleanup,
  eventsOf,
  makeRoots,
  type Roots,
  stateOf,
} from "../helpers.ts";
import { busyboxLayer, tarOf, writeOciLayout } from "../image_fixture.ts";
import { haveRegistryTools, push, type Registry, startRegistry } from "../image_registry.ts";
import { getXattrText } from "../xattr.ts";
import { readXattrs } from "../../lib/image/_xattr_read.ts";

const ready = haveRegistryTools();
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

interface Env {
  roots: Roots;
  reg: Registry;
  work: string;
  /** The image `app:1` in the registry (busybox and a /srv layer), pulled. */
  ref: string;
}

async function withImage(fn: (e: Env) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "berth-commit-" });
  try {
    const layout = join(work, "layout");
    await writeOciLayout(layout, "1", {
      layers: [
        busyboxLayer(rootfs),
        tarOf([
          { name: "srv/", type: "dir" },
          { name: "srv/a", data: "a\n" },
          { name: "srv/old", data: "old\n" },
          { name: "srv/dir/", type: "dir" },
          { name: "srv/dir/x", data: "x\n" },
          { name: "srv/dir/y", data: "y\n" },
        ]),
      ],
    });
    const ref = `${reg.host}/app:1`;
    await push(layout, "1", ref);
    await berthOk(roots, ["pull", "-q", ref]);
    await fn({ roots, reg, work, ref });
  } finally {
    await cleanup(roots);
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/**
 * Every file under `dir` with its mode, owner, content digest, extended
 * attributes (not of symlinks: read through them) and, for a hard-linked
 * file, its link count and the first path of its inode (so two trees agree
 * on which names share a file, not only on contents).
 */
async function treeOf(dir: string, skip: Set<string> = new Set()): Promise<string[]> {
  const out: string[] = [];
  const inodes = new Map<number, string>();
  const walk = async (rel: string) => {
    for (
      const e of [...Deno.readDirSync(join(dir, rel))].sort((a, b) => a.name < b.name ? -1 : 1)
    ) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      if (skip.has(p)) continue;
      const st = Deno.lstatSync(join(dir, p));
      let what = "";
      if (e.isSymlink) what = `-> ${Deno.readLinkSync(join(dir, p))}`;
      else {
        if (e.isFile) {
          const d = await crypto.subtle.digest("SHA-256", Deno.readFileSync(join(dir, p)));
          what = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
          if (st.nlink! > 1) {
            if (!inodes.has(st.ino!)) inodes.set(st.ino!, p);
            what += ` links=${st.nlink} first=${inodes.get(st.ino!)}`;
          }
        }
        const xattrs = readXattrs(join(dir, p)).map(([k, v]) =>
          `${k}=${new TextDecoder().decode(v)}`
        );
        if (xattrs.length > 0) what += ` xattrs=${xattrs.sort().join(",")}`;
      }
      out.push(`${p} ${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk("");
  return out;
}

const CHANGES = [
  "echo new > /srv/new",
  "echo mod > /srv/a",
  "rm /srv/old",
  "rm -r /srv/dir && mkdir /srv/dir && echo z > /srv/dir/z",
  "ln /srv/new /srv/new2",
  "echo s > /srv/suid && chmod 4755 /srv/suid",
].join(" && ");

const CHECK = [
  "cat /srv/new /srv/a",
  "test ! -e /srv/old && echo old-gone",
  "ls /srv/dir",
  "stat -c %a /srv/suid",
  "stat -c %h /srv/new",
].join(" && ");

Deno.test(
  "commit: a running container's changes (add, modify, delete, replaced dir, hard link, setuid, user xattr) run in the new image; -c CMD; the container keeps running; push gives the container's tree to skopeo and umoci",
  OPTS,
  async () => {
    await withImage(async ({ roots, reg, work, ref }) => {
      await berthOk(roots, [
        "run",
        "-d",
        "-e",
        "FOO=bar",
        "--image",
        ref,
        "c1",
        "--",
        "sleep",
        "600",
      ]);
      await berthOk(roots, ["exec", "c1", "--", "sh", "-c", CHANGES]);
      const merged = (await stateOf(roots, "c1")).rootfs as string;
      unpackCalls.setXattr(join(merged, "srv/a"), "user.k", "v");
      unpackCalls.setXattr(join(merged, "srv/dir"), "user.d", "opaque dir"); // replaced: opaque

      const t0 = performance.now();
      const r = await berth(roots, ["commit", "-m", "my changes", "c1", "app:committed"]);
      const ms = performance.now() - t0;
      assertEquals(r.code, 0, r.stderr);
      assert(/^[0-9a-f]{64}\n$/.test(r.stdout), r.stdout);
      console.log(`commit of a running busybox container: ${ms.toFixed(0)} ms`);
      assertEquals((await stateOf(roots, "c1")).status, "running");
      const c1id = (await stateOf(roots, "c1")).id as string;
      const types = async () => (await eventsOf(roots, c1id)).map((e) => e.type);
      const paused = (await types()).filter((t) => t === "pause" || t === "resume");
      assertEquals(paused, ["pause", "resume"]); // paused for the commit, resumed after
      const inspect = JSON.parse(await berthOk(roots, ["image", "inspect", "app:committed"]));
      assertEquals(inspect[0].Id, r.stdout.trim()); // podman's image inspect: Id without sha256:
      // The container's command and -e, as podman's commit keeps them.
      assertEquals(inspect[0].Config.Cmd, ["sleep", "600"]);
      assert(inspect[0].Config.Env.includes("FOO=bar"), inspect[0].Config.Env.join(" "));

      const out = await berthOk(roots, [
        "run",
        "--rm",
        "--image",
        "app:committed",
        "c2",
        "--",
        "sh",
        "-c",
        CHECK,
      ]);
      assertEquals(out, "new\nmod\nold-gone\nz\n4755\n2\n");
      await berthOk(roots, ["create", "--image", "app:committed", "c3", "--", "true"]);
      const c3 = (await stateOf(roots, "c3")).rootfs as string;
      assertEquals(getXattrText(join(c3, "srv/a"), "user.k"), "v");

      // -c: the config changes; no NAME given: the ID alone.
      const id = (await berthOk(roots, [
        "commit",
        "--pause=false",
        "-c",
        'CMD ["echo","hi"]',
        "c1",
        "hi:1",
      ])).trim();
      assertEquals((await types()).filter((t) => t === "pause").length, 1); // not paused again
      assertEquals(await berthOk(roots, ["run", "--rm", "--image", "hi:1", "c4"]), "hi\n");
      const hi = JSON.parse(await berthOk(roots, ["image", "inspect", id]))[0];
      assertEquals(hi.Id, id);
      assertEquals(hi.Config.Cmd, ["echo", "hi"]);

      // push: skopeo and umoci read the container's tree back.
      await berthOk(roots, ["push", "-q", "app:committed", `${reg.host}/app:committed`]);
      const layout = join(work, "check");
      await run("skopeo", [
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        `docker://${reg.host}/app:committed`,
        `oci:${layout}:x`,
      ]);
      await run("umoci", ["unpack", "--image", `${layout}:x`, `${layout}-bundle`]);
      // The mount points runc made in the root (proc, sys, dev...) are in the container's view too.
      const umoci = await treeOf(join(`${layout}-bundle`, "rootfs"));
      assertEquals(umoci, await treeOf(merged));
      // What the comparison covers is there: whiteouts and the opaque directory applied,
      // the hard link one inode, xattrs on a file and a directory, the setuid bit.
      const line = (p: string) => umoci.find((l) => l.startsWith(`${p} `)) ?? "";
      assertEquals(umoci.filter((l) => /^srv\/(old|dir\/[xy]) /.test(l)), []);
      assert(/ links=2 first=srv\/new$/.test(line("srv/new2")), line("srv/new2"));
      assert(line("srv/a").endsWith(" xattrs=user.k=v"), line("srv/a"));
      assert(line("srv/dir").endsWith(" xattrs=user.d=opaque dir"), line("srv/dir"));
      assert(line("srv/dir/z") !== "" && line("srv/suid").startsWith("srv/suid 4755 "));
      // save: the same through an OCI archive.
      const archive = join(work, "committed.tar");
      await berthOk(roots, ["save", "--format", "oci-archive", "-o", archive, "app:committed"]);
      const layout2 = join(work, "check2");
      await run("skopeo", ["copy", "--quiet", `oci-archive:${archive}`, `oci:${layout2}:y`]);
      await run("umoci", ["unpack", "--image", `${layout2}:y`, `${layout2}-bundle`]);
      assertEquals(await treeOf(join(`${layout2}-bundle`, "rootfs")), await treeOf(merged));
    });
  },
);

Deno.test(
  "export of a running and a stopped container lists the merged root; import of it (file and stdin, gzip too) runs; history shows commit's and import's entries",
  OPTS,
  async () => {
    await withImage(async ({ roots, work, ref }) => {
      await berthOk(roots, ["run", "-d", "--image", ref, "c1", "--", "sleep", "600"]);
      await berthOk(roots, ["exec", "c1", "--", "sh", "-c", CHANGES]);
      const file = join(work, "c1.tar");
      await berthOk(roots, ["export", "-o", file, "c1"]);
      const list = (await run("tar", ["-tf", file])).split("\n");
      for (const p of ["bin/busybox", "srv/new", "srv/dir/z", "srv/suid"]) {
        assert(list.includes(p), `${p} not in ${list.join(" ")}`);
      }
      assert(!list.includes("srv/old") && !list.includes("srv/dir/x"), list.join(" "));
      assertEquals([...Deno.readDirSync(work)].map((e) => e.name).sort(), ["c1.tar", "layout"]); // no temp left
      // To stdout, piped; of a stopped container.
      await berthOk(roots, ["kill", "c1"]);
      const [exe, ...pre] = berthArgv();
      const q = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
      const piped = await new Deno.Command("sh", {
        args: ["-c", `${[exe!, ...pre, "export", "c1"].map(q).join(" ")} | tar -t`],
        env: roots.env,
        stdout: "piped",
      }).output();
      assertEquals(piped.code, 0);
      assertEquals(new TextDecoder().decode(piped.stdout).split("\n").sort(), list.sort());

      // import: from the file, then gzipped on stdin.
      const id = (await berthOk(roots, ["import", file, "imp:1"])).trim();
      assert(/^[0-9a-f]{64}$/.test(id), id);
      const out = await berthOk(roots, [
        "run",
        "--rm",
        "--image",
        "imp:1",
        "i1",
        "--",
        "sh",
        "-c",
        CHECK,
      ]);
      assertEquals(out, "new\nmod\nold-gone\nz\n4755\n2\n");
      const gz = await new Deno.Command("sh", {
        args: [
          "-c",
          `gzip -c ${q(file)} | ${[exe!, ...pre, "import", "-", "imp:2"].map(q).join(" ")}`,
        ],
        env: roots.env,
        stdout: "piped",
      }).output();
      assertEquals(gz.code, 0);
      const id2 = new TextDecoder().decode(gz.stdout).trim();
      const diffIds = async (img: string) =>
        JSON.parse(await berthOk(roots, ["image", "inspect", img]))[0].RootFS.Layers;
      assertEquals(await diffIds(id2), await diffIds(id)); // the same tar: the same layer
      assertEquals((await diffIds(id)).length, 1);

      // history: a stopped container's commit on the two-layer image, and the import.
      await berthOk(roots, ["commit", "-m", "my message", "c1", "snap:1"]);
      const rows = JSON.parse(await berthOk(roots, ["history", "--format", "json", "snap:1"]));
      assertEquals(rows.length, 3);
      assertEquals(rows[0].comment, "my message");
      assertEquals(rows[0].createdBy, "sleep 600");
      assertEquals(rows[0].id.length, 64);
      assertEquals(rows.slice(1).map((r: { id: string }) => r.id), ["<missing>", "<missing>"]);
      const table = (await berthOk(roots, ["history", "snap:1"])).split("\n");
      assert(/^ID\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/.test(table[0]!), table[0]);
      assert(
        /^[0-9a-f]{12}\s+(\d+ seconds?|Less than a second) ago\s+sleep 600\s+[\d.]+ [kMG]?B\s+my message$/
          .test(table[1]!),
        table[1],
      );
      assertEquals(await berthOk(roots, ["history", "-q", "imp:1"]), `${id.slice(0, 12)}\n`);
      const imp = JSON.parse(await berthOk(roots, ["history", "--format", "json", "imp:1"]));
      assertEquals(imp[0].comment, "imported from tarball");
    });
  },
);

/** The names in each of the store's directories. */
/** The status recorded in `id`'s state file, read without berth (which would repair it). */
function rawStatus(roots: Roots, id: string): string {
  const file = join(roots.root, "ns/default/containers", id, "state.json");
  return JSON.parse(Deno.readTextFileSync(file)).status;
}

/** The runtime's own status of `id` (runc state). */
async function runcStatus(roots: Roots, id: string): Promise<string> {
  const root = join(roots.root, "ns/default/runc");
  return JSON.parse(await run("runc", ["--root", root, "state", id])).status;
}

function storeNames(roots: Roots): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of ["images", "layers", "blobs", "tmp"]) {
    try {
      out[d] = [...Deno.readDirSync(join(roots.dataRoot, "image", d))].map((e) => e.name).sort();
    } catch {
      out[d] = [];
    }
  }
  return out;
}

Deno.test(
  "crashes: a commit killed at each of its points leaves no image, and after gc no layer, blob or temp of its own; the container it paused is resumed by gc or the next command (one the user paused stays paused); the next commit works",
  OPTS,
  async () => {
    await withImage(async ({ roots, ref }) => {
      await berthOk(roots, ["run", "-d", "--image", ref, "c1", "--", "sleep", "600"]);
      await berthOk(roots, ["exec", "c1", "--", "sh", "-c", CHANGES]);
      const before = storeNames(roots);
      for (const point of ["commit:paused", "commit:layer", "commit:published", "commit:blobs"]) {
        const r = await berth(roots, ["commit", "c1", "crash:1"], { BERTH_CRASH_AT: point });
        assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        assertEquals((await berth(roots, ["image", "inspect", "crash:1"])).code, 3, point);
        // The killed commit had paused c1: as recorded, and frozen in the runtime.
        assertEquals(rawStatus(roots, "c1"), "paused", point);
        assertEquals(await runcStatus(roots, "c1"), "paused", point);
        // gc resumes it (it was the commit's pause, and the commit is dead).
        const gc = await berthOk(roots, ["gc"]);
        assert(gc.includes("resumed default/c1, which a killed commit had paused"), gc);
        assertEquals(storeNames(roots), before, point);
        assertEquals(rawStatus(roots, "c1"), "running", point);
        assertEquals(await runcStatus(roots, "c1"), "running", point);
      }
      // Without gc: the next command on the container resumes it (exec runs in it).
      const k = await berth(roots, ["commit", "c1", "crash:1"], {
        BERTH_CRASH_AT: "commit:paused",
      });
      assertEquals(k.code, 137, k.stderr);
      assertEquals(await runcStatus(roots, "c1"), "paused");
      assertEquals(await berthOk(roots, ["exec", "c1", "--", "echo", "ok"]), "ok\n");
      assertEquals(rawStatus(roots, "c1"), "running");
      assertEquals(await runcStatus(roots, "c1"), "running");
      // A pause the user asked for is not the commit's: a killed commit (which
      // did not pause it) leaves it paused, through the next command and gc.
      await berthOk(roots, ["pause", "c1"]);
      const u = await berth(roots, ["commit", "c1", "crash:1"], { BERTH_CRASH_AT: "commit:layer" });
      assertEquals(u.code, 137, u.stderr);
      assertEquals((await stateOf(roots, "c1")).status, "paused");
      await berthOk(roots, ["gc"]);
      assertEquals((await stateOf(roots, "c1")).status, "paused");
      assertEquals(await runcStatus(roots, "c1"), "paused");
      await berthOk(roots, ["resume", "c1"]);
      const id = (await berthOk(roots, ["commit", "c1", "crash:1"])).trim();
      assertEquals(
        await berthOk(roots, ["history", "-q", "crash:1"]),
        `${id.slice(0, 12)}\n<missing>\n<missing>\n`,
      );
    });
  },
);

Deno.test(
  "bad input: one line, exit 2 (usage) or 3 (missing), nothing stored and the container not paused; a --rootfs container commits as one layer of its root",
  OPTS,
  async () => {
    await withImage(async ({ roots, ref, work }) => {
      await berthOk(roots, ["run", "-d", "--image", ref, "c1", "--", "sleep", "600"]);
      const before = storeNames(roots);
      const cases: [string[], number, RegExp][] = [
        [["commit"], 2, /^berth: commit: missing NAME$/],
        [["commit", "-c", "FROM x", "c1"], 2, /^berth: commit: -c "FROM x": FROM is not one of/],
        [["commit", "-c", "EXPOSE 99999", "c1"], 2, /EXPOSE 99999.*not PORT/],
        [["commit", "c1", "Bad Name"], 2, /^berth: /],
        [["commit", "--pause=maybe", "c1"], 2, /--pause must be true or false/],
        [["commit", "nosuch"], 3, /^berth: .*nosuch/],
        [["export", "nosuch", "-o", join(work, "x.tar")], 3, /^berth: .*nosuch/],
        [["export"], 2, /^berth: export: missing NAME$/],
        [["import"], 2, /^berth: import: missing FILE\|-$/],
        [["import", join(work, "none.tar")], 3, /^berth: import: .*none\.tar: no such file$/],
        [["history", "nosuch:1"], 3, /^berth: image "nosuch:1" not found$/],
        [["history"], 2, /^berth: history: missing IMAGE$/],
      ];
      for (const [args, code, msg] of cases) {
        const r = await berth(roots, args);
        assertEquals(r.code, code, `${args.join(" ")}: ${r.stderr}`);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert(msg.test(r.stderr.trim()), `${args.join(" ")}: ${r.stderr}`);
      }
      // Not a tar: refused, nothing left after the failed import.
      const junk = join(work, "junk.tar");
      Deno.writeFileSync(junk, new TextEncoder().encode("this is not a tar archive\n".repeat(100)));
      const r = await berth(roots, ["import", junk, "junk:1"]);
      assert(r.code !== 0 && r.stderr.startsWith("berth: "), r.stderr);
      assertEquals(storeNames(roots), before);
      assert(!(await eventsOf(roots, null)).some((e) => e.type === "pause"), "c1 was paused");
      assertEquals(Deno.readDirSync(work).toArray().map((e) => e.name).sort(), [
        "junk.tar",
        "layout",
      ]);

      // --rootfs: one layer of the whole root.
      const rootfs = await busyboxRootfs();
      await berthOk(roots, ["create", "--rootfs", rootfs, "r1", "--", "true"]);
      await berthOk(roots, ["start", "r1"]);
      const id = (await berthOk(roots, ["commit", "r1", "fromroot:1"])).trim();
      const img = JSON.parse(await berthOk(roots, ["image", "inspect", id]))[0];
      assertEquals(img.RootFS.Layers.length, 1);
      assertEquals(
        await berthOk(roots, ["run", "--rm", "--image", "fromroot:1", "r2", "--", "echo", "ok"]),
        "ok\n",
      );
    });
  },
);
