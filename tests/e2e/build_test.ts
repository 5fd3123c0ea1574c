// build end to end: Containerfiles built by real runc containers on a busybox
// base image (imported from the test rootfs), the cache, a hostile context,
// crashes at every point, rmi/prune during a build, two builds at once, and
// skopeo + umoci reading back what berth built and pushed.

import { join } from "../../lib/_std/path.ts";
import { CRASH_POINTS } from "../../lib/container/crash.ts";
import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  cleanup,
  makeRoots,
  type Roots,
} from "../helpers.ts";
import { haveRegistryTools, startRegistry } from "../image_registry.ts";

const OPTS = { sanitizeResources: false, sanitizeOps: false };
const BASE = "localhost/busybox:latest";

interface Env {
  roots: Roots;
  work: string;
  ctx: string;
}

/** Fresh roots with busybox imported as BASE, and an empty context directory. */
async function withBase(fn: (e: Env) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const work = await Deno.makeTempDir({ prefix: "berth-build-" });
  try {
    const tar = join(work, "busybox.tar");
    const r = await new Deno.Command("tar", { args: ["-C", rootfs, "-cf", tar, "."] }).output();
    assert(r.success, "tar of the busybox rootfs");
    await berthOk(roots, ["import", tar, BASE]);
    const ctx = join(work, "ctx");
    Deno.mkdirSync(ctx);
    await fn({ roots, work, ctx });
  } finally {
    await cleanup(roots);
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    Deno.mkdirSync(join(dir, name, ".."), { recursive: true });
    Deno.writeTextFileSync(join(dir, name), text);
  }
}

/** Names in a directory of the image store (sorted). */
function storeDir(roots: Roots, d: string): string[] {
  try {
    return [...Deno.readDirSync(join(roots.dataRoot, "image", d))].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Per step: "cached" when the step was taken from the cache, "new" when made. */
function stepsOf(out: string): string[] {
  const lines = out.split("\n");
  const kinds: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/STEP \d+\/\d+: /.test(lines[i]!) || / FROM /.test(lines[i]!)) continue;
    if (/STEP \d+\/\d+: ARG /.test(lines[i]!)) continue;
    kinds.push(lines[i + 1]?.startsWith("--> Using cache") ? "cached" : "new");
  }
  return kinds;
}

const EVERY = `# every instruction berth builds
ARG BASE=${BASE}
FROM \${BASE} AS build
ARG VERSION=1.0
ARG WHO
ENV APP_HOME=/app \\
    GREETING="hello there"
WORKDIR $APP_HOME
COPY --chown=1234:1234 src/ ./src/
ADD pkg.tar.gz /opt/
RUN ["sh", "-c", "echo v=$VERSION who=$WHO > /app/version"]
SHELL ["/bin/sh", "-ec"]
RUN cat src/one src/two > joined && rm -f /etc/motd && ln -s /app/joined /app/link
FROM \${BASE}
COPY --from=build /app /app
COPY --from=build /opt/in-tar /opt/in-tar
LABEL org.example.title="every instruction"
EXPOSE 8080 9090/udp
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --retries=2 CMD test -f /app/joined
USER 1234:1234
WORKDIR /app
ENTRYPOINT ["sh", "-c"]
CMD ["cat version joined link opt-missing 2>/dev/null; cat /opt/in-tar; id -u; pwd; ls -ln src"]
MAINTAINER Jane Doe <jane@example.com>
`;

