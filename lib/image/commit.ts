/**
 * Making an image from a directory tree on top of a parent image: the
 * tree's layer (`layer_diff.ts`) is gzipped into the store's tmp/, then
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
import { applyChange, type ContainerConfigSection } from "./config_changes.ts";
import { type DiffMode, treeTar, writeLayerBlob } from "./layer_diff.ts";
import { ensureLayers, type LayerSource } from "./layers.ts";
import { layerLimitsFrom } from "./layer_limits.ts";
import { storeOf } from "./local.ts";
import { MediaType } from "./manifest.ts";
import { loadNode } from "./node.ts";
import { quietProgress } from "./progress.ts";
import type { ImageRecord, ImageStore } from "./store.ts";
import { sha256Of } from "./verify.ts";
import { formatReference, parseReference } from "./reference.ts";

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
  for (const c of req.changes) applyChange(section, c);
  const parentLayers = req.parent?.layers ?? [];
  for (const l of parentLayers) {
    if (!store.hasBlob(l.digest)) {
      throw new RuntimeError(
        `cannot commit on image ${
          req.parent!.id
        }: the blob of its layer ${l.digest} is not stored (an image pulled before berth kept blobs): pull it again`,
      );
    }
  }
  const blobTmp = join(store.tmpDir, `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.commit`);
  let file: Deno.FsFile | null = Deno.openSync(blobTmp, {
    write: true,
    createNew: true,
    mode: 0o600,
  });
  try {
    const layer = await writeLayerBlob(treeTar(req.tree, req.mode), file);
    file.close();
    file = null;
    crashPoint(ctx.crashAt, "commit:layer");
    const refuse = (): Promise<ReadableStream<Uint8Array>> => {
      throw new RuntimeError("a parent layer went missing during the commit");
    };
    const sources: LayerSource[] = [
      ...parentLayers.map((l) => ({
        diffId: l.diffId,
        digest: l.digest,
        size: l.size,
        mediaType: OCI_MEDIA[l.mediaType] ?? l.mediaType,
        open: refuse,
      })),
      {
        diffId: layer.diffId,
        digest: layer.digest,
        size: layer.size,
        mediaType: OCI_LAYER_GZIP,
        open: async () => (await Deno.open(blobTmp, { read: true })).readable,
      },
    ];
    const { records, release } = await ensureLayers(
      store,
      sources,
      quietProgress,
      null,
      layerLimitsFrom(ctx.env, Infinity),
    );
    try {
      crashPoint(ctx.crashAt, "commit:published");
      const created = ctx.clock.now().toISOString();
      const entry: Record<string, unknown> = { created, created_by: req.createdBy };
      if (req.comment !== null) entry.comment = req.comment;
      if (req.author !== null) entry.author = req.author;
      const config: FullConfig = {
        ...cfg,
        created,
        ...(req.author !== null ? { author: req.author } : {}),
        config: section,
        rootfs: { type: "layers", diff_ids: [...cfg.rootfs.diff_ids, layer.diffId] },
        history: [...(cfg.history ?? []), entry],
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
      return await store.add({
        id: configDigest,
        manifestDigest,
        names: req.name === null ? [] : [formatReference(parseReference(req.name))],
        layers: records,
        created,
        size: records.reduce((n, l) => n + l.size, 0),
      });
    } finally {
      release();
    }
  } finally {
    file?.close();
    try {
      removeTree(blobTmp);
    } catch { /* gc removes it */ }
  }
}
