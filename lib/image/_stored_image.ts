/**
 * An image of the store opened for reading out (`push`, `save`): its
 * manifest and config bytes, and a descriptor open on each layer's blob.
 * Everything is opened at once, up front, so a concurrent `rmi` and `gc`
 * that unlink the blobs meanwhile cannot cut a push or save short (an open
 * file outlives its name).
 *
 * @module
 */

import { isNotFound, RuntimeError } from "../host/errors.ts";
import { type Manifest, MediaType, parseManifestDoc } from "./_manifest.ts";
import type { ImageRecord, ImageStore } from "./_store.ts";

/** One layer's blob, open. */
export interface OpenBlob {
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
  file: Deno.FsFile;
}

/** An image opened by {@linkcode openStoredImage}. */
export interface StoredImage {
  record: ImageRecord;
  manifest: Manifest;
  /** The manifest's bytes as pulled (its digest is `record.manifestDigest`). */
  manifestBytes: Uint8Array;
  /** Its media type (the `mediaType` field, else OCI's). */
  manifestType: string;
  configBytes: Uint8Array;
  /** Bottom first. */
  layers: OpenBlob[];
  /** Closes the layer files. */
  close(): void;
}

/**
 * Opens `rec`'s manifest, config and layer blobs. A layer whose blob is not
 * stored (the image was pulled before berth kept layer blobs) fails with
 * one line saying to pull or load it again; `what` names the command.
 */
export function openStoredImage(store: ImageStore, rec: ImageRecord, what: string): StoredImage {
  const name = rec.names[0] ?? rec.id;
  const read = (digest: string, part: string) => {
    try {
      return store.readBlob(digest);
    } catch (err) {
      if (isNotFound(err)) throw new RuntimeError(`cannot ${what} ${name}: its ${part} is missing`);
      throw err;
    }
  };
  const manifestBytes = read(rec.manifestDigest, "manifest");
  const configBytes = read(rec.id, "config");
  const doc = parseManifestDoc(manifestBytes, null);
  if (doc.kind !== "manifest") throw new RuntimeError(`cannot ${what} ${name}: not a manifest`);
  const files: Deno.FsFile[] = [];
  const close = () => {
    for (const f of files.splice(0)) f.close();
  };
  try {
    const layers = rec.layers.map((l) => {
      let file: Deno.FsFile;
      try {
        file = Deno.openSync(store.blobPath(l.digest));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        throw new RuntimeError(
          `cannot ${what} ${name}: layer ${
            l.digest.slice(7, 19)
          } was stored before berth kept layer blobs; pull (or load) the image again`,
        );
      }
      files.push(file);
      return { digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: l.diffId, file };
    });
    const manifestType = doc.manifest.mediaType !== undefined && doc.manifest.mediaType !== ""
      ? doc.manifest.mediaType
      : MediaType.ociManifest;
    return {
      record: rec,
      manifest: doc.manifest,
      manifestBytes,
      manifestType,
      configBytes,
      layers,
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}