Deno.test(
  "build: a Containerfile with every instruction, two stages, runs; a cached rebuild makes no layer; a changed file rebuilds exactly the steps after it",
  OPTS,
  async () => {
    await withBase(async ({ roots, work, ctx }) => {
      write(ctx, {
        "Containerfile": EVERY,
        "src/one": "one\n",
        "src/two": "two\n",
        "src/debug.log": "left out\n",
        ".containerignore": "**/*.log\n",
      });
      const tdir = join(work, "t");
      write(tdir, { "in-tar": "from the tar\n" });
      const t = await new Deno.Command("tar", {
        args: ["-C", tdir, "-czf", join(ctx, "pkg.tar.gz"), "in-tar"],
      }).output();
      assert(t.success);
      // --build-arg WHO alone: its value from the environment (podman's form).
      const r = await berth(roots, ["build", "-t", "app:1", "--build-arg", "WHO", ctx], {
        WHO: "me",
      });
      assertEquals(r.code, 0, r.stderr);
      assert(
        r.stdout.includes("[1/2] STEP 1/10: FROM localhost/busybox:latest AS build"),
        r.stdout,
      );
      assert(r.stdout.includes("[2/2] STEP 2/13: COPY --from=build /app /app"), r.stdout);
      const id = r.stdout.trim().split("\n").pop()!;
      assert(/^[0-9a-f]{64}$/.test(id), r.stdout);
      const run = (await berthOk(roots, ["run", "--rm", "app:1"])).split("\n");
      assertEquals(run.slice(0, 8), [
        "v=1.0 who=me",
        "one",
        "two",
        "one",
        "two",
        "from the tar",
        "1234",
        "/app",
      ]);
      assertEquals(run[8], "total 8");
      assert(/^-rw-r--r-- +1 1234 +1234 +4 .* one$/.test(run[9]!), run.join("\n"));
      assert(/^-rw-r--r-- +1 1234 +1234 +4 .* two$/.test(run[10]!), run.join("\n"));
      assertEquals(run.length, 12); // debug.log was left out by .containerignore
      const img = JSON.parse(await berthOk(roots, ["image", "inspect", "app:1"]))[0];
      assertEquals(img.Id, id);
      const c = img.Config;
      assertEquals(c.Entrypoint, ["sh", "-c"]);
      assertEquals(c.User, "1234:1234");
      assertEquals(c.WorkingDir, "/app");
      assertEquals(c.Labels, { "org.example.title": "every instruction" });
      assertEquals(Object.keys(c.ExposedPorts).sort(), ["8080/tcp", "9090/udp"]);
      assertEquals(Object.keys(c.Volumes), ["/data"]);
      assertEquals(c.StopSignal, "SIGINT");
      assertEquals(c.Healthcheck, {
        Test: ["CMD-SHELL", "test -f /app/joined"],
        Interval: 30e9,
        Retries: 2,
      });
      // One layer per filesystem step (base, COPY, COPY); empty_layer for config-only ones.
      const history = img.History as { empty_layer?: boolean }[];
      assertEquals(img.RootFS.Layers.length, 3);
      assertEquals(history.filter((h) => h.empty_layer !== true).length, 3);
      assertEquals(history.length, 13);
      assertEquals(img.Author, "Jane Doe <jane@example.com>");

      // Nothing changed: every step from the cache, no new layer or blob.
      const layers = storeDir(roots, "layers");
      const blobs = storeDir(roots, "blobs");
      const again = await berth(roots, ["build", "-t", "app:2", "--build-arg", "WHO=me", ctx]);
      assertEquals(again.code, 0, again.stderr);
      assertEquals(again.stdout.trim().split("\n").pop(), id);
      assert(stepsOf(again.stdout).every((k) => k === "cached"), again.stdout);
      assertEquals(storeDir(roots, "layers"), layers);
      assertEquals(storeDir(roots, "blobs"), blobs);
      // Cache entries are not listed; the result is, under both names.
      const listed = await berthOk(roots, ["images", "--format", "json"]);
      assertEquals(JSON.parse(listed).length, 2, listed);

      // src/two changes: the first stage's COPY src/ and every step after it run again; the
      // steps before it come from the cache. In the second stage, COPY --from=build /app reads
      // the changed file: it and all after it are made again.
      write(ctx, { "src/two": "two again\n" });
      const changed = await berth(roots, ["build", "--build-arg", "WHO=me", ctx]);
      assertEquals(changed.code, 0, changed.stderr);
      assertEquals(stepsOf(changed.stdout), [
        ...["cached", "cached"], // ENV, WORKDIR
        ...Array(5).fill("new"), // COPY src/, ADD, RUN, SHELL, RUN
        ...Array(12).fill("new"), // the second stage
      ]);
      const rerun = await berth(roots, ["build", "--build-arg", "WHO=me", ctx]);
      assert(stepsOf(rerun.stdout).every((k) => k === "cached"), rerun.stdout);
      // The build arg is part of a RUN's key: another value reruns it.
      const other = await berth(roots, [
        "build",
        "-q",
        "--build-arg",
        "WHO=you",
        "-t",
        "app:4",
        ctx,
      ]);
      assertEquals(other.code, 0, other.stderr);
      assertEquals(
        (await berthOk(roots, ["run", "--rm", "app:4"])).split("\n")[0],
        "v=1.0 who=you",
      );
      // --target stops at the first stage; --no-cache makes every step again.
      const target = await berth(roots, [
        "build",
        "--no-cache",
        "--target",
        "build",
        "--build-arg",
        "WHO=me",
        "-t",
        "stage:1",
        ctx,
      ]);
      assertEquals(target.code, 0, target.stderr);
      assert(
        !target.stdout.includes("[2/2]") && !target.stdout.includes("Using cache"),
        target.stdout,
      );
      assertEquals(
        await berthOk(roots, ["run", "--rm", "stage:1", "cat", "/app/joined"]),
        "one\ntwo again\n",
      );
      // Steps of a --no-cache build fill the cache too: no unnamed image is listed.
      const all = JSON.parse(await berthOk(roots, ["images", "--format", "json"]));
      // (The one unnamed image listed is the result of the untagged build above.)
      const unnamed = all.filter((i: { names: string[] }) => i.names.length === 0);
      assertEquals(
        unnamed.map((i: { id: string }) => i.id.slice(7)),
        [changed.stdout.trim().split("\n").pop()],
      );
      // No container is left; image prune clears the cache but keeps named images.
      assertEquals(await berthOk(roots, ["ps", "-a", "-q"]), "");
      const before = storeDir(roots, "images").length;
      await berthOk(roots, ["image", "prune"]);
      const after = storeDir(roots, "images").length;
      assert(after < before, `${before} -> ${after}`);
      assertEquals(after, JSON.parse(await berthOk(roots, ["images", "--format", "json"])).length);
      const cold = await berth(roots, ["build", "-t", "app:1", "--build-arg", "WHO=me", ctx]);
      assert(!cold.stdout.includes("Using cache"), cold.stdout);
    });
  },
);

