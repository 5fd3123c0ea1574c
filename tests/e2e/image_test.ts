// Images end to end against a real registry (docker-registry on loopback,
// images pushed with skopeo): pull, run --image, sharing, concurrency,
// verification, hostile layers, archives, references, auth, crashes.

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue as assert } from "../assert.ts";

function assertMatch(text: string, re: RegExp, msg?: string): void {
  assert(re.test(text), msg ?? `${JSON.stringify(text)} does not match ${re}`);
}
import {
  berth,
  berthIn,
  berthOk,
  busyboxRootfs,
  cleanup,
  makeRoots,
  type Roots,
  stateOf,
} from "../helpers.ts";
import {
  busyboxLayer,
  dockerArchive,
  type ImageSpec,
  tarOf,
  tarOfTree,
  writeOciIndex,
  writeOciLayout,
  type Written,
} from "../image_fixture.ts";
import {
  blobFile,
  countGets,
  haveRegistryTools,
  push,
  type Registry,
  startRegistry,
  tokenProxy,
} from "../image_registry.ts";
import { getXattrText } from "../xattr.ts";

const ready = haveRegistryTools();
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

interface Env {
  roots: Roots;
  reg: Registry;
  rootfs: string;
  /** Writes `spec` as an OCI layout and pushes it as `name:tag`; returns the reference. */
  publish(name: string, tag: string, spec: ImageSpec): Promise<{ ref: string } & Written>;
  store: string;
}

async function withImages(fn: (e: Env) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "berth-oci-" });
  let n = 0;
  try {
    await fn({
      roots,
      reg,
      rootfs,
      store: join(roots.dataRoot, "image"),
      async publish(name, tag, spec) {
        const layout = join(work, `layout${n++}`);
        const w = await writeOciLayout(layout, tag, spec);
        const ref = `${reg.host}/${name}:${tag}`;
        await push(layout, tag, ref);
        return { ref, ...w };
      },
    });
  } finally {
    await cleanup(roots);
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

let bbLayer: Uint8Array | null = null;
function base(rootfs: string): Uint8Array {
  return (bbLayer ??= busyboxLayer(rootfs));
}

/** Incompressible bytes. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** The store holds no image, layer, blob or partial download. */
function assertEmptyStore(store: string): void {
  for (const d of ["images", "layers", "blobs", "tmp", "locks"]) {
    assertEquals(names(join(store, d)), [], `${d}/ is not empty`);
  }
}

Deno.test(
  "pull, then run with the image's defaults (Entrypoint, Cmd, Env, WorkingDir, User); -e and -- CMD win",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish, store }) => {
      const img = await publish("app", "1", {
        layers: [
          base(rootfs),
          tarOf([{ name: "srv/", type: "dir" }, { name: "srv/hello", data: "hi\n" }]),
        ],
        config: {
          Entrypoint: ["sh", "-c"],
          Cmd: ["echo cmd $GREETING $(pwd) $(id -u):$(id -g)"],
          Env: ["PATH=/bin", "GREETING=hello"],
          WorkingDir: "/srv",
          User: "nobody",
          StopSignal: "SIGQUIT",
        },
      });
      const id = (await berthOk(roots, ["pull", "-q", img.ref])).trim();
      assertEquals(id, img.configDigest);
      const ls = await berthOk(roots, ["images"]);
      assertMatch(
        ls,
        new RegExp(`${img.ref.split(":1")[0]}\\s+1\\s+${img.configDigest.slice(7, 19)}`),
      );
      const r = await berth(roots, ["run", "--rm", "--image", img.ref, "c1"]);
      assertEquals(r.stdout, "cmd hello /srv 65534:65534\n", r.stderr);
      const r2 = await berth(roots, [
        "run",
        "--rm",
        "-e",
        "GREETING=bye",
        "--image",
        img.ref,
        "c2",
        "--",
        "echo $GREETING; cat hello",
      ]);
      assertEquals(r2.stdout, "bye\nhi\n", r2.stderr);
      // state and list carry the image; the stop signal is in the config.
      await berthOk(roots, ["create", "--image", img.ref, "c3"]);
      const st = await stateOf(roots, "c3");
      assertEquals(st.image, { ref: img.ref, id: img.configDigest });
      const list = JSON.parse(await berthOk(roots, ["list", "--format", "json"]));
      assertEquals(list[0].image, { ref: img.ref, id: img.configDigest });
      const cfg = JSON.parse(Deno.readTextFileSync(join(st.bundle as string, "config.json")));
      assertEquals(cfg.annotations["org.opencontainers.image.stopSignal"], "SIGQUIT");
      assert(cfg.process.capabilities.bounding.includes("CAP_CHOWN"));
      assert(
        !cfg.process.capabilities.bounding.includes("CAP_NET_RAW"),
        "podman's default list has no NET_RAW",
      );
      // The layers are shared read-only: the container's writes stay in its upper dir.
      await berthOk(roots, ["start", "c3"]);
      await berthOk(roots, ["delete", "-f", "c3"]);
      assertEquals(names(join(store, "layers")).length, 2);
      // A rootfs container has no image.
      await berthOk(roots, ["create", "--rootfs", rootfs, "c4", "--", "true"]);
      assertEquals((await stateOf(roots, "c4")).image, null);
    });
  },
);

