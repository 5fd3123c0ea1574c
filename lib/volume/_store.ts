/**
 * Named volumes, one directory each under the data root:
 *
 * ```
 * DATA/volumes/NS/NAME/volume.json   name, namespace, createdAt
 * DATA/volumes/NS/NAME/_data/        what containers see (mode 0755)
 * DATA/volumes/NS/.tmp-NAME-RAND     a volume being created (renamed into place)
 * DATA/volumes/NS/.trash-*           a volume being removed
 * ROOT/ns/NS/volumes.lock            serializes creating, claiming and removing
 * ```
 *
 * Who uses a volume is never counted: it is read from the containers'
 * recorded states (`request.mounts`). A `create` holds the volumes lock
 * from making its volumes until its state is saved, and `volume rm` and
 * `prune` hold it while they check the states and remove: so a volume a
 * container uses (or is about to record) is never removed. A crash leaves
 * at worst a `.tmp-*` or `.trash-*` entry, which {@linkcode cleanVolumeLeftovers}
 * (run by `gc`, under the lock) removes.
 *
 * @module
 */

import { writeFileAtomic } from "../host/atomic_file.ts";
import { removeAtomically, removeTree, TRASH_PREFIX } from "../container/bundle.ts";
import { crashPoint } from "../container/crash.ts";
import { Exists, isNotFound, NotFound, WrongState } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { join } from "../_std/path.ts";
import type { Paths } from "../container/paths.ts";
import type { ContainerState, StateStore } from "../container/state_file.ts";
import { validateVolumeName } from "./_names.ts";

/** What `volume inspect` and `volume ls --format json` print. */
export interface VolumeInfo {
  name: string;
  namespace: string;
  /** Where the data lives on the host. */
  mountpoint: string;
  createdAt: string;
  /** Containers whose state names the volume. */
  usedBy: string[];
}

/** What the volume functions need: the roots, the states, the clock, crash injection. */
export interface VolumeContext {
  paths: Paths;
  store: StateStore;
  clock: { now(): Date };
  crashAt: string | null;
}

const TMP_PREFIX = ".tmp-";

/** Directory of namespace `ns`'s volumes. */
export function volumesDir(paths: Paths, ns: string): string {
  return join(paths.dataRoot, "volumes", ns);
}