Deno.test(
  "build: a hostile context (symlinks out, COPY ../x, a bad instruction, ADD of a URL) is refused in one line naming the line, exit 2, nothing written; a symlink out is copied as a link",
  OPTS,
  async () => {
    await withBase(async ({ roots, work, ctx }) => {
      write(work, { "outside": "host secret\n" });
      write(ctx, { "f": "f\n" });
      Deno.symlinkSync("/etc", join(ctx, "etclink"));
      Deno.symlinkSync(join(work, "outside"), join(ctx, "out"));
      const before = ["images", "layers", "blobs"].map((d) => storeDir(roots, d));
      const cases: [string, RegExp][] = [
        [
          "COPY ../outside /",
          /^berth: Containerfile:3: COPY \.\.\/outside is outside the build context$/,
        ],
        [
          "COPY etclink/passwd /",
          /^berth: Containerfile:3: COPY etclink\/passwd: etclink is a symbolic link/,
        ],
        [
          "COPY /../../etc/passwd /",
          /^berth: Containerfile:3: COPY .* is outside the build context$/,
        ],
        ["FROBNICATE /", /^berth: Containerfile:3: unknown instruction FROBNICATE$/],
        ["COPY onlyone", /^berth: Containerfile:3: COPY needs a source and a destination$/],
        [
          "ADD http://127.0.0.1:9/x.tar /",
          /^berth: Containerfile:3: ADD http:.*does not fetch URLs/,
        ],
        [
          "COPY missing /",
          /^berth: Containerfile:3: COPY missing: not found in the build context$/,
        ],
      ];
      for (const [line, re] of cases) {
        write(ctx, { "Containerfile": `FROM ${BASE}\nRUN echo ran > /ran\n${line}\n` });
        const r = await berth(roots, ["build", "-t", "bad:1", ctx]);
        assertEquals(r.code, 2, `${line}: ${r.stderr}`);
        assert(re.test(r.stderr.trim()) && r.stderr.trim().split("\n").length === 1, r.stderr);
        assertEquals(r.stdout, "", line); // refused before the first step
        assertEquals(["images", "layers", "blobs"].map((d) => storeDir(roots, d)), before, line);
      }
      // A symlink out of the context is copied as the link itself; what it points to is not read.
      write(ctx, { "Containerfile": `FROM ${BASE}\nCOPY out etclink /links/\n` });
      await berthOk(roots, ["build", "-t", "links:1", ctx]);
      assertEquals(
        await berthOk(roots, [
          "run",
          "--rm",
          "links:1",
          "sh",
          "-c",
          "readlink /links/out; readlink /links/etclink; cat /links/out 2>/dev/null || true",
        ]),
        `${join(work, "outside")}\n/etc\n`,
      );
      // A failing RUN: exit 1, no image, no container left.
      write(ctx, { "Containerfile": `FROM ${BASE}\nRUN echo out; exit 7\n` });
      const r = await berth(roots, ["build", "-t", "fail:1", ctx]);
      assertEquals(r.code, 1);
      assert(r.stdout.includes("out\n"), r.stdout);
      assertEquals(
        r.stderr,
        "berth: Containerfile:2: RUN /bin/sh -c echo out; exit 7 exited with 7\n",
      );
      assertEquals((await berth(roots, ["image", "inspect", "fail:1"])).code, 3);
      assertEquals(await berthOk(roots, ["ps", "-a", "-q"]), "");
    });
  },
);