Deno.test("whiteouts and opaque directories are honoured", OPTS, async () => {
  await withImages(async ({ roots, rootfs, publish, store }) => {
    const img = await publish("wh", "1", {
      layers: [
        base(rootfs),
        tarOf([
          { name: "data/", type: "dir" },
          { name: "data/a", data: "a" },
          { name: "data/b", data: "b" },
          { name: "old/", type: "dir" },
          { name: "old/x", data: "x" },
          { name: "old/sub/", type: "dir" },
          { name: "old/sub/y", data: "y" },
        ]),
        tarOf([
          { name: "data/", type: "dir" },
          { name: "data/.wh.a", data: "" },
          { name: "old/", type: "dir" },
          { name: "old/.wh..wh..opq", data: "" },
          { name: "old/new", data: "n" },
        ]),
      ],
    });
    const r = await berth(roots, [
      "run",
      "--rm",
      "--image",
      img.ref,
      "c1",
      "--",
      "sh",
      "-c",
      "ls /data; echo --; ls -R /old",
    ]);
    assertEquals(r.stdout, "b\n--\n/old:\nnew\n", r.stderr);
    // In the store the whiteout is a 0/0 character device.
    const top = join(store, "layers", img.chainIds[2]!.slice(7));
    const st = Deno.lstatSync(join(top, "data", "a"));
    assert(st.isCharDevice, "whiteout is a character device");
    assertEquals(st.rdev, 0);
    assertEquals(names(join(top, "data")), ["a"]);
  });
});

Deno.test(
  "a layer's extended attributes (GNU tar --xattrs) are kept, and seen in the container's root",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish, store }) => {
      const src = await Deno.makeTempDir({ prefix: "berth-xattr-" });
      try {
        Deno.writeTextFileSync(join(src, "tagged"), "t");
        const { unpackCalls } = await import("../../lib/image/_ffi.ts");
        unpackCalls.setXattr(join(src, "tagged"), "user.berth.test", "kept");
        const tar = new Deno.Command("tar", {
          args: [
            "--xattrs",
            "--xattrs-include=user.*",
            "--format=posix",
            "-C",
            src,
            "-cf",
            "-",
            "tagged",
          ],
          stdout: "piped",
        }).outputSync();
        assert(tar.success, "GNU tar");
        const img = await publish("xa", "1", { layers: [base(rootfs), tar.stdout] });
        await berthOk(roots, ["run", "-d", "--image", img.ref, "c1", "--", "sleep", "60"]);
        const layer = join(store, "layers", img.chainIds[1]!.slice(7));
        assertEquals(getXattrText(join(layer, "tagged"), "user.berth.test"), "kept");
        // Through the container's overlay root.
        const root = (await stateOf(roots, "c1")).rootfs as string;
        assertEquals(getXattrText(join(root, "tagged"), "user.berth.test"), "kept");
        assertEquals((await berth(roots, ["exec", "c1", "--", "cat", "/tagged"])).stdout, "t");
      } finally {
        await Deno.remove(src, { recursive: true });
      }
    });
  },
);

