/**
 * `save`: images of the store written as one docker-archive (`docker
 * save`'s format: `manifest.json`, `HEX.json` configs, each layer once as
 * its uncompressed tar `DIFFID.tar`) or OCI archive (an OCI image layout:
 * `oci-layout`, `index.json`, `blobs/sha256/HEX`, the manifests and layer
 * blobs byte for byte as pulled). Layers shared by several images are
 * stored once. Every blob is checked as it is written (an OCI blob's
 * digest, a docker-archive layer's diff_id).
 *
 * To a file, the archive is written to `.NAME.tmp-PID-RAND` beside it,
 * fsync'd and renamed into place (`writeBeside`, lib/host/atomic_file.ts):
 * a save that fails removes its temp file, one that is killed leaves only
 * that temp file (never a partial FILE), which the next save to the same
 * FILE or `berth gc` removes.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { resolve } from "../_std/path.ts";
import { writeBeside } from "../host/atomic_file.ts";
import { RuntimeError } from "../host/errors.ts";
import { compressionOf, MediaType } from "./_manifest.ts";
import { formatReference, parseReference } from "./_reference.ts";
import { storeOf } from "./_local.ts";
import { openStoredImage, type StoredImage } from "./_stored_image.ts";
import { fileSink, TarWriter } from "./_tar_writer.ts";
import { decompress } from "./_unpack.ts";
import { loadNode } from "./_node.ts";
import { sha256 } from "./_verify.ts";

/** Archive formats of `save`. */
export type SaveFormat = "docker-archive" | "oci-archive";

/** Options of {@linkcode saveImages}. */
export interface SaveOptions {
  format: SaveFormat;
  /** A file path, or null: stdout. */
  output: string | null;
}

const hex = (d: string) => d.slice(7);

/** Decompressed chunks of a docker-archive layer: 64 KiB (see `decompress`). */
const WRITE_CHUNK_BYTES = 64 << 10;

/** The blob file's bytes from its start, in 1 MiB chunks (the file stays open). */
async function* chunksOf(file: Deno.FsFile): AsyncGenerator<Uint8Array> {
  file.seekSync(0, Deno.SeekMode.Start);
  for (;;) {
    const b = new Uint8Array(1 << 20);
    const n = await file.read(b);
    if (n === null) return;
    yield b.subarray(0, n);
  }
}

/** Passes chunks through, hashing them; `check()` compares at the end. */
function hashing(src: AsyncIterable<Uint8Array>, want: string, what: string) {
  const h = sha256();
  return {
    async *[Symbol.asyncIterator]() {
      for await (const c of src) {
        h.update(c);
        yield c;
      }
      const got = h.digest();
      if (got !== want) throw new RuntimeError(`${what}: digest ${got}, expected ${want}`);
    },
  };
}

/** The names `text` gives `img`: the reference itself if it is one of the image's names, else none. */
function namesFor(text: string, names: string[]): string[] {
  try {
    const n = formatReference(parseReference(text));
    if (names.includes(n)) return [n];
  } catch { /* an ID */ }
  return [];
}

async function writeDocker(
  tar: TarWriter,
  images: StoredImage[],
  tags: Map<string, string[]>,
  crashAt: string | null,
) {
  const written = new Set<string>();
  const entries = [];
  for (const img of images) {
    const configName = `${hex(img.record.id)}.json`;
    if (!written.has(configName)) {
      tar.bytes(configName, img.configBytes);
      written.add(configName);
    }
    const layers: string[] = [];
    for (const l of img.layers) {
      const name = `${hex(l.diffId)}.tar`;
      layers.push(name);
      if (written.has(name)) continue;
      const compression = compressionOf(l.mediaType);
      const tarStream = () =>
        compression === "none"
          ? chunksOf(l.file)
          : decompress(ReadableStream.from(chunksOf(l.file)), compression, WRITE_CHUNK_BYTES);
      let size: number | undefined;
      if (!tar.canPatch) {
        // A pipe: the uncompressed size must be in the header, so count it first.
        size = 0;
        for await (const c of tarStream()) size += c.length;
      }
      await tar.stream(name, hashing(tarStream(), l.diffId, `layer ${l.digest}`), size);
      written.add(name);
      crashPoint(crashAt, "save:partial");
    }
    entries.push({
      Config: configName,
      RepoTags: tags.get(img.record.id) ?? [],
      Layers: layers,
    });
  }
  tar.bytes("manifest.json", new TextEncoder().encode(JSON.stringify(entries)));
}

async function writeOci(
  tar: TarWriter,
  images: StoredImage[],
  tags: Map<string, string[]>,
  crashAt: string | null,
) {
  const enc = new TextEncoder();
  tar.bytes("oci-layout", enc.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  tar.dir("blobs/");
  tar.dir("blobs/sha256/");
  const written = new Set<string>();
  const manifests = [];
  const small = (digest: string, bytes: Uint8Array) => {
    if (written.has(digest)) return;
    tar.bytes(`blobs/sha256/${hex(digest)}`, bytes);
    written.add(digest);
  };
  for (const img of images) {
    for (const l of img.layers) {
      if (written.has(l.digest)) continue;
      const name = `blobs/sha256/${hex(l.digest)}`;
      await tar.stream(name, hashing(chunksOf(l.file), l.digest, `layer ${l.digest}`), l.size);
      written.add(l.digest);
      crashPoint(crashAt, "save:partial");
    }
    small(img.record.id, img.configBytes);
    small(img.record.manifestDigest, img.manifestBytes);
    const desc = {
      mediaType: img.manifestType,
      digest: img.record.manifestDigest,
      size: img.manifestBytes.length,
    };
    const names = tags.get(img.record.id) ?? [];
    if (names.length === 0) manifests.push(desc);
    // The full name as ref.name, as podman writes it (a bare tag would make
    // images of different repositories with the same tag ambiguous).
    for (const n of names) {
      manifests.push({
        ...desc,
        annotations: { "io.containerd.image.name": n, "org.opencontainers.image.ref.name": n },
      });
    }
  }
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
  tar.bytes("index.json", enc.encode(JSON.stringify(index)));
}

/** Saves the images named by `refs` (references or IDs); returns nothing, the archive is out. */
export async function saveImages(ctx: Context, refs: string[], o: SaveOptions): Promise<void> {
  const store = storeOf(ctx);
  const tags = new Map<string, string[]>();
  const images: StoredImage[] = [];
  try {
    for (const text of refs) {
      const rec = store.get(text);
      const names = namesFor(text, rec.names).filter((n) => !n.includes("@"));
      tags.set(rec.id, [...new Set([...(tags.get(rec.id) ?? []), ...names])]);
      if (images.some((i) => i.record.id === rec.id)) continue;
      images.push(openStoredImage(store, rec, "save"));
    }
    if (o.format === "docker-archive" || images.some((i) => i.layers.length > 0)) await loadNode();
    const write = (tar: TarWriter) =>
      o.format === "docker-archive"
        ? writeDocker(tar, images, tags, ctx.crashAt)
        : writeOci(tar, images, tags, ctx.crashAt);
    if (o.output === null) {
      const tar = new TarWriter(fileSink(Deno.stdout, null));
      await write(tar);
      await tar.end();
      return;
    }
    await writeBeside(resolve(o.output), o.output, async (file) => {
      const tar = new TarWriter(fileSink(file, file));
      await write(tar);
      await tar.end();
    }, {
      journal: ctx.paths.outputsJournal,
      onWritten: () => crashPoint(ctx.crashAt, "save:written"),
    });
  } finally {
    for (const i of images) i.close();
  }
}