Deno.test(
  "crashes: a build killed at each of its points (and inside its RUN container's create and its commits) leaves no image and, after gc, no build container; the next build works",
  OPTS,
  async () => {
    await withBase(async ({ roots, ctx }) => {
      write(ctx, {
        "Containerfile":
          `FROM ${BASE}\nCOPY f /f\nRUN sleep 30 & echo made > /made\nCMD ["cat", "/made"]\n`,
        "f": "f\n",
      });
      const points = [
        ...CRASH_POINTS.build,
        // A step's container has exited when it is committed: never paused.
        ...CRASH_POINTS.commit.filter((p) => p !== "commit:paused"),
        "create:mounted",
        "create:runtime",
        "start:runtime",
      ];
      for (const point of points) {
        const r = await berth(roots, ["build", "--no-cache", "-t", "crash:1", ctx], {
          BERTH_CRASH_AT: point,
        });
        assertEquals(r.code, 137, `${point}: ${r.stdout} ${r.stderr}`);
        assertEquals((await berth(roots, ["image", "inspect", "crash:1"])).code, 3, point);
        await berthOk(roots, ["gc"]);
        assertEquals(await berthOk(roots, ["ps", "-a", "-q"]), "", point);
        assertEquals(storeDir(roots, "builds"), [], point);
        assertEquals(storeDir(roots, "tmp"), [], point);
        const listed = JSON.parse(await berthOk(roots, ["images", "--format", "json"]));
        assertEquals(listed.map((i: { names: string[] }) => i.names), [[`${BASE}`]], point);
      }
      const out = await berthOk(roots, ["build", "-q", "-t", "crash:1", ctx]);
      assert(/^[0-9a-f]{64}\n$/.test(out), out);
      assertEquals(await berthOk(roots, ["run", "--rm", "crash:1"]), "made\n");
      // image prune takes every cache entry the killed builds left; the named images stay.
      await berthOk(roots, ["image", "prune"]);
      assertEquals(storeDir(roots, "images").length, 2);
    });
  },
);

