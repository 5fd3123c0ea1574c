/**
 * Getting layers into the store: each layer's lock is taken (all of an
 * image's, by chain ID in sorted order, so pulls of images sharing layers
 * never deadlock), a layer already committed is reused, a missing one is
 * streamed, verified (blob digest and size while streaming, then the
 * diff_id over the decompressed stream), unpacked into a temporary
 * directory, its implicit directories given the modes the layers below
 * have, synced to disk, and renamed into place. The verified compressed
 * blob is kept too (`blobs/HEX`, written as it streams by, published with
 * its layer), so `push` and `save` give out the very bytes the diff_id
 * and digest were checked on; a layer already unpacked whose blob is
 * missing (stored before blobs were kept, or the same layer compressed
 * otherwise) gets its blob fetched and checked alone, not unpacked again.
 * The locks stay held until the caller has recorded its image, so a prune
 * never removes a layer between its commit and its record. Each record
 * carries the layer's unpacked size (the uncompressed tar's bytes, counted
 * as it is hashed; for a layer already stored, from a record that lists
 * it, or counted once over its stored blob).
 *
 * @module
 */

import { syncDir } from "../host/atomic_file.ts";
import { dirname, join } from "../_std/path.ts";
import { RuntimeError } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { removeTree } from "../container/bundle.ts";
import { crashPoint } from "../container/crash.ts";
import { compressionOf } from "./_manifest.ts";
import type { Progress } from "./_progress.ts";
import { type ImageStore, LAYER_LOCK_TIMEOUT_MS, type LayerRecord } from "./_store.ts";
import { decompress, openUmask, unpackLayer } from "./_unpack.ts";
import { markTopDir, type Syncer, type UnpackCalls, unpackCalls } from "./_ffi.ts";
import { inheritImplicitDirs } from "./_implicit_dirs.ts";
import { chainIds } from "./_chain_id.ts";
import type { LayerLimits } from "./_layer_limits.ts";
import { loadNode } from "./_node.ts";
import { WriteQueue } from "./_write_queue.ts";
import { sha256, verifying } from "./_verify.ts";
import { giveBack, streamed } from "./_garbage.ts";

/** A layer to get, and how to open its blob. */
export interface LayerSource extends LayerRecord {
  open(signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

/** What {@linkcode ensureLayers} leaves: the image's layer records and the held locks. */
export interface EnsuredLayers {
  /**
   * The layers as an image record lists them (chain IDs and unpacked sizes
   * filled in), bottom first.
   */
  records: LayerRecord[];
  /** Releases the layers' locks (once the image is recorded). */
  release(): void;
}

/**
 * How many layers are fetched at once: one per core, 2 to 4. Each layer in
 * flight holds its chunks (fetched, decompressed, unpacked) until the next
 * collection (`_garbage.ts`); on the 2-core bench host 4 at once gave no
 * shorter pull than 2 (the same CPU time), and 2–3 MB more peak RSS.
 */
const PARALLEL = Math.max(2, Math.min(4, navigator.hardwareConcurrency || 2));

/**
 * Ensures every layer of `layers` (bottom first) is committed under its
 * chain ID. Layers are fetched and unpacked in parallel but published in
 * order, bottom first: a layer's implicit directories are given what the
 * layers below have (`_implicit_dirs.ts`), so those must be there. On
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
  giveBack(); // the pages start-up and node compatibility touched (see _garbage.ts)
  store.init();
  markTopDir(store.tmpDir); // each layer's inodes away from those just deleted (see _ffi.ts)
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
      if (!store.hasLayer(l.chainId) || !store.hasBlob(l.digest)) return true;
      progress.done(l.digest, l.size, true);
      return false;
    }).map((l) => ({
      ...l,
      blobOnly: store.hasLayer(l.chainId),
      published: Promise.withResolvers<void>(),
    }));
    const unpacked = new Map<string, number>(); // by diff_id
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
          if (l.blobOnly) unpacked.set(l.diffId, await fetchBlob(store, l, progress, ctl.signal));
          else {
            const n = await fetchLayer(
              store,
              l,
              lowers,
              before,
              progress,
              ctl.signal,
              crashAt,
              limits,
              calls,
            );
            unpacked.set(l.diffId, n);
          }
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
    if (all.some((l) => !unpacked.has(l.diffId))) await knownSizes(store, all, unpacked);
    const records = all.map(({ diffId, chainId, digest, size, mediaType }) => ({
      diffId,
      chainId,
      digest,
      size,
      mediaType,
      unpackedSize: unpacked.get(diffId)!,
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
): Promise<number> {
  const tmp = store.tempDir();
  const blobTmp = `${tmp}.blob`;
  let syncer: Syncer | null = null;
  let blob: Deno.FsFile | null = null;
  try {
    // Opened before any write, so its syncfs reports every writeback error of the unpack.
    syncer = calls.syncer(tmp);
    blob = Deno.openSync(blobTmp, { write: true, createNew: true, mode: 0o600 });
    const body = await l.open(signal);
    let first = true;
    // An uncompressed layer whose digest is its diff_id (a docker-archive's): the diff_id
    // check below hashes the very same bytes, so they are hashed once.
    const same = compressionOf(l.mediaType) === "none" && l.digest === l.diffId;
    const stream = body.pipeThrough(
      verifying(same ? null : l.digest, l.size, `layer ${l.digest}`, (n) => {
        progress.bytes(l.digest, l.size, n);
        if (first) {
          first = false;
          crashPoint(crashAt, "pull:partial");
        }
      }),
    ).pipeThrough(writingTo(blob, l.digest, compressionOf(l.mediaType) === "none"));
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
    blob.close();
    blob = null;
    // The syncfs above made the blob durable too (same filesystem, written before it).
    Deno.renameSync(blobTmp, store.blobPath(l.digest));
    await syncDir(dirname(store.blobPath(l.digest)));
    Deno.renameSync(tmp, store.layerDir(l.chainId));
    await syncDir(dirname(store.layerDir(l.chainId)));
    progress.done(l.digest, l.size, false);
    crashPoint(crashAt, "pull:layer");
    return got.bytes;
  } catch (err) {
    try {
      removeTree(tmp);
      removeTree(blobTmp);
    } catch { /* gc finishes it */ }
    throw err;
  } finally {
    syncer?.close();
    blob?.close();
  }
}

