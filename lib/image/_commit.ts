/**
 * Making an image from a directory tree on top of a parent image: the
 * tree's layer (`_layer_diff.ts`) is gzipped into the store's tmp/, then
 * published through the pull path (`ensureLayers`: the layer's lock, its
 * digest, size and diff_id checked again as it is unpacked into the
 * store's one layer format, synced, renamed into `layers/` with its blob
 * into `blobs/`), then the config (the parent's, `-c` changes applied, the
 * new diff_id and a history entry added) and an OCI manifest are stored
 * and the image recorded in one atomic step. A commit killed at any point
 * leaves no image; `gc` removes what it left in tmp/ and any layer or blob
 * no image lists. `commit` uses it on a container's overlay upper
 * directory; `import` on an unpacked tar.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { join } from "../_std/path.ts";
import { RuntimeError } from "../host/errors.ts";
import { removeTree } from "../container/bundle.ts";
import { applyChange, type ContainerConfigSection } from "./_config_changes.ts";
import { type DiffMode, treeTar, writeLayerBlob, type WrittenLayer } from "./_layer_diff.ts";
import { decompress } from "./_unpack.ts";
import { formatSize } from "./_body_limits.ts";
import type { LayerLimits } from "./_layer_limits.ts";
import { ensureLayers, type LayerSource } from "./_layers.ts";
import { layerLimitsFrom } from "./_layer_limits.ts";
import { storeOf } from "./_local.ts";
import { MediaType } from "./_manifest.ts";
import { loadNode } from "./_node.ts";
import { quietProgress } from "./_progress.ts";
import { type ImageRecord, imageSize, type ImageStore } from "./_store.ts";
import { sha256Of } from "./_verify.ts";
import { formatReference, parseReference } from "./_reference.ts";

/** The OCI gzip layer media type (commit's layers, and its manifest's). */
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

const OCI_MEDIA: Record<string, string> = {
  "application/vnd.docker.image.rootfs.diff.tar.gzip": OCI_LAYER_GZIP,
  "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
};

/** What to commit. */
export interface CommitRequest {
  /** The tree, and how to read it (`upper`: an overlay upper directory). */
  tree: string;
  mode: DiffMode;
  /** The image below, or null (a one-layer image). */
  parent: ImageRecord | null;
  /** The container's own settings, applied to the parent's config before the changes. */
  adjust?: (c: ContainerConfigSection) => void;
  /** `-c` changes, applied in order. */
  changes: string[];
  /** History entry fields. */
  createdBy: string;
  comment: string | null;
  author: string | null;
  /** A name to give the image, or null. */
  name: string | null;
}

/** The config a commit writes (the parent's fields kept as they are). */
interface FullConfig {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  config?: ContainerConfigSection;
  rootfs: { type: string; diff_ids: string[] };
  history?: Record<string, unknown>[];
  [k: string]: unknown;
}

/** The parent's config, or a fresh one for a one-layer image. */
function baseConfig(store: ImageStore, parent: ImageRecord | null): FullConfig {
  if (parent === null) {
    const arch = ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch];
    return {
      architecture: arch ?? Deno.build.arch,
      os: "linux",
      rootfs: { type: "layers", diff_ids: [] },
    };
  }
  return JSON.parse(new TextDecoder().decode(store.readBlob(parent.id)));
}

/** Checks `-c` changes and a name before anything is written (exit 2 on a bad one). */
export function checkCommitArgs(changes: string[], name: string | null): void {
  const scratch: ContainerConfigSection = {};
  for (const c of changes) applyChange(scratch, c);
  if (name !== null) parseReference(name);
}

/** Commits `req.tree` as a new image; returns its record. */
export async function commitTree(ctx: Context, req: CommitRequest): Promise<ImageRecord> {
  const store = storeOf(ctx);
  await loadNode();
  store.init();
  const cfg = baseConfig(store, req.parent);
  const section: ContainerConfigSection = { ...(cfg.config ?? {}) };
  req.adjust?.(section);
  for (const c of req.changes) applyChange(section, c);
  for (const l of req.parent?.layers ?? []) {
    if (!store.hasBlob(l.digest)) {
      throw new RuntimeError(
        `cannot commit on image ${
          req.parent!.id
        }: the blob of its layer ${l.digest} is not stored (an image pulled before berth kept blobs): pull it again`,
      );
    }
  }
  return await withBlobTemp(store, async (blobTmp, file) => {
    const layer = await writeLayerBlob(treeTar(req.tree, req.mode), file);
    file.close();
    return await publish(ctx, store, {
      blobTmp,
      layer,
      parent: req.parent,
      cfg,
      section,
      createdBy: req.createdBy,
      comment: req.comment,
      author: req.author,
      name: req.name,
      limits: layerLimitsFrom(ctx.env, Infinity), // the container's own files
    });
  });
}