Deno.test(
  "build: rmi and prune during a build leave what it uses; two builds at once share cached steps and both succeed",
  OPTS,
  async () => {
    await withBase(async ({ roots, ctx }) => {
      write(ctx, {
        "Containerfile":
          `FROM ${BASE}\nENV A=1\nRUN sleep 2; echo slow > /slow\nRUN echo after > /after\n`,
      });
      const building = berth(roots, ["build", "-q", "-t", "slow:1", ctx]);
      // While its first RUN sleeps: the base is in use, the ENV step's image is unnamed.
      let refused = false;
      for (let i = 0; i < 40 && !refused; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (storeDir(roots, "builds").length === 0) continue;
        const rmi = await berth(roots, ["rmi", BASE]);
        if (rmi.code === 5) {
          assert(/in use by build \d+/.test(rmi.stderr), rmi.stderr);
          refused = true;
        }
      }
      assert(refused, "rmi of the base was not refused during the build");
      await berthOk(roots, ["image", "prune"]);
      await berthOk(roots, ["system", "prune", "-f"]);
      const r = await building;
      assertEquals(r.code, 0, r.stderr);
      assertEquals(
        await berthOk(roots, ["run", "--rm", "slow:1", "cat", "/slow", "/after"]),
        "slow\nafter\n",
      );
      // Two builds at once of another file: both succeed; a third takes every step from the cache.
      write(ctx, {
        "Containerfile": `FROM ${BASE}\nRUN echo one > /one\nRUN echo two > /two\n`,
      });
      const [a, b] = await Promise.all([
        berth(roots, ["build", "-q", "-t", "two:a", ctx]),
        berth(roots, ["build", "-q", "-t", "two:b", ctx]),
      ]);
      assertEquals([a.code, b.code], [0, 0], a.stderr + b.stderr);
      const c = await berth(roots, ["build", "-t", "two:c", ctx]);
      assert(stepsOf(c.stdout).every((k) => k === "cached"), c.stdout);
      assert([a.stdout.trim(), b.stdout.trim()].includes(c.stdout.trim().split("\n").pop()!));
      assertEquals(
        await berthOk(roots, ["run", "--rm", "two:c", "cat", "/one", "/two"]),
        "one\ntwo\n",
      );
      assertEquals(await berthOk(roots, ["ps", "-a", "-q"]), "");
    });
  },
);

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/** Every entry under `dir`: type, mode, owner, content digest or link target. */
async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (
      const e of [...Deno.readDirSync(join(dir, rel))].sort((a, b) => a.name < b.name ? -1 : 1)
    ) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      const st = Deno.lstatSync(join(dir, p));
      let what = "";
      if (e.isSymlink) what = `-> ${Deno.readLinkSync(join(dir, p))}`;
      else if (e.isFile) {
        const d = await crypto.subtle.digest("SHA-256", Deno.readFileSync(join(dir, p)));
        what = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
      }
      // Hard links count for files (overlayfs reports 1 for a merged directory's).
      const links = e.isDirectory ? "" : ` ${st.nlink}`;
      out.push(`${p} ${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid}${links} ${what}`);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk("");
  return out;
}

