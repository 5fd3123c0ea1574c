/**
 * Bundles: a container's bundle directory (config.json, rootfs mount point,
 * state) and its work directory under the data root.
 *
 * {@linkcode createBundle} rolls back on any failure, removing only what
 * that call created: a directory that already existed is never removed
 * (containerd once deleted a live container's bundle that way).
 *
 * {@linkcode removeAtomically} renames a directory to a hidden `.trash-*`
 * name and then removes it, so no path of the container is ever visible
 * half-deleted; {@linkcode findLeftovers} finds what an interrupted removal
 * left behind so {@linkcode cleanupLeftovers} can finish it.
 *
 * @module
 */

import { basename, dirname, join } from "../_std/path.ts";
import { syncDir, writeFileAtomic } from "../host/atomic_file.ts";
import { Exists, isNotFound } from "../host/errors.ts";
import { unmountAll } from "../host/mounts.ts";
import { promised } from "../host/sync_io.ts";
import { logFiles } from "./paths.ts";

/** The steps of {@linkcode createBundle}, in order. */
export const BUNDLE_STEPS = ["bundle-dir", "config", "rootfs-dir", "work-dir", "layers"] as const;

/** One step of {@linkcode createBundle}. */
export type BundleStep = typeof BUNDLE_STEPS[number];

/** What {@linkcode createBundle} makes. */
export interface BundleRequest {
  /** The bundle directory to create (its parent may exist). */
  bundleDir: string;
  /** The work directory to create under the data root. */
  workDir: string;
  /** The OCI config to write as `config.json`. */
  config: unknown;
  /**
   * Permission bits of the container's `/` (the overlay's upper directory):
   * those of the source's root, set explicitly, never from berth's umask.
   * Default 0755.
   */
  rootMode?: number;
}

/** Options of {@linkcode createBundle}. */
export interface BundleOptions {
  /** Called after each step; a throw here is treated as that step failing. */
  onStep?: (step: BundleStep) => void | Promise<void>;
}

/** Name prefix of a directory being removed. */
export const TRASH_PREFIX = ".trash-";

/**
 * A scratch file an `exec` keeps in the bundle while it runs (its process
 * file, its pid file): `.exec-PID-RANDOM.EXT`, PID being the exec's berth.
 */
export function execScratch(bundleDir: string, ext: string): string {
  return join(bundleDir, `.exec-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.${ext}`);
}

/** The berth process that made exec scratch file `name`, or null if it is none. */
export function execScratchOwner(name: string): number | null {
  const m = /^\.exec-(\d+)-[0-9a-f]{8}\.[a-z]+$/.exec(name);
  return m === null ? null : Number(m[1]);
}

/** The rootfs mount point inside a bundle. */
export function rootfsDir(bundleDir: string): string {
  return join(bundleDir, "rootfs");
}

/**
 * The member markers inside a bundle: an empty file per container that
 * joined this one as its sandbox (see `membersOf` in ops/delete.ts).
 */
export function membersDir(bundleDir: string): string {
  return join(bundleDir, "members");
}

/** Overlay layer directories inside a work directory. */
export function layerDirs(workDir: string): { upper: string; work: string } {
  return { upper: join(workDir, "upper"), work: join(workDir, "work") };
}

// Synchronous calls (mkdir, rename, remove of a few small entries): see sync_io.ts.
function mkdirNew(path: string, mode: number): Promise<void> {
  return promised(() => {
    try {
      Deno.mkdirSync(path, { mode });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) {
        throw new Exists(`${path} already exists`);
      }
      throw err;
    }
  });
}

/**
 * Creates the bundle directory (with `config.json`, an empty `rootfs/` and
 * an empty `members/`) and the work directory (with overlay `upper/` and
 * `work/`, and empty logs). Every directory is 0700 and every file 0600,
 * except `upper/` (the container's `/`, inside the private work directory). On failure,
 * removes exactly the directories this call created and rethrows.
 */
export async function createBundle(req: BundleRequest, options: BundleOptions = {}): Promise<void> {
  const created: string[] = [];
  const step = async (name: BundleStep) => await options.onStep?.(name);
  try {
    Deno.mkdirSync(dirname(req.bundleDir), { recursive: true, mode: 0o700 });
    await mkdirNew(req.bundleDir, 0o700);
    created.push(req.bundleDir);
    await step("bundle-dir");
    await writeFileAtomic(join(req.bundleDir, "config.json"), JSON.stringify(req.config, null, 2), {
      mode: 0o600,
    });
    await step("config");
    Deno.mkdirSync(rootfsDir(req.bundleDir), { mode: 0o700 });
    Deno.mkdirSync(membersDir(req.bundleDir), { mode: 0o700 });
    await step("rootfs-dir");
    Deno.mkdirSync(dirname(req.workDir), { recursive: true, mode: 0o700 });
    await mkdirNew(req.workDir, 0o700);
    created.push(req.workDir);
    await step("work-dir");
    const layers = layerDirs(req.workDir);
    // The container's side: `/` gets the source root's mode, whatever the
    // umask. Private all the same: the work directory is 0700.
    Deno.mkdirSync(layers.upper, { mode: 0o700 });
    Deno.chmodSync(layers.upper, (req.rootMode ?? 0o755) & 0o7777);
    Deno.mkdirSync(layers.work, { mode: 0o700 });
    // The logs, 0600 in a directory only root may enter: a container can
    // chmod its log (through /proc/self/fd/1) but nobody else reaches it.
    for (const log of Object.values(logFiles(req.workDir))) {
      Deno.writeFileSync(log, new Uint8Array(), { mode: 0o600, createNew: true });
    }
    await step("layers");
  } catch (err) {
    for (const dir of created.reverse()) {
      await removeAtomically(dir).catch(() => {});
    }
    throw err;
  }
}