/** Namespaces that have a volumes directory. */
export function volumeNamespaces(paths: Paths): string[] {
  try {
    return [...Deno.readDirSync(join(paths.dataRoot, "volumes"))]
      .filter((e) => e.isDirectory && !e.name.startsWith(".")).map((e) => e.name).sort();
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** The host directory a container sees of volume `name`. */
export function volumeDataPath(paths: Paths, ns: string, name: string): string {
  return join(volumesDir(paths, ns), name, "_data");
}

function lockPath(paths: Paths, ns: string): string {
  return join(paths.nsDir(ns), "volumes.lock");
}

/** Runs `fn` holding namespace `ns`'s volumes lock. */
export async function withVolumeLock<T>(
  paths: Paths,
  ns: string,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = await FileLock.acquire(lockPath(paths, ns), `the volumes of namespace "${ns}"`);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Takes namespace `ns`'s volumes lock (the caller releases it). */
export function lockVolumes(paths: Paths, ns: string): Promise<FileLock> {
  return FileLock.acquire(lockPath(paths, ns), `the volumes of namespace "${ns}"`);
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Makes volume `name` (under the lock): built in a hidden `.tmp-*`
 * directory, then renamed into place in one step. False when it existed.
 */
async function makeLocked(
  ctx: VolumeContext,
  ns: string,
  name: string,
  owner: { uid: number; gid: number } | null = null,
): Promise<boolean> {
  const dir = volumesDir(ctx.paths, ns);
  const final = join(dir, name);
  if (exists(final)) return false;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${TMP_PREFIX}${name}-${crypto.randomUUID().slice(0, 8)}`);
  Deno.mkdirSync(tmp, { mode: 0o700 });
  try {
    Deno.mkdirSync(join(tmp, "_data"));
    Deno.chmodSync(join(tmp, "_data"), 0o755);
    // A volume made on first use belongs to the container's user (as podman does).
    if (owner !== null) Deno.chownSync(join(tmp, "_data"), owner.uid, owner.gid);
    await writeFileAtomic(
      join(tmp, "volume.json"),
      JSON.stringify({ name, namespace: ns, createdAt: ctx.clock.now().toISOString() }) + "\n",
      { mode: 0o600 },
    );
    crashPoint(ctx.crashAt, "volume:built");
    Deno.renameSync(tmp, final);
  } catch (err) {
    // A failure (not a crash: gc takes .tmp-* then) leaves nothing half made.
    Deno.removeSync(tmp, { recursive: true });
    throw err;
  }
  return true;
}

/** `volume create NAME`: exit 4 when it exists. */
export async function createVolume(ctx: VolumeContext, ns: string, name: string): Promise<void> {
  validateVolumeName(name);
  await withVolumeLock(ctx.paths, ns, async () => {
    if (!(await makeLocked(ctx, ns, name))) {
      throw new Exists(`volume "${name}" already exists`);
    }
  });
}

/**
 * Makes the volumes among `names` that do not exist yet, their data owned
 * by `owner` (the container's user) when given; the caller holds the
 * volumes lock (see the module doc). Returns those it made, each also
 * pushed onto `made` as soon as it exists: when a later one fails, the
 * caller still knows what to take back.
 */
export async function ensureVolumesLocked(
  ctx: VolumeContext,
  ns: string,
  names: readonly string[],
  owner: { uid: number; gid: number } | null = null,
  made: string[] = [],
): Promise<string[]> {
  for (const name of names) {
    if (await makeLocked(ctx, ns, name, owner)) made.push(name);
  }
  return made;
}

/** The volume names a container's state records. */
export function volumesOf(s: ContainerState): string[] {
  return (s.request?.mounts ?? []).filter((m) => m.type === "volume").map((m) => m.source!);
}

/** Containers of `ns` whose state names a volume, by volume name. */
async function usersByVolume(ctx: VolumeContext, ns: string): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  for (const s of await ctx.store.list(ns)) {
    for (const v of volumesOf(s)) users.set(v, [...(users.get(v) ?? []), s.id]);
  }
  return users;
}

function readInfo(paths: Paths, ns: string, name: string, usedBy: string[]): VolumeInfo {
  let createdAt = "";
  try {
    const meta = JSON.parse(
      Deno.readTextFileSync(join(volumesDir(paths, ns), name, "volume.json")),
    );
    if (typeof meta.createdAt === "string") createdAt = meta.createdAt;
  } catch (err) {
    if (isNotFound(err) && !exists(join(volumesDir(paths, ns), name))) {
      throw new NotFound(`volume "${name}" not found`);
    }
  }
  return {
    name,
    namespace: ns,
    mountpoint: volumeDataPath(paths, ns, name),
    createdAt,
    usedBy: usedBy.sort(),
  };
}

function names(paths: Paths, ns: string): string[] {
  try {
    return [...Deno.readDirSync(volumesDir(paths, ns))]
      .filter((e) => e.isDirectory && !e.name.startsWith(".")).map((e) => e.name).sort();
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** Every volume of `ns`. */
export async function listVolumes(ctx: VolumeContext, ns: string): Promise<VolumeInfo[]> {
  const users = await usersByVolume(ctx, ns);
  return names(ctx.paths, ns).map((n) => readInfo(ctx.paths, ns, n, users.get(n) ?? []));
}

/** One volume; NotFound (exit 3) when there is none. */
export async function inspectVolume(
  ctx: VolumeContext,
  ns: string,
  name: string,
): Promise<VolumeInfo> {
  validateVolumeName(name);
  if (!exists(join(volumesDir(ctx.paths, ns), name))) {
    throw new NotFound(`volume "${name}" not found`);
  }
  return readInfo(ctx.paths, ns, name, (await usersByVolume(ctx, ns)).get(name) ?? []);
}

async function removeLocked(ctx: VolumeContext, ns: string, name: string): Promise<void> {
  await removeAtomically(join(volumesDir(ctx.paths, ns), name), () => {
    crashPoint(ctx.crashAt, "volume:renamed");
  });
}

/**
 * `volume rm NAME`: refused (WrongState, exit 5) while a container's
 * state names it; NotFound (exit 3) when there is none.
 */
export async function removeVolume(ctx: VolumeContext, ns: string, name: string): Promise<void> {
  validateVolumeName(name);
  await withVolumeLock(ctx.paths, ns, async () => {
    if (!exists(join(volumesDir(ctx.paths, ns), name))) {
      throw new NotFound(`volume "${name}" not found`);
    }
    const users = (await usersByVolume(ctx, ns)).get(name) ?? [];
    if (users.length > 0) {
      throw new WrongState(
        `cannot remove volume "${name}": container ${
          users.map((u) => `"${u}"`).join(", ")
        } uses it`,
      );
    }
    await removeLocked(ctx, ns, name);
  });
}

/** `volume prune`: removes every volume no container's state names; returns their names. */
export async function pruneVolumes(ctx: VolumeContext, ns: string): Promise<string[]> {
  return await withVolumeLock(ctx.paths, ns, async () => {
    const users = await usersByVolume(ctx, ns);
    const removed: string[] = [];
    for (const name of names(ctx.paths, ns)) {
      if (users.has(name)) continue;
      await removeLocked(ctx, ns, name);
      removed.push(name);
    }
    return removed;
  });
}

/** Removes those of `names` no container's state names (a failed create's own volumes). */
export async function removeUnusedVolumes(
  ctx: VolumeContext,
  ns: string,
  names: readonly string[],
): Promise<void> {
  await withVolumeLock(ctx.paths, ns, async () => {
    const users = await usersByVolume(ctx, ns);
    for (const name of names) if (!users.has(name)) await removeLocked(ctx, ns, name);
  });
}

/**
 * The `.tmp-*` and `.trash-*` leftovers of interrupted volume creations
 * and removals in `ns` (gc). With `remove`, removes them, under the lock.
 */
export async function cleanVolumeLeftovers(
  paths: Paths,
  ns: string,
  remove: boolean,
): Promise<string[]> {
  const find = () => {
    try {
      return [...Deno.readDirSync(volumesDir(paths, ns))]
        .filter((e) => e.name.startsWith(TMP_PREFIX) || e.name.startsWith(TRASH_PREFIX))
        .map((e) => join(volumesDir(paths, ns), e.name)).sort();
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  };
  if (!remove) return find();
  return await withVolumeLock(paths, ns, () => {
    const found = find();
    for (const p of found) removeTree(p);
    return Promise.resolve(found);
  });
}