Deno.test(
  "build: an image berth built and pushed is pulled by skopeo and unpacked by umoci into the tree berth's container sees (modes, owners, links, deletions)",
  { ...OPTS, ignore: !haveRegistryTools() },
  async () => {
    await withBase(async ({ roots, work, ctx }) => {
      const reg = await startRegistry();
      try {
        write(ctx, {
          "Containerfile": `FROM ${BASE}
COPY --chown=7:8 tree /srv/
RUN rm -rf /srv/gone /etc/profile && mkdir -p /srv/d && chmod 4755 /srv/x && ln /srv/x /srv/x2 && ln -s ../x /srv/d/l
WORKDIR /srv
`,
          "tree/x": "x\n",
          "tree/gone/y": "y\n",
        });
        Deno.chmodSync(join(ctx, "tree/x"), 0o640);
        await berthOk(roots, ["build", "-q", "-t", "tree:1", ctx]);
        await berthOk(roots, ["push", "-q", "tree:1", `${reg.host}/tree:1`]);
        const layout = join(work, "layout");
        await run("skopeo", [
          "copy",
          "--quiet",
          "--src-tls-verify=false",
          `docker://${reg.host}/tree:1`,
          `oci:${layout}:x`,
        ]);
        await run("umoci", ["unpack", "--image", `${layout}:x`, join(work, "bundle")]);
        const theirs = await treeOf(join(work, "bundle", "rootfs"));
        // berth's view: the container's merged root (created, not started: nothing mounted in it).
        await berthOk(roots, ["create", "--name", "view", "tree:1", "true"]);
        const state = JSON.parse(await berthOk(roots, ["state", "view"]));
        const ours = await treeOf(state.rootfs);
        assertEquals(theirs, ours);
        assert(theirs.some((l) => /^srv\/x 4755 7:8 2 /.test(l)), theirs.join("\n"));
        assert(!theirs.some((l) => l.startsWith("srv/gone") || l.startsWith("etc/profile ")));
      } finally {
        await reg.stop();
      }
    });
  },
);

Deno.test(
  "build --timestamp (and SOURCE_DATE_EPOCH): two builds without the cache make the same image ID, every layer mtime clamped",
  OPTS,
  async () => {
    await withBase(async ({ roots, ctx }) => {
      write(ctx, {
        "Containerfile": `FROM ${BASE}\nCOPY f /f\nRUN echo made > /made\nCMD ["cat", "/made"]\n`,
        "f": "f\n",
      });
      const a = await berthOk(roots, [
        "build",
        "-q",
        "--no-cache",
        "--timestamp",
        "1000000000",
        ctx,
      ]);
      const b = await berth(roots, ["build", "-q", "--no-cache", "-t", "ts:1", ctx], {
        SOURCE_DATE_EPOCH: "1000000000",
      });
      assertEquals(b.code, 0, b.stderr);
      assertEquals(b.stdout, a);
      const img = JSON.parse(await berthOk(roots, ["image", "inspect", "ts:1"]))[0];
      assertEquals(img.Created, "2001-09-09T01:46:40.000Z");
      // Every entry of the built layers (unpacked in the store from their tars) is that old.
      const rec = JSON.parse(
        Deno.readTextFileSync(join(roots.dataRoot, "image", "images", `${a.trim()}.json`)),
      );
      assertEquals(rec.layers.length, 3);
      for (const l of rec.layers.slice(1)) {
        const dir = join(roots.dataRoot, "image", "layers", l.chainId.slice(7));
        const walk = (rel: string) => {
          for (const e of Deno.readDirSync(join(dir, rel))) {
            const st = Deno.lstatSync(join(dir, rel, e.name));
            assert(st.mtime!.getTime() <= 1e12, `${rel}/${e.name}: ${st.mtime!.toISOString()}`);
            if (e.isDirectory) walk(join(rel, e.name));
          }
        };
        walk("");
      }
      const untimed = await berth(roots, ["build", "-q", "--no-cache", ctx]);
      assert(untimed.stdout !== a, "without --timestamp the ID differs");
    });
  },
);

