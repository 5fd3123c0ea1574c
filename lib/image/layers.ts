/**
 * Getting layers into the store: each layer's lock is taken (all of an
 * image's, in digest order, so pulls of images sharing layers never
 * deadlock), a layer already committed is reused, a missing one is
 * streamed, verified (blob digest and size while streaming, then the
 * diff_id), unpacked into a temporary directory and renamed into place.
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
import type { LayerLimits } from "./layer_limits.ts";
import { loadNode } from "./node.ts";
import { verifying } from "./verify.ts";

/** A layer to get, and how to open its blob. */
export interface LayerSource extends LayerRecord {
  open(signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

/** How many layers are fetched at once. */
const PARALLEL = 4;

/**
 * Ensures every layer of `layers` is committed; returns the held locks'
 * release. On failure nothing of a failed layer remains and every lock is
 * released.
 */
export async function ensureLayers(
  store: ImageStore,
  layers: LayerSource[],
  progress: Progress,
  crashAt: string | null,
  limits: LayerLimits,
): Promise<() => void> {
  await loadNode();
  store.init();
  const locks: FileLock[] = [];
  const release = () => {
    for (const l of locks.splice(0)) l.release();
  };
  try {
    const unique = [...new Map(layers.map((l) => [l.diffId, l])).values()];
    for (const diffId of unique.map((l) => l.diffId).sort()) {
      locks.push(
        await FileLock.acquire(store.layerLock(diffId), `layer ${diffId.slice(7, 19)}`, {
          timeoutMs: LAYER_LOCK_TIMEOUT_MS,
        }),
      );
    }
    const todo = unique.filter((l) => {
      if (!store.hasLayer(l.diffId)) return true;
      progress.done(l.digest, l.size, true);
      return false;
    });
    const ctl = new AbortController();
    let firstError: unknown = null;
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const l = todo[next++]!;
        await fetchLayer(store, l, progress, ctl.signal, crashAt, limits);
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
    return release;
  } catch (err) {
    release();
    throw err;
  }
}

async function fetchLayer(
  store: ImageStore,
  l: LayerSource,
  progress: Progress,
  signal: AbortSignal,
  crashAt: string | null,
  limits: LayerLimits,
): Promise<void> {
  const tmp = store.tempDir();
  try {
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
    const got = await unpackLayer(stream, compressionOf(l.mediaType), tmp, limits);
    if (got.diffId !== l.diffId) {
      throw new RuntimeError(
        `layer ${l.digest}: diff_id ${got.diffId}, the config says ${l.diffId}`,
      );
    }
    if (signal.aborted) throw new RuntimeError("aborted");
    Deno.renameSync(tmp, store.layerDir(l.diffId));
    await syncDir(dirname(store.layerDir(l.diffId)));
    progress.done(l.digest, l.size, false);
    crashPoint(crashAt, "pull:layer");
  } catch (err) {
    try {
      removeTree(tmp);
    } catch { /* gc finishes it */ }
    throw err;
  }
}