Deno.test("two images and two containers sharing a layer use one copy of it", OPTS, async () => {
  await withImages(async ({ roots, rootfs, publish, store }) => {
    const a = await publish("a", "1", {
      layers: [base(rootfs), tarOf([{ name: "a", data: "A" }])],
    });
    const b = await publish("b", "1", {
      layers: [base(rootfs), tarOf([{ name: "b", data: "B" }])],
    });
    await berthOk(roots, ["pull", "-q", a.ref]);
    await berthOk(roots, ["pull", "-q", b.ref]);
    assertEquals(
      names(join(store, "layers")),
      [a.chainIds[0]!, a.chainIds[1]!, b.chainIds[1]!].map((d) => d.slice(7)).sort(),
    );
    await berthOk(roots, ["run", "-d", "--image", a.ref, "c1", "--", "sleep", "60"]);
    await berthOk(roots, ["run", "-d", "--image", b.ref, "c2", "--", "sleep", "60"]);
    assertEquals((await berth(roots, ["exec", "c1", "--", "cat", "/a"])).stdout, "A");
    assertEquals((await berth(roots, ["exec", "c2", "--", "cat", "/b"])).stdout, "B");
    const mounts = Deno.readTextFileSync("/proc/self/mountinfo");
    const shared = join(store, "layers", a.chainIds[0]!.slice(7));
    assertEquals(names(join(store, "layers")).length, 3);
    assert(mounts.includes("overlay"), "overlay mounted");
    // A write in one container does not reach the shared layer or the other container.
    await berthOk(roots, ["exec", "c1", "--", "sh", "-c", "echo changed > /etc/passwd"]);
    assert(!Deno.readTextFileSync(join(shared, "etc", "passwd")).includes("changed"));
    assert(
      !(await berth(roots, ["exec", "c2", "--", "cat", "/etc/passwd"])).stdout.includes("changed"),
    );
  });
});

Deno.test(
  "four concurrent pulls of one image all succeed and fetch each layer once",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish, reg }) => {
      const layers = [base(rootfs)];
      for (let i = 0; i < 4; i++) {
        layers.push(tarOf([{ name: `f${i}`, data: noise(200_000) }]));
      }
      const img = await publish("multi", "1", { layers });
      const before = reg.log();
      const results = await Promise.all(
        [0, 1, 2, 3].map(() => berth(roots, ["pull", "-q", img.ref])),
      );
      for (const r of results) {
        assertEquals([r.code, r.stdout.trim()], [0, img.configDigest], r.stderr);
      }
      // The access log is written asynchronously: wait for the four config fetches.
      let log = "";
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        log = reg.log().slice(before.length);
        if (countGets(log, `/v2/multi/blobs/${img.configDigest}`) >= 4) {
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assertEquals(countGets(log, `/v2/multi/blobs/${img.configDigest}`), 4, log);
      for (const d of img.layerDigests) {
        assertEquals(
          countGets(log, `/v2/multi/blobs/${d}`),
          1,
          `layer ${d} fetched once: ${
            log.split("\n").filter((l) => l.includes("blobs")).join("\n")
          }`,
        );
      }
      const ls = JSON.parse(await berthOk(roots, ["images", "--format", "json"]));
      assertEquals(ls.length, 1);
    });
  },
);