Deno.test(
  "build: COPY follows the image's own symlinks inside its root (a merged-/usr style link stays a link; an absolute one resolves in the image, not the host); COPY --from an image; hard links kept; --chmod",
  OPTS,
  async () => {
    await withBase(async ({ roots, ctx }) => {
      write(ctx, {
        "Containerfile": `FROM ${BASE}
RUN mkdir -p /usr/local/real && ln -s usr/local/real /lnk && ln -s /usr/local /usr/abs
COPY f /lnk/
COPY f /usr/abs/real/f2
COPY --from=${BASE} /etc/passwd /from-image
COPY g g2 /hl/
COPY --chmod=0750 f /chm
`,
        "f": "f\n",
        "g": "g\n",
      });
      Deno.linkSync(join(ctx, "g"), join(ctx, "g2")); // a hard link stays one
      await berthOk(roots, ["build", "-q", "-t", "links:2", ctx]);
      assertEquals(
        await berthOk(roots, [
          "run",
          "--rm",
          "links:2",
          "sh",
          "-c",
          "readlink /lnk; readlink /usr/abs; ls /usr/local/real; cmp /etc/passwd /from-image && echo same; stat -c %h /hl/g2; stat -c %a /chm",
        ]),
        "usr/local/real\n/usr/local\nf\nf2\nsame\n2\n750\n",
      );
    });
  },
);

Deno.test(
  "build: a RUN that fills the disk (a size-capped data root), or a layer the disk cannot hold, fails in one line and leaves no image, container, temp or use file",
  OPTS,
  async () => {
    const roots = await makeRoots();
    const rootfs = await busyboxRootfs();
    const work = await Deno.makeTempDir({ prefix: "berth-build-full-" });
    Deno.mkdirSync(roots.dataRoot, { recursive: true, mode: 0o700 });
    const mount = (args: string[]) => new Deno.Command("mount", { args }).outputSync();
    assert(mount(["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", roots.dataRoot]).success);
    try {
      const tar = join(work, "busybox.tar");
      await new Deno.Command("tar", { args: ["-C", rootfs, "-cf", tar, "."] }).output();
      await berthOk(roots, ["import", tar, BASE]);
      const ctx = join(work, "ctx");
      const leftovers = async (what: string) => {
        assertEquals(await berthOk(roots, ["ps", "-a", "-q"]), "", what);
        for (const d of ["tmp", "builds"]) assertEquals(storeDir(roots, d), [], `${what}: ${d}`);
        const listed = JSON.parse(await berthOk(roots, ["images", "--format", "json"]));
        assertEquals(listed.length, 1, what);
      };
      // The RUN itself hits the limit: it fails, as a RUN that exits 1.
      write(ctx, { "Containerfile": `FROM ${BASE}\nRUN dd if=/dev/zero of=/big bs=1M count=64\n` });
      const r = await berth(roots, ["build", "-t", "full:1", ctx]);
      assertEquals(r.code, 1, r.stderr);
      assert(/^berth: Containerfile:2: RUN .* exited with 1\n$/.test(r.stderr), r.stderr);
      await leftovers("RUN");
      // The RUN fits, its layer (blob and unpacked copy) does not.
      write(ctx, {
        "Containerfile": `FROM ${BASE}\nRUN head -c 6000000 /dev/urandom > /big\n`,
      });
      const c = await berth(roots, ["build", "-t", "full:2", ctx]);
      assertEquals(c.code, 1, c.stderr);
      assert(/^berth: Containerfile:2: RUN: .*No space left on device/.test(c.stderr), c.stderr);
      assertEquals(c.stderr.trim().split("\n").length, 1, c.stderr);
      await leftovers("commit");
      await berthOk(roots, ["gc"]);
      await leftovers("after gc");
    } finally {
      await cleanup(roots);
      new Deno.Command("umount", { args: ["-l", roots.dataRoot] }).outputSync();
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "crashes: a build SIGKILLed at random instants leaves, after gc, no container, temp or use file, and either its image whole or none",
  OPTS,
  async () => {
    await withBase(async ({ roots, ctx }) => {
      write(ctx, {
        "Containerfile":
          `FROM ${BASE}\nCOPY f /f\nRUN echo one > /one\nENV X=1\nRUN echo two > /two\n`,
        "f": "f\n",
      });
      const [exe, ...pre] = berthArgv();
      for (let i = 0; i < 8; i++) {
        const child = new Deno.Command(exe!, {
          args: [...pre, "build", "-q", "--no-cache", "-t", "rk:1", ctx],
          env: roots.env,
          stdout: "null",
          stderr: "null",
        }).spawn();
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 1500));
        try {
          child.kill("SIGKILL");
        } catch { /* it finished */ }
        await child.status;
        await berthOk(roots, ["gc"]);
        assertEquals(await berthOk(roots, ["ps", "-a", "-q"]), "", `round ${i}`);
        for (const d of ["tmp", "builds"]) assertEquals(storeDir(roots, d), [], `round ${i}: ${d}`);
        // Named only once whole (never pulled: the check runs with --pull never).
        const inspect = await berth(roots, ["image", "inspect", "rk:1"]);
        if (inspect.code === 0) {
          const r = await berthOk(roots, [
            "run",
            "--rm",
            "--pull",
            "never",
            "rk:1",
            "cat",
            "/f",
            "/one",
            "/two",
          ]);
          assertEquals(r, "f\none\ntwo\n");
          await berthOk(roots, ["rmi", "rk:1"]);
        } else assertEquals(inspect.code, 3, inspect.stderr);
      }
    });
  },
);