/** Options of {@linkcode importTar}. */
export interface ImportOptions {
  /** A name to give the image, or null. */
  name: string | null;
  /** What was imported (a file name, or `-`), for the history. */
  source: string;
  /** `--max-unpacked-size` in bytes, or undefined. */
  maxUnpackedSize?: number;
}

/**
 * `import`: the tar `input` (plain or gzip) as a one-layer image, its
 * bytes as given (the diff_id is theirs), unpacked by the pull path with
 * its caps (`_layer_limits.ts`) and checks.
 */
export async function importTar(
  ctx: Context,
  input: ReadableStream<Uint8Array>,
  o: ImportOptions,
): Promise<ImageRecord> {
  if (o.name !== null) parseReference(o.name);
  const limits = layerLimitsFrom(ctx.env, o.maxUnpackedSize);
  const store = storeOf(ctx);
  await loadNode();
  store.init();
  return await withBlobTemp(store, async (blobTmp, file) => {
    const layer = await writeLayerBlob(await plainTar(input), file, {
      bytes: limits.maxBytes,
      what: `${formatSize(limits.maxBytes)} (the cap, ${limits.bytesCap ?? "max unpacked size"})`,
    });
    file.close();
    return await publish(ctx, store, {
      blobTmp,
      layer,
      parent: null,
      cfg: baseConfig(store, null),
      section: {},
      createdBy: `berth import ${o.source}`,
      comment: "imported from tarball",
      author: null,
      name: o.name,
      limits,
    });
  });
}

/** `input` decompressed when it starts with gzip's magic bytes. */
async function plainTar(input: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const reader = input.getReader();
  let head = new Uint8Array(0);
  while (head.length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(head.length + value.length);
    joined.set(head);
    joined.set(value, head.length);
    head = joined;
  }
  const first = head;
  const whole = new ReadableStream<Uint8Array>({
    start(ctl) {
      if (first.length > 0) ctl.enqueue(first);
    },
    async pull(ctl) {
      const { value, done } = await reader.read();
      if (done) ctl.close();
      else ctl.enqueue(value);
    },
    cancel: (why) => reader.cancel(why),
  });
  if (first[0] === 0x1f && first[1] === 0x8b) return decompress(whole, "gzip");
  return whole;
}

/** Runs `fn` with a new blob file in the store's tmp/ (gc removes one a killed berth left). */
async function withBlobTemp<T>(
  store: ImageStore,
  fn: (path: string, file: Deno.FsFile) => Promise<T>,
): Promise<T> {
  const path = join(store.tmpDir, `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.commit`);
  const file = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
  try {
    return await fn(path, file);
  } finally {
    try {
      file.close();
    } catch { /* closed */ }
    try {
      removeTree(path);
    } catch { /* gc removes it */ }
  }
}

/**
 * The config's history with one entry per layer at least: a parent whose
 * config lists fewer (none, often) gets entries for its missing layers
 * first, so each history entry that made a layer still names its own.
 */
function historyOf(cfg: FullConfig): Record<string, unknown>[] {
  const h = cfg.history ?? [];
  const missing = cfg.rootfs.diff_ids.length - h.filter((e) => e.empty_layer !== true).length;
  const pad = Array.from({ length: Math.max(0, missing) }, () => ({
    ...(typeof cfg.created === "string" ? { created: cfg.created } : {}),
    created_by: "",
  }));
  return [...pad, ...h];
}

/** What {@linkcode publish} records. */
interface Publication {
  blobTmp: string;
  layer: WrittenLayer;
  parent: ImageRecord | null;
  cfg: FullConfig;
  section: ContainerConfigSection;
  createdBy: string;
  comment: string | null;
  author: string | null;
  name: string | null;
  limits: LayerLimits;
  /** `build`: the history time, cache key and a hook called with the ID before it is recorded. */
  step?: StepExtras;
}

/** What a build step adds to a publication. */
interface StepExtras {
  created: string;
  cacheKey: string | null;
  beforeRecord: (id: string) => Promise<void>;
}

/**
 * Publishes the layer in `p.blobTmp` on top of the parent's through
 * `ensureLayers`, then stores config and manifest and records the image.
 */
