/**
 * The image store under `DATA/image/`:
 *
 * ```
 * blobs/HEX            verified manifests, configs and compressed layer blobs (by their
 *                      sha256; a layer's blob as pulled or loaded, for push and save)
 * layers/HEX/          one unpacked layer, by its chain ID, shared read-only
 *                      (records written before chain IDs: by its diff_id)
 * images/HEX.json      an image record (by its config digest: the image ID)
 * uses/NS/ID           a container using an image (contains the image ID)
 * builds/PID-RAND.json a running build: its process and the images it uses (intermediate
 *                      ones included), kept from `rmi` and `prune` while that process lives
 * tmp/PID-RAND/        a layer being unpacked by berth process PID
 * tmp/PID-RAND.blob    its blob being written
 * locks/HEX.lock       a layer's lock, by the same key (held while it is fetched, until
 *                      its image is recorded)
 * store.lock           serializes record changes, container references and removal
 * ```
 *
 * Reference counting is through records: an image is kept while it has a
 * name or a container's use marker; a layer while a kept image lists it
 * or its lock is held. Nothing is counted in memory.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { writeFileAtomic } from "../host/atomic_file.ts";
import { InvalidArgument, isNotFound, NotFound, RuntimeError, WrongState } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { removeTree } from "../container/bundle.ts";
import { startTimeOf } from "../host/proc.ts";
import type { ImageConfig } from "./_manifest.ts";
import { formatReference, parseReference } from "./_reference.ts";

/** One layer of an image. */
export interface LayerRecord {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /**
   * The layer's chain ID (see `_chain_id.ts`): the directory's name. Absent
   * in records written before chain IDs, whose layers are named by diff_id.
   */
  chainId?: string;
  /** The blob's digest, size and media type as the manifest gave them. */
  digest: string;
  size: number;
  mediaType: string;
  /**
   * Bytes of the uncompressed tar (what its diff_id hashes): the layer's
   * size as podman gives it. Absent in records written before it was kept.
   */
  unpackedSize?: number;
}

/** An image: what `images` lists. */
export interface ImageRecord {
  /** `sha256:…` of the config: the image ID. */
  id: string;
  /** `sha256:…` of the manifest. */
  manifestDigest: string;
  /** Full references naming it (`docker.io/library/busybox:latest`). */
  names: string[];
  /** Bottom layer first. */
  layers: LayerRecord[];
  /** The config's `created`, or null. */
  created: string | null;
  /**
   * Sum of the layers' unpacked sizes ({@linkcode imageSize}), the same
   * whether the image was pulled, loaded or committed; in records written
   * before unpacked sizes were kept, the sum of the blob sizes.
   */
  size: number;
  /**
   * Build cache keys this image is the result of (`build`'s steps): an
   * unnamed image with keys is a cache entry, not listed by `images`, kept
   * by `gc`, removed by `image prune` and `system prune`.
   */
  cacheKeys?: string[];
  /** The result of a build (listed by `images` even unnamed, unlike a cache entry). */
  built?: boolean;
}

/** What a running build records in `builds/`. */
export interface BuildUse {
  pid: number;
  /** The process's start time (clock ticks since boot), to tell a reused pid. */
  startTime: number | null;
  /** Image IDs it uses. */
  images: string[];
}

/** True when `rec` is a build cache entry nothing names. */
export function isCacheOnly(rec: ImageRecord): boolean {
  return rec.names.length === 0 && (rec.cacheKeys?.length ?? 0) > 0 && rec.built !== true;
}

/**
 * An image's size as `images` shows it: the sum of its layers' unpacked
 * sizes (a layer without one counts its blob), computed once, when the
 * image is recorded.
 */
export function imageSize(layers: LayerRecord[]): number {
  return layers.reduce((n, l) => n + (l.unpackedSize ?? l.size), 0);
}

/** Lock wait for a layer another berth is fetching (a pull may take a while). */
export const LAYER_LOCK_TIMEOUT_MS = 15 * 60_000;
/** Lock wait for the store's record lock (held briefly). */
export const STORE_LOCK_TIMEOUT_MS = 60_000;