Deno.test(
  "build: an image made by umoci and pushed by skopeo, built FROM by berth and pushed, keeps its layers' digests under berth's",
  { ...OPTS, ignore: !haveRegistryTools() },
  async () => {
    const roots = await makeRoots();
    const rootfs = await busyboxRootfs();
    const work = await Deno.makeTempDir({ prefix: "berth-build-umoci-" });
    const reg = await startRegistry();
    try {
      const layout = join(work, "layout");
      await run("umoci", ["init", "--layout", layout]);
      await run("umoci", ["new", "--image", `${layout}:base`]);
      await run("umoci", ["insert", "--image", `${layout}:base`, rootfs, "/"]);
      await run("skopeo", [
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        `oci:${layout}:base`,
        `docker://${reg.host}/umoci-base:1`,
      ]);
      const inspect = async (ref: string) =>
        JSON.parse(
          await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]),
        );
      const base = await inspect(`${reg.host}/umoci-base:1`);
      const ctx = join(work, "ctx");
      write(ctx, { "Containerfile": `FROM ${reg.host}/umoci-base:1\nRUN echo on top > /top\n` });
      await berthOk(roots, ["build", "-q", "-t", `${reg.host}/built:1`, ctx]);
      await berthOk(roots, ["push", "-q", `${reg.host}/built:1`]);
      const built = await inspect(`${reg.host}/built:1`);
      const digests = (m: { layers: { digest: string }[] }) => m.layers.map((l) => l.digest);
      assertEquals(digests(built).slice(0, base.layers.length), digests(base));
      assertEquals(digests(built).length, base.layers.length + 1);
      assertEquals(
        await berthOk(roots, ["run", "--rm", `${reg.host}/built:1`, "cat", "/top"]),
        "on top\n",
      );
    } finally {
      await cleanup(roots);
      await reg.stop();
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "build: a RUN whose command cannot be found fails the build in one line and leaves no container (not even a created one)",
  OPTS,
  async () => {
    await withBase(async ({ roots, ctx }) => {
      write(ctx, { "Containerfile": `FROM ${BASE}\nRUN ["/no/such/command"]\n` });
      const r = await berth(roots, ["build", "-q", ctx]);
      assert(r.code !== 0, r.stdout);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(r.stderr.includes("Containerfile:2"), r.stderr);
      // Without gc: the failed step's container went with the build.
      assertEquals(await berthOk(roots, ["ps", "-a", "-q"]), "");
      assertEquals(storeDir(roots, "builds"), []);
    });
  },
);
