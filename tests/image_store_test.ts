// The image store's records: names move between images, rmi is refused
// while a container uses an image, and prune removes exactly what nothing
// references (never a layer a kept image lists or a pull holds locked).

import { join } from "../lib/_std/path.ts";
import { InvalidArgument, WrongState } from "../lib/host/errors.ts";
import { FileLock } from "../lib/host/lock.ts";
import { type ImageRecord, ImageStore } from "../lib/image/_store.ts";
import { assertEquals, assertRejects, assertThrows } from "./assert.ts";

const d = (c: string) => `sha256:${c.repeat(64)}`;

function layer(store: ImageStore, c: string) {
  Deno.mkdirSync(store.layerDir(d(c)), { recursive: true });
  return {
    diffId: d(c),
    digest: d(c),
    size: 1,
    mediaType: "application/vnd.oci.image.layer.v1.tar",
  };
}

function record(store: ImageStore, id: string, names: string[], layers: string[]): ImageRecord {
  return {
    id: d(id),
    manifestDigest: d(id === "a" ? "m" : "n"),
    names,
    layers: layers.map((l) => layer(store, l)),
    created: null,
    size: 1,
  };
}

async function withStore(fn: (s: ImageStore) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "berth-store-" });
  try {
    const s = new ImageStore(join(dir, "image"));
    s.init();
    await fn(s);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const never = () => Promise.resolve(false);
const layerNames = (s: ImageStore) =>
  [...Deno.readDirSync(join(s.dir, "layers"))].map((e) => e.name).sort();

Deno.test("a name belongs to one image: adding or tagging moves it", async () => {
  await withStore(async (s) => {
    await s.add(record(s, "a", ["r.io/x:1"], ["1"]));
    await s.add(record(s, "b", ["r.io/x:1"], ["1", "2"]));
    assertEquals(s.get("r.io/x:1").id, d("b"));
    assertEquals(s.find(d("a"))!.names, []);
    await s.tag(d("a").slice(7, 19), "r.io/x:1");
    assertEquals(s.get("r.io/x:1").id, d("a"));
    assertEquals(s.find("r.io/x"), null, "r.io/x is r.io/x:latest, which nothing is named");
    await s.add({ ...record(s, "a", [], ["1"]), id: `sha256:aaaa${"c".repeat(60)}` });
    assertThrows(() => s.find("aaaa"), InvalidArgument, "ambiguous");
    assertEquals(s.find("aaaac")!.id, `sha256:aaaa${"c".repeat(60)}`);
  });
});

Deno.test("rmi is refused while a container uses the image (checked for all names first); -f untags", async () => {
  await withStore(async (s) => {
    await s.add(record(s, "a", ["r.io/x:1", "r.io/x:2"], ["1"]));
    await s.takeUse("default", "c1", d("a"));
    await assertRejects(
      () => s.remove(["r.io/x:1", "r.io/x:2"], false, never),
      WrongState,
      "default/c1",
    );
    assertEquals(
      s.get(d("a")).names,
      ["r.io/x:1", "r.io/x:2"],
      "nothing untagged by a refused rmi",
    );
    await s.remove(["r.io/x:1"], false, never); // one name left: fine
    assertEquals(await s.remove(["r.io/x:2"], true, never), ["Untagged: r.io/x:2"]);
    await s.prune(never);
    assertEquals(layerNames(s), ["1".repeat(64)], "used: kept");
    await s.prune(() => Promise.resolve(true)); // the container is gone
    assertEquals(layerNames(s), []);
    assertEquals(s.list(), []);
  });
});

Deno.test("prune keeps layers of kept images and layers a pull holds locked", async () => {
  await withStore(async (s) => {
    await s.add(record(s, "a", ["r.io/x:1"], ["1", "2"]));
    layer(s, "3"); // committed by a pull that holds its lock
    layer(s, "4"); // left by a pull that died
    const lock = await FileLock.acquire(s.layerLock(d("3")), "layer");
    try {
      const removed = await s.prune(never);
      assertEquals(removed, [`layer ${d("4")}`]);
      assertEquals(layerNames(s), ["1", "2", "3"].map((c) => c.repeat(64)));
    } finally {
      lock.release();
    }
    await s.remove(["r.io/x:1"], false, never);
    await s.prune(never);
    assertEquals(layerNames(s), []);
  });
});

Deno.test("layers are found by chain ID; a record without one (written before) by diff_id; prune keeps both while the image is kept", async () => {
  await withStore(async (s) => {
    const chained = { ...layer(s, "1"), chainId: d("1") };
    Deno.mkdirSync(s.layerDir(d("9")), { recursive: true }); // layer 2's chain ID
    const upper = { ...layer(s, "2"), chainId: d("9") }; // and its old diff_id directory
    await s.add({ ...record(s, "a", ["r.io/x:1"], []), layers: [chained, upper] });
    await s.add(record(s, "b", ["r.io/y:1"], ["3"])); // an old record: no chainId
    layer(s, "4"); // referenced by nothing
    await s.takeUse("default", "c1", d("b"));
    assertEquals(await s.prune(never), [`layer ${d("4")}`]);
    assertEquals(layerNames(s), [d("1"), d("2"), d("3"), d("9")].map((x) => x.slice(7)));
    Deno.removeSync(s.layerDir(d("9")), { recursive: true });
    await assertRejects(() => s.takeUse("default", "c2", d("a")), Error, "removed meanwhile");
  });
});

Deno.test("prune keeps the layer blobs of kept images and removes those of removed ones", async () => {
  await withStore(async (s) => {
    const rec = record(s, "a", ["r.io/x:1"], ["1"]);
    rec.layers[0]!.digest = d("9"); // the compressed blob's digest, not the diff_id
    await s.add(rec);
    await s.writeBlob(d("9"), new Uint8Array([1]));
    await s.writeBlob(d("8"), new Uint8Array([2])); // no image lists it
    assertEquals(await s.prune(never), [`blob ${"8".repeat(64)}`]);
    assertEquals(s.hasBlob(d("9")), true);
    await s.remove(["r.io/x:1"], false, never);
    assertEquals(s.hasBlob(d("9")), false);
  });
});

Deno.test("prune removes no unlisted blob while a pull holds a layer lock (its record is not written yet)", async () => {
  await withStore(async (s) => {
    await s.writeBlob(d("7"), new Uint8Array([1])); // a layer blob a pull has just published
    const lock = await FileLock.acquire(s.layerLock(d("3")), "layer");
    try {
      assertEquals(await s.prune(never), []);
      assertEquals(s.hasBlob(d("7")), true);
    } finally {
      lock.release();
    }
    assertEquals(await s.prune(never), [`blob ${"7".repeat(64)}`]);
  });
});

Deno.test("build cache entries: gc's prune keeps them, a cache prune removes them; a running build's use keeps its images from rmi and prune until its process is gone", async () => {
  await withStore(async (s) => {
    await s.add({ ...record(s, "a", [], ["1"]), cacheKeys: [d("k")] }); // a cache entry
    await s.add(record(s, "b", ["r.io/base:1"], ["2"])); // a build's base
    await s.add({ ...record(s, "c", [], ["3"]), cacheKeys: [d("j")] }); // a build's step
    await s.prune(never); // gc
    assertEquals(s.list().map((r) => r.id).sort(), [d("a"), d("b"), d("c")]);
    // A live build (this process) uses b and c.
    await s.takeBuildUse("t1", [d("b"), d("c")]);
    await assertRejects(
      () => s.remove(["r.io/base:1"], false, never),
      WrongState,
      "in use by build",
    );
    await s.prune(never, false, true); // image prune: the cache too
    assertEquals(s.list().map((r) => r.id).sort(), [d("b"), d("c")]);
    assertEquals(layerNames(s), ["2".repeat(64), "3".repeat(64)]);
    await assertRejects(() => s.takeBuildUse("t1", [d("a")]), Error, "removed meanwhile");
    // A build whose process is gone: its use file goes, and so do its unnamed steps.
    const dead = new Deno.Command("true").spawn();
    const pid = dead.pid;
    await dead.status;
    Deno.writeTextFileSync(
      s.buildUsePath("t1"),
      JSON.stringify({ pid, startTime: null, images: [d("b"), d("c")] }),
    );
    assertEquals([...s.buildUses().keys()], []);
    await s.prune(never, false, true);
    assertEquals(s.list().map((r) => r.id), [d("b")]);
    assertEquals([...Deno.readDirSync(join(s.dir, "builds"))].length, 0);
    // The names a step's image gets later keep it; cache keys merge.
    await s.add({ ...record(s, "b", [], ["2"]), cacheKeys: [d("x")] });
    assertEquals(s.get("r.io/base:1").cacheKeys, [d("x")]);
  });
});