Deno.test(
  "a corrupted blob fails the pull (exit 1) and stores nothing; a missing tag exits 1",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish, reg, store }) => {
      const img = await publish("bad", "1", {
        layers: [base(rootfs), tarOf([{ name: "x", data: "x".repeat(5000) }])],
      });
      const file = blobFile(reg.storage, img.layerDigests[1]!);
      const bytes = Deno.readFileSync(file);
      bytes[bytes.length - 12] = bytes[bytes.length - 12]! ^ 0xff; // same size, other bytes
      Deno.writeFileSync(file, bytes);
      const r = await berth(roots, ["pull", "-q", img.ref]);
      assertEquals(r.code, 1, r.stderr);
      assertMatch(r.stderr, /^berth: .*(digest|unpack|crc|gzip|invalid).*\n$/i);
      assertEquals(await berthOk(roots, ["images", "-q"]), "");
      // The good base layer may be committed (it verified) but nothing names it; prune clears it.
      assert(!names(join(store, "layers")).includes(img.chainIds[1]!.slice(7)));
      assertEquals(names(join(store, "tmp")), []);
      await berthOk(roots, ["image", "prune"]);
      assertEmptyStore(store);
      const missing = await berth(roots, ["pull", "-q", `${reg.host}/bad:nope`]);
      assertEquals(missing.code, 1);
      assertMatch(missing.stderr, /manifest unknown/);
      const run = await berth(roots, ["run", "--rm", "--image", `${reg.host}/nothere:1`, "c1"]);
      assertEquals(run.code, 1);
      assertEquals(names(join(roots.root, "ns", "default", "containers")), []);
      const never = await berth(roots, [
        "run",
        "--rm",
        "--pull",
        "never",
        "--image",
        `${reg.host}/bad:1`,
        "c1",
      ]);
      assertEquals(never.code, 3, never.stderr);
    });
  },
);

Deno.test("bad references and options exit 2 before anything is touched", OPTS, async () => {
  const roots = await makeRoots();
  try {
    for (
      const ref of [
        "UPPER/x",
        "x@sha256:123",
        "x:",
        "a//b",
        "-x",
        "x:bad tag",
        "127.0.0.1:99999999/x",
        "",
      ]
    ) {
      const r = await berth(roots, ["pull", ref]);
      assertEquals(r.code, 2, `${ref}: ${r.stderr}`);
      assertMatch(r.stderr, /^berth: .*\n$/);
    }
    assertEquals((await berth(roots, ["run", "--image", "Bad", "c1"])).code, 2);
    assertEquals(
      (await berth(roots, ["run", "--image", "x", "--pull", "sometimes", "c1"])).code,
      2,
    );
    assertEquals((await berth(roots, ["pull", "--platform", "linux", "busybox"])).code, 2);
    assertEquals((await berth(roots, ["tag", "a", "B"])).code, 2);
    assertEquals((await berth(roots, ["rmi", "nothere"])).code, 3);
    assertEquals((await berth(roots, ["load", "-i", "/nonexistent"])).code, 2);
    assertEquals(names(roots.dataRoot).filter((n) => n !== "image"), []);
  } finally {
    await cleanup(roots);
  }
});