const hex = (digest: string) => digest.slice("sha256:".length);

/** The name a layer of an image is stored under: its chain ID (or diff_id, in an old record). */
export function layerKey(l: LayerRecord): string {
  return l.chainId ?? l.diffId;
}

/** True when process `pid` exists. */
function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function readDirNames(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** The store's paths and record operations. */
export class ImageStore {
  /** @param dir `DATA/image` */
  constructor(readonly dir: string) {}

  /** Where an unpacked layer lives, by its key ({@linkcode layerKey}). */
  layerDir(key: string): string {
    return join(this.dir, "layers", hex(key));
  }
  /** Where a manifest or config blob lives. */
  blobPath(digest: string): string {
    return join(this.dir, "blobs", hex(digest));
  }
  /** An image's record. */
  recordPath(id: string): string {
    return join(this.dir, "images", `${hex(id)}.json`);
  }
  /** A layer's lock file, by its key. */
  layerLock(key: string): string {
    return join(this.dir, "locks", `${hex(key)}.lock`);
  }
  /** Where partial layers are unpacked. */
  get tmpDir(): string {
    return join(this.dir, "tmp");
  }
  /** A container's use marker. */
  usePath(ns: string, id: string): string {
    return join(this.dir, "uses", ns, id);
  }

  /** Creates the store's directories (0700). */
  init(): void {
    for (const d of ["blobs", "layers", "images", "tmp", "locks", "uses", "builds"]) {
      Deno.mkdirSync(join(this.dir, d), { recursive: true, mode: 0o700 });
    }
  }

  /** A fresh directory under tmp/ for this process. */
  tempDir(): string {
    this.init();
    const p = join(this.tmpDir, `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
    Deno.mkdirSync(p, { mode: 0o755 });
    Deno.chmodSync(p, 0o755); // whatever berth's umask
    return p;
  }

  /** Runs `fn` holding the store lock. */
  async locked<T>(fn: () => Promise<T> | T): Promise<T> {
    this.init();
    const lock = await FileLock.acquire(join(this.dir, "store.lock"), "the image store", {
      timeoutMs: STORE_LOCK_TIMEOUT_MS,
    });
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /** True when the layer (by its key) is unpacked and committed. */
  hasLayer(key: string): boolean {
    try {
      return Deno.statSync(this.layerDir(key)).isDirectory;
    } catch {
      return false;
    }
  }

  /** True when blob `digest` is stored. */
  hasBlob(digest: string): boolean {
    try {
      return Deno.statSync(this.blobPath(digest)).isFile;
    } catch {
      return false;
    }
  }

  /** Reads a stored blob (manifest or config). */
  readBlob(digest: string): Uint8Array {
    return Deno.readFileSync(this.blobPath(digest));
  }

  /** Stores a verified small blob atomically. */
  async writeBlob(digest: string, bytes: Uint8Array): Promise<void> {
    this.init();
    await writeFileAtomic(this.blobPath(digest), bytes, { mode: 0o600 });
  }

  /** The image config of a recorded image. */
  config(rec: ImageRecord): ImageConfig {
    return JSON.parse(new TextDecoder().decode(this.readBlob(rec.id)));
  }

  /** Every image record. */
  list(): ImageRecord[] {
    const out: ImageRecord[] = [];
    for (const name of readDirNames(join(this.dir, "images"))) {
      if (!/^[a-f0-9]{64}\.json$/.test(name)) continue;
      try {
        out.push(JSON.parse(Deno.readTextFileSync(join(this.dir, "images", name))));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  }

  /** The image `text` names: a reference, an ID or a unique ID prefix; null if none. */
  find(text: string): ImageRecord | null {
    const all = this.list();
    const idText = text.startsWith("sha256:") ? text.slice(7) : text;
    if (/^[a-f0-9]{64}$/.test(idText)) {
      const r = all.find((r) => hex(r.id) === idText);
      if (r !== undefined) return r;
    }
    let name: string | null = null;
    try {
      name = formatReference(parseReference(text));
    } catch { /* not a reference: maybe an ID prefix */ }
    if (name !== null) {
      const r = all.find((r) => r.names.includes(name!));
      if (r !== undefined) return r;
    }
    if (/^[a-f0-9]{4,63}$/.test(idText)) {
      const m = all.filter((r) => hex(r.id).startsWith(idText));
      if (m.length === 1) return m[0]!;
      if (m.length > 1) {
        throw new InvalidArgument(
          `image ID prefix "${text}" is ambiguous: ${
            m.map((r) => hex(r.id).slice(0, 12)).join(", ")
          }`,
        );
      }
    }
    return null;
  }

  /** Like {@linkcode find}, NotFound (exit 3) when missing. */
  get(text: string): ImageRecord {
    const r = this.find(text);
    if (r === null) throw new NotFound(`image "${text}" not found`);
    return r;
  }

  /** Saves `rec` (the caller holds the store lock). */
  async save(rec: ImageRecord): Promise<void> {
    await writeFileAtomic(this.recordPath(rec.id), JSON.stringify(rec, null, 2) + "\n", {
      mode: 0o600,
    });
  }

  /**
   * Records `rec` (its layers must be committed; the caller holds their
   * locks) and gives it `names`, taking them from any other image.
   */
  async add(rec: ImageRecord): Promise<ImageRecord> {
    return await this.locked(async () => {
      for (const l of rec.layers) {
        if (!this.hasLayer(layerKey(l))) throw new RuntimeError(`layer ${layerKey(l)} vanished`);
      }
      const existing = this.list().find((r) => r.id === rec.id);
      const merged: ImageRecord = {
        ...rec,
        names: [...new Set([...(existing?.names ?? []), ...rec.names])],
      };
      const keys = [...new Set([...(existing?.cacheKeys ?? []), ...(rec.cacheKeys ?? [])])];
      if (keys.length > 0) merged.cacheKeys = keys;
      else delete merged.cacheKeys;
      if (existing?.built === true) merged.built = true;
      await this.#takeNames(merged.names, merged.id);
      await this.save(merged);
      return merged;
    });
  }

  async #takeNames(names: string[], keep: string): Promise<void> {
    for (const other of this.list()) {
      if (other.id === keep) continue;
      const left = other.names.filter((n) => !names.includes(n));
      if (left.length !== other.names.length) await this.save({ ...other, names: left });
    }
  }

  /** Marks image `id` as a build's result (see {@linkcode ImageRecord.built}). */
  async markBuilt(id: string): Promise<void> {
    await this.locked(async () => {
      const rec = this.get(id);
      if (rec.built !== true) await this.save({ ...rec, built: true });
    });
  }

  /** Adds name `dst` to the image `src` names (`tag`). */
  async tag(src: string, dst: string): Promise<void> {
    const name = formatReference(parseReference(dst));
    await this.locked(async () => {
      const rec = this.get(src);
      await this.#takeNames([name], rec.id);
      if (!rec.names.includes(name)) await this.save({ ...rec, names: [...rec.names, name] });
    });
  }

  /** Use markers: image ID → containers (`NS/ID`). */
  uses(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const ns of readDirNames(join(this.dir, "uses"))) {
      for (const id of readDirNames(join(this.dir, "uses", ns))) {
        if (id.includes(".tmp-")) continue;
        let image: string;
        try {
          image = Deno.readTextFileSync(join(this.dir, "uses", ns, id)).trim();
        } catch (err) {
          if (isNotFound(err)) continue;
          throw err;
        }
        out.set(image, [...(out.get(image) ?? []), `${ns}/${id}`]);
      }
    }
    return out;
  }

  /** A build's use file. */
  buildUsePath(token: string): string {
    return join(this.dir, "builds", `${token}.json`);
  }

  /**
   * Images used by running builds: image ID → `build PID` entries. With
   * `dropDead`, the files of builds whose process is gone are removed.
   */
  buildUses(dropDead = false): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const name of readDirNames(join(this.dir, "builds"))) {
      if (!name.endsWith(".json")) continue;
      const path = join(this.dir, "builds", name);
      let use: BuildUse;
      try {
        use = JSON.parse(Deno.readTextFileSync(path));
      } catch (err) {
        if (isNotFound(err)) continue;
        use = { pid: 0, startTime: null, images: [] }; // torn: its writer died mid-write
      }
      const live = use.pid > 0 && startTimeOf(use.pid) !== null &&
        (use.startTime === null || startTimeOf(use.pid) === use.startTime);
      if (!live) {
        if (dropDead) removeQuietly(path);
        continue;
      }
      for (const id of use.images) out.set(id, [...(out.get(id) ?? []), `build ${use.pid}`]);
    }
    return out;
  }

  /**
   * Records (atomically) that this process's build `token` uses `images`,
   * under the store lock, so a concurrent `rmi` or prune either sees them
   * or removed them first (then this fails: the caller's image is gone).
   */
  async takeBuildUse(token: string, images: string[]): Promise<void> {
    await this.locked(async () => {
      const all = this.list();
      for (const id of images) {
        const rec = all.find((r) => r.id === id);
        if (rec === undefined || rec.layers.some((l) => !this.hasLayer(layerKey(l)))) {
          throw new RuntimeError(`image ${id} was removed meanwhile`);
        }
      }
      await this.writeBuildUse(token, images);
    });
  }

  /**
   * Writes a build's use file (the caller holds the store lock, or adds
   * images it just recorded): atomically (a temporary renamed over it) but
   * not durably, as it serves only while its process lives.
   */
  writeBuildUse(token: string, images: string[]): Promise<void> {
    const use: BuildUse = { pid: Deno.pid, startTime: startTimeOf(Deno.pid), images };
    const path = this.buildUsePath(token);
    const tmp = join(
      this.dir,
      "builds",
      `.${token}.json.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
    );
    Deno.writeTextFileSync(tmp, JSON.stringify(use) + "\n", { mode: 0o600 });
    Deno.renameSync(tmp, path);
    return Promise.resolve();
  }

  /** Drops a build's use file (the build ended). */
  dropBuildUse(token: string): void {
    removeQuietly(this.buildUsePath(token));
  }

  /** Container uses and running builds' uses together. */
  #allUses(dropDead: boolean): Map<string, string[]> {
    const all = this.uses();
    for (const [id, users] of this.buildUses(dropDead)) {
      all.set(id, [...(all.get(id) ?? []), ...users]);
    }
    return all;
  }

  /**
   * Records that container NS/ID uses image `text`, under the store lock,
   * so a concurrent prune either sees the marker or removed the image
   * first (then this fails). Returns the record.
   */
  async takeUse(ns: string, id: string, imageId: string): Promise<ImageRecord> {
    return await this.locked(async () => {
      const rec = this.list().find((r) => r.id === imageId);
      if (rec === undefined || rec.layers.some((l) => !this.hasLayer(layerKey(l)))) {
        throw new RuntimeError(`image ${imageId} was removed meanwhile`);
      }
      Deno.mkdirSync(join(this.dir, "uses", ns), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.usePath(ns, id), imageId + "\n", { mode: 0o600 });
      return rec;
    });
  }

  /** Drops container NS/ID's use marker (no lock needed: removal only frees). */
  dropUse(ns: string, id: string): void {
    try {
      Deno.removeSync(this.usePath(ns, id));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * `rmi`: removes the names `refs` (or whole images given by ID). An image
   * left without names is removed unless a container uses it; with a
   * container using it the removal is refused (WrongState) unless `force`,
   * which only untags. Returns what it did, one line each.
   */
  async remove(
    refs: string[],
    force: boolean,
    stale: (container: string) => Promise<boolean>,
  ): Promise<string[]> {
    return await this.locked(async () => {
      await this.#dropStaleUses(stale);
      const uses = this.#allUses(true);
      const out: string[] = [];
      const recs = refs.map((t) => ({ text: t, rec: this.get(t) }));
      // First check every removal against what all of them leave, then apply.
      const left = new Map(recs.map(({ rec }) => [rec.id, [...rec.names]]));
      for (const { text, rec } of recs) {
        let name: string | null = null;
        try {
          name = formatReference(parseReference(text));
        } catch { /* an ID */ }
        const names = left.get(rec.id)!;
        const after = name !== null && names.includes(name) ? names.filter((n) => n !== name) : [];
        left.set(rec.id, after);
        const users = uses.get(rec.id) ?? [];
        if (users.length > 0 && after.length === 0 && !force) {
          throw new WrongState(
            `cannot remove image "${text}": in use by ${
              users.map((u) => u.startsWith("build ") ? u : `container ${u}`).join(", ")
            }`,
          );
        }
      }
      for (const { text, rec: r0 } of recs) {
        const rec = this.list().find((r) => r.id === r0.id);
        if (rec === undefined) continue;
        let name: string | null = null;
        try {
          name = formatReference(parseReference(text));
        } catch { /* an ID */ }
        const byName = name !== null && rec.names.includes(name);
        const names = byName ? rec.names.filter((n) => n !== name) : [];
        const users = uses.get(rec.id) ?? [];
        if (byName) out.push(`Untagged: ${name}`);
        else for (const n of rec.names) out.push(`Untagged: ${n}`);
        if (names.length === 0 && users.length === 0) {
          Deno.removeSync(this.recordPath(rec.id));
          out.push(`Deleted: ${rec.id}`);
        } else await this.save({ ...rec, names });
      }
      this.#removeUnreferenced(false);
      return out;
    });
  }

  async #dropStaleUses(stale: (container: string) => Promise<boolean>): Promise<string[]> {
    const dropped: string[] = [];
    for (const users of this.uses().values()) {
      for (const c of users) {
        if (await stale(c)) {
          const [ns, id] = c.split("/") as [string, string];
          this.dropUse(ns, id);
          dropped.push(c);
        }
      }
    }
    return dropped;
  }

  /**
   * `image prune` and `gc`: under the store lock, drops use markers of
   * containers that are gone (and of builds whose process is gone), then
   * removes every image with no name and no user (build cache entries
   * only with `cache`: `image prune`, `system prune`; never one a running
   * build uses), every layer no kept image lists (unless its lock is held:
   * a pull is on it), unreferenced blobs, and partial downloads of dead
   * berth processes. Returns what it removed.
   */
  async prune(
    stale: (container: string) => Promise<boolean>,
    dryRun = false,
    cache = false,
  ): Promise<string[]> {
    return await this.locked(async () => {
      const out: string[] = [];
      if (!dryRun) {
        for (const c of await this.#dropStaleUses(stale)) out.push(`image use of ${c}`);
      }
      const uses = this.#allUses(!dryRun);
      for (const rec of this.list()) {
        if (rec.names.length === 0 && !uses.has(rec.id) && (cache || !isCacheOnly(rec))) {
          if (!dryRun) Deno.removeSync(this.recordPath(rec.id));
          out.push(`image ${rec.id}`);
        }
      }
      out.push(...this.#removeUnreferenced(dryRun));
      return out;
    });
  }

  /** Removes unreferenced layers, blobs and dead processes' partial files (store lock held). */
  #removeUnreferenced(dryRun: boolean): string[] {
    const out: string[] = [];
    const kept = this.list();
    // By key, and by diff_id too: a container made before chain IDs keeps its layers mounted
    // from diff_id directories after a new pull rewrote its image's record with chain IDs
    // (with chain IDs a diff_id directory is only a bottom layer, whose key it is anyway).
    const layers = new Set(
      kept.flatMap((r) => r.layers.flatMap((l) => [hex(layerKey(l)), hex(l.diffId)])),
    );
    const blobs = new Set(
      kept.flatMap((
        r,
      ) => [hex(r.id), hex(r.manifestDigest), ...r.layers.map((l) => hex(l.digest))]),
    );
    for (const name of readDirNames(join(this.dir, "layers"))) {
      if (layers.has(name)) continue;
      const path = join(this.dir, "layers", name);
      if (/^[a-f0-9]{64}$/.test(name)) {
        if (dryRun) {
          out.push(`layer sha256:${name}`);
          continue;
        }
        const lock = tryLock(this.layerLock(`sha256:${name}`));
        if (lock === null) continue; // a pull holds it: its record comes
        try {
          removeLayerDir(path, this.tmpDir);
          lock.removeFile(); // waiters see another inode and start over (see host/lock.ts)
        } finally {
          lock.release();
        }
        out.push(`layer sha256:${name}`);
      }
    }
    // Lock files of layers that are not there (a pull that failed or died).
    if (!dryRun) {
      for (const name of readDirNames(join(this.dir, "locks"))) {
        const m = /^([a-f0-9]{64})\.lock$/.exec(name);
        if (m === null || layers.has(m[1]!) || this.hasLayer(`sha256:${m[1]}`)) continue;
        const lock = tryLock(join(this.dir, "locks", name));
        if (lock === null) continue;
        try {
          if (!this.hasLayer(`sha256:${m[1]}`)) lock.removeFile();
        } finally {
          lock.release();
        }
      }
    }
    // While a pull or load holds a layer lock, the blobs it stored (layer blobs as each layer
    // is published, then its manifest and config) are not yet listed by a record: none is
    // removed until no layer lock is held.
    const busy = readDirNames(join(this.dir, "locks")).some((name) => {
      if (!/^[a-f0-9]{64}\.lock$/.test(name)) return false;
      const lock = tryLock(join(this.dir, "locks", name));
      if (lock === null) return true;
      lock.release();
      return false;
    });
    for (const name of readDirNames(join(this.dir, "blobs"))) {
      if (blobs.has(name)) continue;
      if (/^[a-f0-9]{64}$/.test(name) && busy) continue;
      if (/^[a-f0-9]{64}$/.test(name) || deadTemp(name)) {
        if (!dryRun) removeQuietly(join(this.dir, "blobs", name));
        out.push(`blob ${name}`);
      }
    }
    for (const sub of ["images", "uses", "builds"]) {
      for (const name of readDirNames(join(this.dir, sub))) {
        if (deadTemp(name)) {
          if (!dryRun) removeQuietly(join(this.dir, sub, name));
          out.push(`partial ${sub}/${name}`);
        }
      }
    }
    for (const name of readDirNames(this.tmpDir)) {
      const pid = Number(name.split("-")[0]);
      if (Number.isInteger(pid) && pid > 0 && pid !== Deno.pid && alive(pid)) continue;
      if (pid === Deno.pid) continue;
      if (!dryRun) removeTree(join(this.tmpDir, name));
      out.push(`partial download ${name}`);
    }
    return out;
  }

  /** True when nothing at all is stored (no records, layers or blobs). */
  isEmpty(): boolean {
    return ["images", "layers", "blobs", "tmp"].every((d) =>
      readDirNames(join(this.dir, d)).length === 0
    );
  }
}

/** An atomic-write temp name (`.NAME.tmp-PID-RAND`) of a dead process. */
function deadTemp(name: string): boolean {
  const m = /\.tmp-(\d+)-[0-9a-f]{8}$/.exec(name);
  return m !== null && Number(m[1]) !== Deno.pid && !alive(Number(m[1]));
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Moves a layer into tmp/ (one atomic step), then removes it. */
function removeLayerDir(path: string, tmp: string): void {
  const trash = join(tmp, `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
  Deno.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  Deno.renameSync(path, trash);
  removeTree(trash);
}

/**
 * Non-blocking lock (synchronous, so it can run under the store lock);
 * `removeFile` unlinks the lock file while it is held, as
 * `FileLock.releaseAndRemove` does.
 */
function tryLock(path: string): { release(): void; removeFile(): void } | null {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
  } catch (err) {
    if (isNotFound(err)) return null; // its directory is not there yet
    throw err;
  }
  if (!file.tryLockSync(true)) {
    file.close();
    return null;
  }
  return { release: () => file.close(), removeFile: () => removeQuietly(path) };
}
