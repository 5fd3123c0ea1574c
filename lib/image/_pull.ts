/**
 * `pull`: resolve a reference to one platform's manifest, verify the
 * manifest, config and every layer, commit the layers, then record the
 * image in one atomic step (a pull killed before that leaves nothing an
 * `images` listing shows; `gc` removes its partial downloads).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { RuntimeError } from "../host/errors.ts";
import { crashPoint } from "../container/crash.ts";
import { authFilePath, lookupCredentials } from "./_auth.ts";
import {
  choosePlatform,
  hostPlatform,
  type Manifest,
  parseImageConfig,
  parseManifestDoc,
  type Platform,
} from "./_manifest.ts";
import type { Progress } from "./_progress.ts";
import { formatReference, type ImageRef, parseReference } from "./_reference.ts";
import { RegistryClient, type Transport } from "./_registry.ts";
import { registryLimitsOf } from "./_registry_limits.ts";

export { registryLimitsOf } from "./_registry_limits.ts";
import { formatSize } from "./_body_limits.ts";
import { ensureLayers } from "./_layers.ts";
import { type ImageRecord, imageSize } from "./_store.ts";
import { storeOf } from "./_local.ts";
import { sha256Of, verifyBytes } from "./_verify.ts";
import { loadNode } from "./_node.ts";
import { layerLimitsFrom } from "./_layer_limits.ts";

/** Options of {@linkcode pullImage}. */
export interface PullOptions {
  platform?: Platform;
  progress: Progress;
  insecure?: boolean;
  transport?: Transport;
  /** `--max-unpacked-size` in bytes (Infinity: none); absent: BERTH_MAX_LAYER_SIZE or none. */
  maxUnpackedSize?: number;
}

/** An image config larger than this is refused, whatever its manifest declares. */
export const CONFIG_MAX_BYTES = 8 << 20;

/** Pulls `text`; returns the image record. */
export async function pullImage(ctx: Context, text: string, o: PullOptions): Promise<ImageRecord> {
  const ref = parseReference(text);
  layerLimitsFrom(ctx.env, o.maxUnpackedSize); // a bad cap is exit 2 before anything is fetched
  return await pullRef(ctx, ref, o);
}

async function pullRef(ctx: Context, ref: ImageRef, o: PullOptions): Promise<ImageRecord> {
  const client = new RegistryClient(ref, {
    ...registryLimitsOf(ctx.env),
    credentials: lookupCredentials(
      ref.registry,
      authFilePath(ctx.paths.dataRoot, ctx.env),
      ctx.env,
    ),
    ...(o.insecure === true ? { insecure: true } : {}),
    ...(o.transport !== undefined ? { transport: o.transport } : {}),
  });
  const store = storeOf(ctx);
  const name = formatReference(ref);
  // node-tar and node's crypto load (~20 ms) while the manifest and config
  // come; those are checked by WebCrypto, which needs no node module.
  const node = loadNode();
  node.catch(() => {}); // awaited before the layers
  let doc = await client.manifest(ref.digest ?? ref.tag!);
  if (ref.digest !== null) await verifyBytes(doc.bytes, ref.digest, null, `manifest of ${name}`);
  let parsed = parseManifestDoc(doc.bytes, doc.contentType);
  if (parsed.kind === "index") {
    const d = choosePlatform(parsed.index, o.platform ?? hostPlatform());
    doc = await client.manifest(d.digest);
    await verifyBytes(doc.bytes, d.digest, d.size, `manifest ${d.digest}`);
    parsed = parseManifestDoc(doc.bytes, doc.contentType);
    if (parsed.kind !== "manifest") throw new RuntimeError(`${name}: an index inside an index`);
  }
  const manifest: Manifest = parsed.manifest;
  const manifestDigest = await sha256Of(doc.bytes);
  if (manifest.config.size > CONFIG_MAX_BYTES) {
    throw new RuntimeError(
      `config of ${name}: ${manifest.config.size} bytes declared, more than the ${
        formatSize(CONFIG_MAX_BYTES)
      } allowed`,
    );
  }
  const configBytes = await client.smallBlob(
    manifest.config.digest,
    manifest.config.size,
    `config of ${name}`,
  );
  await verifyBytes(configBytes, manifest.config.digest, manifest.config.size, `config of ${name}`);
  const config = parseImageConfig(configBytes, manifest.layers.length);
  crashPoint(ctx.crashAt, "pull:manifest");
  const layers = manifest.layers.map((l, i) => ({
    diffId: config.rootfs.diff_ids[i]!,
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
    open: (signal: AbortSignal) => client.blob(l.digest, signal),
  }));
  await node;
  const { records, release } = await ensureLayers(
    store,
    layers,
    o.progress,
    ctx.crashAt,
    layerLimitsFrom(ctx.env, o.maxUnpackedSize),
  );
  try {
    await store.writeBlob(manifestDigest, doc.bytes);
    await store.writeBlob(manifest.config.digest, configBytes);
    crashPoint(ctx.crashAt, "pull:blobs");
    return await store.add({
      id: manifest.config.digest,
      manifestDigest,
      names: [name],
      layers: records,
      created: typeof config.created === "string" ? config.created : null,
      size: imageSize(records),
    });
  } finally {
    release();
  }
}
