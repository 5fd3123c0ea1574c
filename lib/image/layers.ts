/**
 * Getting layers into the store: each layer's lock is taken (all of an
 * image's, by chain ID in sorted order, so pulls of images sharing layers
 * never deadlock), a layer already committed is reused, a missing one is
 * streamed, verified (blob digest and size while streaming, then the
 * diff_id over the decompressed stream), unpacked into a temporary
 * directory, its implicit directories given the modes the layers below
 * have, synced to disk, and renamed into place.
 * The locks stay held until the caller has recorded its image, so a prune
 * never removes a layer between its commit and its record.
 *
 * @module
 */

import { syncDir } from "../host/atomic_file.ts";
import { dirname } from "../_std/path.ts";
import { RuntimeError } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { removeTree } from "../container/bundle.ts";
import { crashPoint } from "../container/crash.ts";
import { compressionOf } from "./manifest.ts";
import type { Progress } from "./progress.ts";
import { type ImageStore, LAYER_LOCK_TIMEOUT_MS, type LayerRecord } from "./store.ts";
import { openUmask, unpackLayer } from "./unpack.ts";
import { type Syncer, type UnpackCalls, unpackCalls } from "./ffi.ts";
import { inheritImplicitDirs } from "./implicit_dirs.ts";
import { chainIds } from "./chain_id.ts";
import type { LayerLimits } from "./layer_limits.ts";
import { loadNode } from "./node.ts";
import { verifying } from "./verify.ts";

/** A layer to get, and how to open its blob. */
export interface LayerSource extends LayerRecord {
  open(signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

/** What {@linkcode ensureLayers} leaves: the image's layer records and the held locks. */
export interface EnsuredLayers {
  /** The layers as an image record lists them (chain IDs filled in), bottom first. */
  records: LayerRecord[];
  /** Releases the layers' locks (once the image is recorded). */
  release(): void;
}

/** How many layers are fetched at once. */
const PARALLEL = 4;

/**
 * Ensures every layer of `layers` (bottom first) is committed under its
 * chain ID. Layers are fetched and unpacked in parallel but published in
 * order, bottom first: a layer's implicit directories are given what the
 * layers below have (`implicit_dirs.ts`), so those must be there. On
 * failure nothing of a failed layer remains and every lock is released.
 */
export async function ensureLayers(
  store: ImageStore,
  layers: LayerSource[],
  progress: Progress,
  crashAt: string | null,
  limits: LayerLimits,
  calls: UnpackCalls = unpackCalls,
): Promise<EnsuredLayers> {
  await loadNode();
  store.init();
  const chains = await chainIds(layers.map((l) => l.diffId));
  const all = layers.map((l, i) => ({ ...l, chainId: chains[i]!, below: chains.slice(0, i) }));
  const locks: FileLock[] = [];
  const release = () => {
    for (const l of locks.splice(0)) l.release();
  };
  try {
    const unique = [...new Map(all.map((l) => [l.chainId, l])).values()];
    for (const key of unique.map((l) => l.chainId).sort()) {
      locks.push(
        await FileLock.acquire(store.layerLock(key), `layer ${key.slice(7, 19)}`, {
          timeoutMs: LAYER_LOCK_TIMEOUT_MS,
        }),
      );
    }
    const todo = unique.filter((l) => {
      if (!store.hasLayer(l.chainId)) return true;
      progress.done(l.digest, l.size, true);
      return false;
    }).map((l) => ({ ...l, published: Promise.withResolvers<void>() }));
    for (const t of todo) t.published.promise.catch(() => {}); // awaited by the next, if any
    const ctl = new AbortController();
    let firstError: unknown = null;
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const i = next++;
        const l = todo[i]!;
        const lowers = l.below.map((k) => store.layerDir(k)).reverse();
        const before = i === 0 ? Promise.resolve() : todo[i - 1]!.published.promise;
        try {
          await fetchLayer(store, l, lowers, before, progress, ctl.signal, crashAt, limits, calls);
          l.published.resolve();
        } catch (err) {
          l.published.reject(err);
          throw err;
        }
      }
    };
    // On a failure the others are aborted, and waited for: each removes its partial layer.
    const restoreUmask = openUmask();
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(PARALLEL, todo.length) }, () =>
        worker().catch((err) => {
          if (!ctl.signal.aborted) firstError = err;
          ctl.abort();
        })),
    ).finally(restoreUmask);
    if (firstError !== null || results.some((r) => r.status === "rejected")) {
      throw firstError ?? new RuntimeError("a layer fetch failed");
    }
    const records = all.map(({ diffId, chainId, digest, size, mediaType }) => ({
      diffId,
      chainId,
      digest,
      size,
      mediaType,
    }));
    return { records, release };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * Fetches, verifies and unpacks one layer into a temp dir; then, once the
 * layers below are published (`before`), gives its implicit directories
 * what `lowers` (their directories, top-most first) have, makes it durable
 * (one syncfs(2) of the data root's filesystem, through a descriptor opened
 * before the first write: every file and directory of the layer is on
 * disk, or the layer fails) and publishes it by a rename.
 */
async function fetchLayer(
  store: ImageStore,
  l: LayerSource & { chainId: string },
  lowers: string[],
  before: Promise<void>,
  progress: Progress,
  signal: AbortSignal,
  crashAt: string | null,
  limits: LayerLimits,
  calls: UnpackCalls,
): Promise<void> {
  const tmp = store.tempDir();
  let syncer: Syncer | null = null;
  try {
    // Opened before any write, so its syncfs reports every writeback error of the unpack.
    syncer = calls.syncer(tmp);
    const body = await l.open(signal);
    let first = true;
    const stream = body.pipeThrough(
      verifying(l.digest, l.size, `layer ${l.digest}`, (n) => {
        progress.bytes(l.digest, l.size, n);
        if (first) {
          first = false;
          crashPoint(crashAt, "pull:partial");
        }
      }),
    );
    const got = await unpackLayer(stream, compressionOf(l.mediaType), tmp, limits, calls);
    if (got.diffId !== l.diffId) {
      throw new RuntimeError(
        `layer ${l.digest}: diff_id ${got.diffId}, the config says ${l.diffId}`,
      );
    }
    await before;
    inheritImplicitDirs(tmp, got.implicitDirs, lowers, calls);
    try {
      syncer.sync();
    } catch (err) {
      throw new RuntimeError(`cannot unpack layer ${l.digest}: ${(err as Error).message}`);
    }
    if (signal.aborted) throw new RuntimeError("aborted");
    Deno.renameSync(tmp, store.layerDir(l.chainId));
    await syncDir(dirname(store.layerDir(l.chainId)));
    progress.done(l.digest, l.size, false);
    crashPoint(crashAt, "pull:layer");
  } catch (err) {
    try {
      removeTree(tmp);
    } catch { /* gc finishes it */ }
    throw err;
  } finally {
    syncer?.close();
  }
}