/**
 * Removes `dir` atomically: unmounts anything below it, renames it to a
 * hidden `.trash-*` sibling (one atomic step: from then on the path is
 * gone), makes the rename durable, then removes the renamed tree.
 * Returns false when `dir` did not exist.
 */
export async function removeAtomically(
  dir: string,
  onRenamed: () => void = () => {},
): Promise<boolean> {
  await unmountAll(dir);
  const trash = join(
    dirname(dir),
    `${TRASH_PREFIX}${basename(dir)}-${crypto.randomUUID().slice(0, 8)}`,
  );
  try {
    Deno.renameSync(dir, trash);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  await syncDir(dirname(dir));
  onRenamed();
  removeTree(trash);
  return true;
}

/** Name prefix of a directory lifted to the top of a tree being removed. */
const LIFTED_PREFIX = ".lifted-";

/** Deepest level (and longest path below the top) {@linkcode removeTree} reaches. */
const MAX_LEVELS = 64;
const MAX_PATH = 1024;

/**
 * Removes the tree at `path` iteratively with bounded file descriptors and
 * path lengths: a directory more than {@linkcode MAX_LEVELS} levels (or
 * {@linkcode MAX_PATH} bytes) below the top is first renamed up to the top,
 * then each top-level entry, now shallow, is removed; the lifted ones go
 * in the next round. So a tree of any depth (a container can make one
 * 25,000 levels deep) needs neither a file descriptor nor a path component
 * per level. A `.trash-*` tree may be removed by two cleaners at once (its
 * remover and a `gc`, which takes no container lock for leftovers): entries
 * vanishing under this one, or the whole tree, are fine. Synchronous calls:
 * see sync_io.ts.
 */
export function removeTree(path: string): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  if (!st.isDirectory) return removeGone(path);
  const lifted = { n: 0 };
  for (let stalled = 0;;) {
    let names: { name: string; isDirectory: boolean }[];
    try {
      names = [...Deno.readDirSync(path)];
    } catch (err) {
      if (isNotFound(err)) return; // the other cleaner finished it
      throw err;
    }
    let raced = false;
    for (const e of names) {
      const p = join(path, e.name);
      try {
        if (e.isDirectory) liftDeep(path, p, 1, lifted);
        Deno.removeSync(p, { recursive: e.isDirectory });
      } catch (err) {
        if (!isNotFound(err) && !isNotEmpty(err)) throw err;
        raced = true; // the other cleaner moved or removed something: next round
      }
    }
    try {
      Deno.removeSync(path);
      return;
    } catch (err) {
      if (isNotFound(err)) return;
      if (!isNotEmpty(err)) throw err;
    }
    // Lifted directories (or the other cleaner's) wait for the next round.
    if (raced && ++stalled > 1000) throw new Error(`cannot remove ${path}: it keeps changing`);
  }
}

/** Renames every directory below `dir` deeper than the bounds up to `top`. */
function liftDeep(top: string, dir: string, level: number, lifted: { n: number }): void {
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isDirectory) continue;
    const p = join(dir, e.name);
    if (level + 1 > MAX_LEVELS || p.length > MAX_PATH) {
      const up = join(top, `${LIFTED_PREFIX}${lifted.n++}-${crypto.randomUUID().slice(0, 8)}`);
      Deno.renameSync(p, up);
    } else liftDeep(top, p, level + 1, lifted);
  }
}

/** Removes a file or an empty directory; gone already is fine (so is not empty with `busy`). */
function removeGone(path: string, busy = false): void {
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (isNotFound(err) || (busy && isNotEmpty(err))) return;
    throw err;
  }
}

/** ENOTEMPTY (Deno has no error class for it). */
function isNotEmpty(err: unknown): boolean {
  return err instanceof Error && /not empty|ENOTEMPTY|os error 39/i.test(err.message);
}

/** Hidden leftovers of interrupted removals directly inside `parents`. */
export async function findLeftovers(parents: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const parent of parents) {
    try {
      for await (const e of Deno.readDir(parent)) {
        if (e.name.startsWith(TRASH_PREFIX)) out.push(join(parent, e.name));
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return out.sort();
}

/** Finishes interrupted removals in `parents`; returns what it removed. */
export async function cleanupLeftovers(parents: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const path of await findLeftovers(parents)) {
    await unmountAll(path);
    try {
      removeTree(path);
      removed.push(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return removed;
}