/**
 * Fetches the blob of a layer already unpacked: its digest and size are
 * checked as it streams into `tmp/PID-RAND.blob`, its decompressed bytes
 * against the diff_id, then it is fsync'd and renamed into `blobs/`.
 * Returns the decompressed bytes' count.
 */
async function fetchBlob(
  store: ImageStore,
  l: LayerSource,
  progress: Progress,
  signal: AbortSignal,
): Promise<number> {
  store.init();
  const tmp = join(store.tmpDir, `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.blob`);
  let file: Deno.FsFile | null = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    const body = await l.open(signal);
    const stream = body.pipeThrough(
      verifying(l.digest, l.size, `layer ${l.digest}`, (n) => progress.bytes(l.digest, l.size, n)),
    ).pipeThrough(writingTo(file, l.digest));
    const h = sha256();
    let n = 0;
    for await (const c of decompress(stream, compressionOf(l.mediaType))) {
      h.update(c);
      n += c.length;
      streamed(c.length);
    }
    if (h.digest() !== l.diffId) {
      throw new RuntimeError(
        `layer ${l.digest}: diff_id ${h.digest()}, the config says ${l.diffId}`,
      );
    }
    file.syncSync();
    file.close();
    file = null;
    Deno.renameSync(tmp, store.blobPath(l.digest));
    await syncDir(dirname(store.blobPath(l.digest)));
    progress.done(l.digest, l.size, false);
    return n;
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* gc finishes it */ }
    throw err;
  } finally {
    file?.close();
  }
}

/**
 * Fills `sizes` (by diff_id) for the layers of `all` it lacks, all stored
 * already: from any record listing the same diff_id with its unpacked size,
 * else by counting the decompressed bytes of the stored blob (once: the
 * image recorded next keeps it).
 */
async function knownSizes(
  store: ImageStore,
  all: LayerRecord[],
  sizes: Map<string, number>,
): Promise<void> {
  for (const l of all) {
    if (l.unpackedSize !== undefined && !sizes.has(l.diffId)) sizes.set(l.diffId, l.unpackedSize);
  }
  for (const rec of store.list()) {
    for (const l of rec.layers) {
      if (l.unpackedSize !== undefined && !sizes.has(l.diffId)) sizes.set(l.diffId, l.unpackedSize);
    }
  }
  for (const l of all) {
    if (sizes.has(l.diffId)) continue;
    let n = 0;
    const file = await Deno.open(store.blobPath(l.digest), { read: true });
    for await (const c of decompress(file.readable, compressionOf(l.mediaType))) n += c.length;
    sizes.set(l.diffId, n);
  }
}

/** Blob bytes that may wait to be written (see {@linkcode writingTo}). */
const BLOB_QUEUE_BYTES = 1 << 20;

/**
 * Passes chunks through, writing each to `file` first; a failed write
 * fails the stream in one line naming the layer. With `overlap` (an
 * uncompressed layer, whose blob is as large as what is unpacked: a
 * docker-archive's), the writes go in order on a thread of Deno's while
 * the chunk is unpacked and hashed here (at most 1 MiB waiting; see
 * `_write_queue.ts`), and the stream ends once all is written: a load
 * took 2.43–2.78 s against 2.61–3.39 s. A compressed blob (a pull's) is
 * written as it comes: overlapping bought no time there and cost 4 MB of
 * peak memory, which is measured against podman's.
 */
function writingTo(
  file: Deno.FsFile,
  digest: string,
  overlap = false,
): TransformStream<Uint8Array, Uint8Array> {
  const failed = (err: unknown) =>
    new RuntimeError(`cannot store the blob of layer ${digest}: ${(err as Error).message}`);
  if (!overlap) {
    return new TransformStream({
      transform(chunk, ctl) {
        try {
          for (let off = 0; off < chunk.length;) off += file.writeSync(chunk.subarray(off));
        } catch (err) {
          throw failed(err);
        }
        ctl.enqueue(chunk);
      },
    });
  }
  const q = new WriteQueue(file, BLOB_QUEUE_BYTES);
  return new TransformStream({
    async transform(chunk, ctl) {
      q.push(chunk);
      ctl.enqueue(chunk);
      await q.ready().catch((err) => {
        throw failed(err);
      });
    },
    async flush() {
      await q.flush().catch((err) => {
        throw failed(err);
      });
    },
  });
}