Deno.test("docker-archive, OCI archive and OCI layout loads", OPTS, async () => {
  await withImages(async ({ roots, rootfs, store }) => {
    const dir = await Deno.makeTempDir({ prefix: "berth-load-" });
    try {
      const spec = (tag: string): ImageSpec => ({
        layers: [base(rootfs), tarOf([{ name: "which", data: tag }])],
        config: { Cmd: ["cat", "/which"] },
      });
      await Deno.writeFile(
        join(dir, "docker.tar"),
        await dockerArchive("example.com/dock:1", spec("docker")),
      );
      const layout = join(dir, "layout");
      await writeOciLayout(layout, "example.com/oci:1", spec("oci-dir"));
      const layout2 = join(dir, "layout2");
      await writeOciLayout(layout2, "example.com/ociarch:1", {
        ...spec("oci-tar"),
        compression: "none",
      });
      await Deno.writeFile(join(dir, "oci.tar"), tarOfTree(layout2));
      assertMatch(
        await berthOk(roots, ["load", "-q", "-i", join(dir, "docker.tar")]),
        /Loaded image: example.com\/dock:1/,
      );
      assertMatch(
        await berthOk(roots, ["load", "-q", "-i", layout]),
        /Loaded image: example.com\/oci:1/,
      );
      assertMatch(
        await berthOk(roots, ["load", "-q", "-i", join(dir, "oci.tar")]),
        /Loaded image: example.com\/ociarch:1/,
      );
      for (
        const [ref, want] of [["example.com/dock:1", "docker"], ["example.com/oci:1", "oci-dir"], [
          "example.com/ociarch:1",
          "oci-tar",
        ]]
      ) {
        const r = await berth(roots, ["run", "--rm", "--pull", "never", "--image", ref!, "c1"]);
        assertEquals(r.stdout, want, r.stderr);
      }
      // The busybox base is stored once for all three.
      assertEquals(names(join(store, "layers")).length, 4);
      assertEquals(names(join(store, "tmp")), []);
      // A malformed archive: exit 2, nothing stored.
      await Deno.writeFile(join(dir, "junk.tar"), tarOf([{ name: "hello", data: "x" }]));
      assertEquals((await berth(roots, ["load", "-i", join(dir, "junk.tar")])).code, 2);
      assertEquals(names(join(store, "tmp")), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("hostile layers write nothing outside the store", OPTS, async () => {
  await withImages(async ({ roots, rootfs, publish, store }) => {
    const outside = await Deno.makeTempDir({ prefix: "berth-outside-" });
    const victim = join(outside, "victim");
    Deno.writeTextFileSync(victim, "original");
    const escape = `../../../../../../../../../..${outside}/escaped`;
    try {
      const img = await publish("evil", "1", {
        layers: [
          base(rootfs),
          tarOf([
            { name: escape, data: "x" },
            { name: `${outside}/absolute`, data: "x" },
            { name: "link", type: "symlink", linkname: outside },
            { name: "link/through-symlink", data: "x" },
            { name: "link2", type: "symlink", linkname: victim },
            { name: "link2", data: "overwritten" },
            { name: "hard", type: "hardlink", linkname: victim },
            { name: "hard2", type: "hardlink", linkname: "../../../../../../../../etc/passwd" },
            { name: "dev-sda", type: "block", devmajor: 8, devminor: 0 },
            { name: "dev-mem", type: "char", devmajor: 1, devminor: 1 },
            { name: "fifo", type: "fifo" },
          ]),
        ],
      });
      await berth(roots, ["pull", "-q", img.ref]);
      assertEquals(names(outside), ["victim"]);
      assertEquals(Deno.readTextFileSync(victim), "original");
      const passwd = Deno.statSync("/etc/passwd");
      assertEquals(passwd.nlink, 1, "no hard link to a host file");
      const layer = join(store, "layers", img.chainIds[1]!.slice(7));
      for (const n of names(layer)) {
        const st = Deno.lstatSync(join(layer, n));
        assert(!st.isBlockDevice && !(st.isCharDevice && st.rdev !== 0), `${n} is a device node`);
        if (st.isFile) assert(st.ino !== Deno.statSync(victim).ino, `${n} links to a host file`);
      }
      assertEquals(Deno.statSync(victim).nlink, 1);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test(
  "rmi is refused while a container uses the image, -f only untags; prune then empties the store",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish, store }) => {
      const img = await publish("used", "1", { layers: [base(rootfs)] });
      await berthOk(roots, ["pull", "-q", img.ref]);
      await berthOk(roots, ["tag", img.ref, "example.com/other:2"]);
      await berthOk(roots, ["create", "--image", img.ref, "c1", "--", "true"]);
      const r = await berth(roots, ["rmi", img.ref, "example.com/other:2"]);
      assertEquals(r.code, 5, r.stderr);
      assertMatch(r.stderr, /in use by container default\/c1/);
      assertMatch(await berthOk(roots, ["rmi", "-f", img.ref, "example.com/other:2"]), /Untagged/);
      assertEquals((await berthOk(roots, ["images", "-q"])).trim(), img.configDigest.slice(7, 19));
      await berthOk(roots, ["image", "prune"]);
      assertEquals(names(join(store, "layers")).length, 1, "a layer in use is never removed");
      const run = await berth(roots, ["start", "c1"]);
      assertEquals(run.code, 0, run.stderr);
      await berthOk(roots, ["delete", "-f", "c1"]);
      await berthOk(roots, ["image", "prune"]);
      assertEmptyStore(store);
      // rmi of an unused image, then prune: empty.
      await berthOk(roots, ["pull", "-q", img.ref]);
      assertMatch(await berthOk(roots, ["rmi", img.ref]), /Deleted: sha256:/);
      await berthOk(roots, ["image", "prune"]);
      assertEmptyStore(store);
    });
  },
);

Deno.test(
  "an image with 60 layers runs (the overlay's lower dirs fit the mount options)",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish }) => {
      const layers = [base(rootfs)];
      for (let i = 0; i < 59; i++) layers.push(tarOf([{ name: `l${i}`, data: String(i) }]));
      const img = await publish("tall", "1", {
        layers,
        config: { Cmd: ["sh", "-c", "cat /l0 /l58; ls / | grep -c '^l'"] },
      });
      const r = await berth(roots, ["run", "--rm", "--image", img.ref, "c1"]);
      assertEquals([r.code, r.stdout], [0, "05859\n"], r.stderr);
    });
  },
);

Deno.test(
  "token auth: login stores credentials (0600), pull gets a Bearer token; logout forgets them",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish, reg }) => {
      const img = await publish("private", "1", { layers: [base(rootfs)] });
      const proxy = tokenProxy(reg.host, "alice", "s3cret");
      try {
        const ref = `${proxy.host}/private:1`;
        const anon = await berth(roots, ["pull", "-q", ref]);
        assertEquals(anon.code, 1, anon.stderr);
        const out = await berthIn(
          roots,
          ["login", "-u", "alice", "--password-stdin", proxy.host],
          "s3cret\n",
        );
        assertEquals(out.code, 0, out.stderr);
        const auth = join(roots.dataRoot, "auth.json");
        assertEquals(Deno.statSync(auth).mode! & 0o777, 0o600);
        assertEquals((await berthOk(roots, ["pull", "-q", ref])).trim(), img.configDigest);
        assert(proxy.tokensIssued() >= 2);
        await berthOk(roots, ["logout", proxy.host]);
        assertEquals(JSON.parse(Deno.readTextFileSync(auth)).auths, {});
        assertEquals((await berth(roots, ["logout", proxy.host])).code, 3);
      } finally {
        await proxy.stop();
      }
    });
  },
);