async function publish(ctx: Context, store: ImageStore, p: Publication): Promise<ImageRecord> {
  crashPoint(ctx.crashAt, "commit:layer");
  const refuse = (): Promise<ReadableStream<Uint8Array>> => {
    throw new RuntimeError("a parent layer went missing during the commit");
  };
  const sources: LayerSource[] = [
    ...(p.parent?.layers ?? []).map((l) => ({
      diffId: l.diffId,
      digest: l.digest,
      size: l.size,
      mediaType: OCI_MEDIA[l.mediaType] ?? l.mediaType,
      open: refuse,
    })),
    {
      diffId: p.layer.diffId,
      digest: p.layer.digest,
      size: p.layer.size,
      mediaType: OCI_LAYER_GZIP,
      open: async () => (await Deno.open(p.blobTmp, { read: true })).readable,
    },
  ];
  const { records, release } = await ensureLayers(store, sources, quietProgress, null, p.limits);
  try {
    crashPoint(ctx.crashAt, "commit:published");
    const created = p.step?.created ?? ctx.clock.now().toISOString();
    const entry: Record<string, unknown> = { created, created_by: p.createdBy };
    if (p.comment !== null) entry.comment = p.comment;
    if (p.author !== null) entry.author = p.author;
    const config: FullConfig = {
      ...p.cfg,
      created,
      ...(p.author !== null ? { author: p.author } : {}),
      config: p.section,
      rootfs: { type: "layers", diff_ids: [...p.cfg.rootfs.diff_ids, p.layer.diffId] },
      history: [...historyOf(p.cfg), entry],
    };
    const configBytes = new TextEncoder().encode(JSON.stringify(config));
    const configDigest = await sha256Of(configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: configBytes.length,
      },
      layers: records.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
    const manifestDigest = await sha256Of(manifestBytes);
    await store.writeBlob(configDigest, configBytes);
    await store.writeBlob(manifestDigest, manifestBytes);
    crashPoint(ctx.crashAt, "commit:blobs");
    await p.step?.beforeRecord(configDigest);
    return await store.add({
      id: configDigest,
      manifestDigest,
      names: p.name === null ? [] : [formatReference(parseReference(p.name))],
      layers: records,
      created,
      size: imageSize(records),
      ...(p.step?.cacheKey ? { cacheKeys: [p.step.cacheKey] } : {}),
    });
  } finally {
    release();
  }
}

/** One build step to record (`build`). */
export interface StepRequest {
  /** The image below, or null (`FROM scratch`). */
  parent: ImageRecord | null;
  /** The step's tree (a RUN's overlay upper, or a COPY's staged files), or null: config only. */
  tree: string | null;
  mode: DiffMode;
  /** The new config section, whole. */
  config: ContainerConfigSection;
  /** The history entry's `created_by`. */
  createdBy: string;
  /** The config's `author` (MAINTAINER), or undefined: the parent's. */
  author?: string;
  /** The history time (ISO): now, or `--timestamp`. */
  created: string;
  /** `--timestamp`: layer mtimes are clamped to it (seconds), or null. */
  maxMtime: number | null;
  /** The step's cache key, recorded on the image, or null (`--no-cache`). */
  cacheKey: string | null;
  /** Called with the new image's ID before it is recorded (the build's use of it). */
  beforeRecord: (id: string) => Promise<void>;
}

/**
 * Records one build step as an image: with a tree, its layer on the
 * parent's (published as a commit's is); without, the parent's layers
 * with a new config (an `empty_layer` history entry).
 */
export async function commitStep(ctx: Context, req: StepRequest): Promise<ImageRecord> {
  const store = storeOf(ctx);
  await loadNode();
  store.init();
  const cfg = baseConfig(store, req.parent);
  if (req.tree !== null) {
    return await withBlobTemp(store, async (blobTmp, file) => {
      const layer = await writeLayerBlob(treeTar(req.tree!, req.mode, req.maxMtime), file);
      file.close();
      return await publish(ctx, store, {
        blobTmp,
        layer,
        parent: req.parent,
        cfg,
        section: req.config,
        createdBy: req.createdBy,
        comment: null,
        author: null,
        name: null,
        limits: layerLimitsFrom(ctx.env, Infinity), // the build's own files
        step: { created: req.created, cacheKey: req.cacheKey, beforeRecord: req.beforeRecord },
      });
    });
  }
  const config: FullConfig = {
    ...cfg,
    created: req.created,
    ...(req.author !== undefined ? { author: req.author } : {}),
    config: req.config,
    history: [...historyOf(cfg), {
      created: req.created,
      created_by: req.createdBy,
      empty_layer: true,
    }],
  };
  const layers = req.parent?.layers ?? [];
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configDigest = await sha256Of(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: configBytes.length,
    },
    layers: layers.map((l) => ({
      mediaType: OCI_MEDIA[l.mediaType] ?? l.mediaType,
      digest: l.digest,
      size: l.size,
    })),
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const manifestDigest = await sha256Of(manifestBytes);
  await store.writeBlob(configDigest, configBytes);
  await store.writeBlob(manifestDigest, manifestBytes);
  await req.beforeRecord(configDigest);
  const rec = await store.add({
    id: configDigest,
    manifestDigest,
    names: [],
    layers,
    created: req.created,
    size: layers.reduce((n, l) => n + l.size, 0),
    ...(req.cacheKey !== null ? { cacheKeys: [req.cacheKey] } : {}),
  });
  // No layer lock guarded these blobs until the record listed them: a prune meanwhile may
  // have taken them (the record keeps them from now on).
  if (!store.hasBlob(configDigest)) await store.writeBlob(configDigest, configBytes);
  if (!store.hasBlob(manifestDigest)) await store.writeBlob(manifestDigest, manifestBytes);
  return rec;
}