Deno.test("image prune racing creates never removes a layer in use", OPTS, async () => {
  await withImages(async ({ roots, rootfs, publish, store }) => {
    const img = await publish("race", "1", {
      layers: [base(rootfs), tarOf([{ name: "r", data: "r" }])],
    });
    await berthOk(roots, ["pull", "-q", img.ref]);
    await berthOk(roots, ["rmi", "-f", img.ref]); // unnamed: only a container's use keeps it
    // No container yet: a prune may win and remove it; creates then fail cleanly (exit 3).
    const ops = [
      ...[1, 2, 3, 4].map((i) =>
        berth(roots, [
          "create",
          "--pull",
          "never",
          "--image",
          img.configDigest,
          `c${i}`,
          "--",
          "cat",
          "/r",
        ])
      ),
      ...[1, 2].map(() => berth(roots, ["image", "prune"])),
    ];
    const results = await Promise.all(ops);
    const created = [1, 2, 3, 4].filter((_, i) => results[i]!.code === 0);
    for (const [i, r] of results.entries()) {
      if (i < 4) assert(r.code === 0 || r.code === 3 || r.code === 1, r.stderr);
      else assertEquals(r.code, 0, r.stderr);
    }
    // Whatever won, every created container has its layers and runs.
    for (const i of created) {
      const r = await berth(roots, ["start", `c${i}`]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals((await berthOk(roots, ["wait", `c${i}`])).trim(), "0");
      assertEquals(await berthOk(roots, ["logs", `c${i}`]), "r");
    }
    if (created.length > 0) assertEquals(names(join(store, "layers")).length, 2);
    await berthOk(roots, ["image", "prune"]);
    assertEquals(names(join(store, "layers")).length, created.length > 0 ? 2 : 0);
  });
});

Deno.test(
  "an index gives the host's platform (--platform another); Docker schema 2 images; an unreachable registry exits 1",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, reg, store }) => {
      const host = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
      const other = host === "amd64" ? "arm64" : "amd64";
      const layout = join(store, "..", "multi-layout");
      const w = await writeOciIndex(layout, "multi", [
        { architecture: host, spec: { layers: [base(rootfs)], config: { Cmd: ["echo", "host"] } } },
        {
          architecture: other,
          spec: { layers: [tarOf([{ name: "x", data: "x" }])], config: { Cmd: ["echo", "other"] } },
        },
      ]);
      const ref = `${reg.host}/multi:1`;
      await push(layout, "multi", ref, ["--all"]);
      assertEquals((await berthOk(roots, ["pull", "-q", ref])).trim(), w[host]!.configDigest);
      assertEquals((await berth(roots, ["run", "--rm", "--image", ref, "c1"])).stdout, "host\n");
      assertEquals(
        (await berthOk(roots, ["pull", "-q", "--platform", `linux/${other}`, ref])).trim(),
        w[other]!.configDigest,
      );
      const none = await berth(roots, ["pull", "-q", "--platform", "linux/s390x", ref]);
      assertEquals(none.code, 1);
      assertMatch(none.stderr, /no image for platform linux\/s390x/);
      // The same image pushed as Docker schema 2 (Docker media types).
      await push(layout, "multi", `${reg.host}/docker:1`, [
        "--format",
        "v2s2",
        "--override-arch",
        host,
      ]);
      const m = await fetch(`http://${reg.host}/v2/docker/manifests/1`, {
        headers: { accept: "application/vnd.docker.distribution.manifest.v2+json" },
      });
      const mj = await m.json();
      assertEquals(mj.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
      assertEquals(mj.layers[0].mediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip");
      assertEquals((await berth(roots, ["image", "inspect", `${reg.host}/docker:1`])).code, 3);
      await berthOk(roots, ["pull", "-q", `${reg.host}/docker:1`]);
      const inspect = JSON.parse(
        await berthOk(roots, ["image", "inspect", `${reg.host}/docker:1`]),
      );
      assertEquals(inspect[0].Config.Cmd, ["echo", "host"]);
      assertEquals(inspect[0].Berth.config.config.Cmd, ["echo", "host"]);
      assertEquals(inspect[0].RepoTags, [`${reg.host}/docker:1`]);
      assertEquals(inspect[0].Id, inspect[0].Berth.id.slice("sha256:".length));
      assertEquals(inspect[0].RootFS.Type, "layers");
      assertEquals(
        await berthOk(roots, [
          "image",
          "inspect",
          "-f",
          "{{json .Config.Cmd}}",
          `${reg.host}/docker:1`,
        ]),
        '["echo","host"]\n',
      );
      assertEquals(
        (await berth(roots, ["run", "--rm", "--image", `${reg.host}/docker:1`, "c2"])).stdout,
        "host\n",
      );
      // Nothing listens on port 1: one line, exit 1.
      const down = await berth(roots, ["pull", "-q", "127.0.0.1:1/x:1"]);
      assertEquals(down.code, 1);
      assertMatch(down.stderr, /^berth: cannot reach registry 127\.0\.0\.1:1: [^\n]*\n$/);
    });
  },
);
