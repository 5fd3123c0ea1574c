/**
 * `load -i`: a docker-archive tar (`docker save`), an OCI archive tar, or
 * an OCI image-layout directory. A tar is first unpacked (node-tar, into
 * the store's tmp/, removed afterwards) into a directory, its big members
 * left in the archive and read from there (`_archive_members.ts`); every blob is
 * verified like a pulled one (OCI: digest and size; docker-archive: the
 * layers' diff_ids), and images are recorded only once all their layers
 * are committed.
 *
 * @module
 */

import { loadNode, nodeSync } from "./_node.ts";
import type { Context } from "../container/context.ts";
import { InvalidArgument, isNotFound, RuntimeError } from "../host/errors.ts";
import { join, resolve } from "../_std/path.ts";
import { removeTree } from "../container/bundle.ts";
import { ensureLayers, type LayerSource } from "./_layers.ts";
import {
  choosePlatform,
  hostPlatform,
  type Manifest,
  MediaType,
  parseImageConfig,
  parseManifestDoc,
} from "./_manifest.ts";
import type { Progress } from "./_progress.ts";
import { formatReference, isDigest, parseReference } from "./_reference.ts";
import { type ImageRecord, imageSize } from "./_store.ts";
import { streamed } from "./_garbage.ts";
import { ArchiveMembers, ArchiveSlimmer } from "./_archive_members.ts";
import { storeOf } from "./_local.ts";
import { isWriteError } from "./_unpack.ts";
import { layerLimitsFrom } from "./_layer_limits.ts";
import { sha256, sha256Of, verifyBytes } from "./_verify.ts";

function readJson(root: string, rel: string, m: ArchiveMembers): unknown {
  const path = inside(root, rel);
  try {
    return JSON.parse(new TextDecoder().decode(m.read(path)));
  } catch (err) {
    throw new InvalidArgument(`not an image archive: ${rel}: ${(err as Error).message}`);
  }
}

/**
 * The regular file `rel` of the archive unpacked (or the layout) in `root`,
 * by its real path. Refused (InvalidArgument): a name that leaves `root`, a
 * symlink (or chain of them) that leads out of it, anything but a regular
 * file. docker-archive's own symlinks (a layer saved once, linked from
 * another image's directory) stay inside and are followed.
 */
function inside(root: string, rel: string): string {
  if (rel.split("/").includes("..") || rel.startsWith("/")) {
    throw new InvalidArgument(`malformed archive: path "${rel}"`);
  }
  let real: string;
  try {
    real = Deno.realPathSync(join(root, rel));
  } catch (err) {
    if (isNotFound(err)) throw new InvalidArgument(`not an image archive: ${rel} is missing`);
    throw new InvalidArgument(`malformed archive: ${rel}: ${(err as Error).message}`);
  }
  const top = Deno.realPathSync(root);
  if (!real.startsWith(top + "/")) {
    throw new InvalidArgument(`malformed archive: ${rel} leads outside the archive`);
  }
  if (!Deno.statSync(real).isFile) {
    throw new InvalidArgument(`malformed archive: ${rel} is not a file`);
  }
  return real;
}

function fileStream(path: string, m: ArchiveMembers): Promise<ReadableStream<Uint8Array>> {
  try {
    return Promise.resolve(m.stream(path));
  } catch (err) {
    throw new InvalidArgument(`malformed archive: ${(err as Error).message}`);
  }
}

/** Bytes read from an archive at once. */
const READ_CHUNK = 64 * 1024;

/**
 * Unpacks the archive `file` into `dir` (node-tar, strict: any entry it
 * would change or refuse, like an absolute or escaping link, fails it).
 * Synchronous unpacking, so each error is caught where it happens (an
 * error emitted meanwhile used to escape as an unhandled rejection).
 */
function untar(file: string, dir: string): ArchiveMembers {
  const { tar, Buffer } = nodeSync();
  const u = new tar.UnpackSync({ cwd: dir, strict: true, preserveOwner: false });
  let failed: Error | null = null;
  u.on("error", (e: Error) => failed ??= e);
  const slim = new ArchiveSlimmer();
  try {
    const f = Deno.openSync(file);
    try {
      // The data of the members left out (the layers) is passed over, not read: the archive's
      // 225 MB used to stream through here (and through the collections of _garbage.ts).
      outer: while (true) {
        const skip = slim.droppable;
        if (skip > 0) {
          f.seekSync(skip, Deno.SeekMode.Current);
          slim.skipped(skip);
          continue;
        }
        const c = new Uint8Array(READ_CHUNK); // node-tar may keep a view of it: a fresh one each
        const n = f.readSync(c);
        if (n === null) break;
        for (const part of slim.write(c.subarray(0, n))) {
          u.write(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
          if (failed !== null) break outer;
        }
        streamed(n);
      }
    } finally {
      f.close();
    }
    if (failed === null) u.end();
    if (failed !== null) throw failed;
    return new ArchiveMembers(file, dir, slim);
  } catch (err) {
    u.abort?.(err as Error);
    if (isWriteError(err)) {
      throw new RuntimeError(`cannot unpack ${file}: ${(err as Error).message}`);
    }
    throw new InvalidArgument(`malformed archive ${file}: ${(err as Error).message}`);
  }
}

/** One image found in an archive. */
interface Found {
  manifest: Manifest;
  manifestBytes: Uint8Array;
  configBytes: Uint8Array;
  names: string[];
  layers: LayerSource[];
}

async function ociImages(dir: string, m: ArchiveMembers): Promise<Found[]> {
  const layoutFile = readJson(dir, "oci-layout", m) as {
    imageLayoutVersion?: string;
  };
  if (typeof layoutFile?.imageLayoutVersion !== "string") {
    throw new InvalidArgument("not an OCI layout: oci-layout has no imageLayoutVersion");
  }
  const blob = (digest: string) => inside(dir, `blobs/sha256/${digest.slice(7)}`);
  const read = async (digest: string, size: number | null, what: string) => {
    let bytes: Uint8Array;
    try {
      bytes = m.read(blob(digest));
    } catch (err) {
      if (err instanceof InvalidArgument && !err.message.endsWith("is missing")) throw err;
      throw new InvalidArgument(`malformed archive: ${what} ${digest} is missing`);
    }
    await verifyBytes(bytes, digest, size, what);
    return bytes;
  };
  const indexBytes = m.read(inside(dir, "index.json"));
  const top = parseManifestDoc(indexBytes, MediaType.ociIndex);
  if (top.kind !== "index") throw new InvalidArgument("malformed archive: index.json is no index");
  const out: Found[] = [];
  for (const d of top.index.manifests) {
    let bytes = await read(d.digest, d.size, "manifest");
    let doc = parseManifestDoc(bytes, d.mediaType);
    if (doc.kind === "index") {
      const m = choosePlatform(doc.index, hostPlatform());
      bytes = await read(m.digest, m.size, "manifest");
      doc = parseManifestDoc(bytes, m.mediaType);
      if (doc.kind !== "manifest") throw new RuntimeError("an index inside an index");
    }
    const manifest = doc.manifest;
    const configBytes = await read(manifest.config.digest, manifest.config.size, "config");
    const config = parseImageConfig(configBytes, manifest.layers.length);
    const ann = (d as { annotations?: Record<string, string> }).annotations ?? {};
    const refName = ann["io.containerd.image.name"] ?? ann["org.opencontainers.image.ref.name"];
    const names: string[] = [];
    if (refName !== undefined) {
      try {
        // A bare tag ("1.0") names nothing by itself: it is kept as localhost/load:TAG.
        names.push(
          formatReference(
            parseReference(
              /[/:]/.test(refName) || refName.includes(".") ? refName : `localhost/load:${refName}`,
            ),
          ),
        );
      } catch { /* an unusable name: loaded without one */ }
    }
    out.push({
      manifest,
      manifestBytes: bytes,
      configBytes,
      names,
      layers: manifest.layers.map((l, i) => ({
        diffId: config.rootfs.diff_ids[i]!,
        digest: l.digest,
        size: l.size,
        mediaType: l.mediaType,
        open: () => fileStream(blob(l.digest), m),
      })),
    });
  }
  return out;
}

/** True when the member at `path` starts with gzip's magic bytes. */
async function isGzip(path: string, m: ArchiveMembers): Promise<boolean> {
  const reader = m.stream(path).getReader();
  try {
    const head = new Uint8Array(2);
    let n = 0;
    while (n < 2) {
      const r = await reader.read();
      if (r.done) break;
      const take = Math.min(2 - n, r.value.length);
      head.set(r.value.subarray(0, take), n);
      n += take;
    }
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function fileDigest(
  path: string,
  m: ArchiveMembers,
): Promise<{ digest: string; size: number; gzip: boolean }> {
  const h = sha256();
  let size = 0;
  let head: Uint8Array | null = null;
  for await (const c of (await fileStream(path, m))) {
    head ??= c.slice(0, 4);
    h.update(c);
    size += c.length;
    streamed(c.length);
  }
  const gzip = head !== null && head[0] === 0x1f && head[1] === 0x8b;
  return { digest: h.digest(), size, gzip };
}

async function dockerImages(dir: string, m: ArchiveMembers): Promise<Found[]> {
  const list = readJson(dir, "manifest.json", m);
  if (!Array.isArray(list)) {
    throw new InvalidArgument("malformed archive: manifest.json is no list");
  }
  const out: Found[] = [];
  for (const e of list as { Config?: string; RepoTags?: string[] | null; Layers?: string[] }[]) {
    if (typeof e.Config !== "string" || !Array.isArray(e.Layers)) {
      throw new InvalidArgument("malformed archive: an entry lacks Config or Layers");
    }
    const configBytes = m.read(inside(dir, e.Config));
    const config = parseImageConfig(configBytes, e.Layers.length);
    const layers: LayerSource[] = [];
    for (const [i, rel] of e.Layers.entries()) {
      const path = inside(dir, rel);
      const diffId = config.rootfs.diff_ids[i]!;
      // An uncompressed layer is its own blob: its digest is the diff_id, checked (as any
      // blob's) while it streams into the store, so it is not read a first time to hash it.
      const { digest, size, gzip } = await isGzip(path, m)
        ? await fileDigest(path, m)
        : { digest: diffId, size: m.size(path), gzip: false };
      layers.push({
        diffId,
        digest,
        size,
        mediaType: gzip
          ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
          : "application/vnd.docker.image.rootfs.diff.tar",
        open: () => fileStream(path, m),
      });
    }
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: {
        mediaType: "application/vnd.docker.container.image.v1+json",
        digest: await sha256Of(configBytes),
        size: configBytes.length,
      },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const names = (e.RepoTags ?? []).map((t) => formatReference(parseReference(t)));
    out.push({
      manifest,
      manifestBytes: new TextEncoder().encode(JSON.stringify(manifest)),
      configBytes,
      names,
      layers,
    });
  }
  return out;
}

/**
 * Loads every image of `input` (file or directory), each layer capped at
 * `maxUnpackedSize` bytes (`--max-unpacked-size`; absent: the host default);
 * returns their records.
 */
export async function loadArchive(
  ctx: Context,
  input: string,
  progress: Progress,
  maxUnpackedSize?: number,
): Promise<ImageRecord[]> {
  const limits = layerLimitsFrom(ctx.env, maxUnpackedSize);
  await loadNode();
  const path = resolve(input);
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch {
    throw new InvalidArgument(`${input} does not exist`);
  }
  const store = storeOf(ctx);
  let dir = path;
  let tmp: string | null = null;
  let members = new ArchiveMembers(null, dir, null);
  try {
    if (!st.isDirectory) {
      tmp = store.tempDir();
      members = untar(path, tmp);
      dir = tmp;
    }
    let found: Found[];
    try {
      Deno.statSync(join(dir, "oci-layout"));
      found = await ociImages(dir, members);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      found = await dockerImages(dir, members);
    }
    if (found.length === 0) throw new InvalidArgument(`${input}: no images in it`);
    const out: ImageRecord[] = [];
    for (const f of found) {
      for (const l of f.layers) if (!isDigest(l.diffId)) throw new InvalidArgument("bad diff_id");
      const { records, release } = await ensureLayers(
        store,
        f.layers,
        progress,
        ctx.crashAt,
        limits,
      );
      try {
        const manifestDigest = await sha256Of(f.manifestBytes);
        await store.writeBlob(manifestDigest, f.manifestBytes);
        await store.writeBlob(f.manifest.config.digest, f.configBytes);
        const config = JSON.parse(new TextDecoder().decode(f.configBytes)) as { created?: unknown };
        out.push(
          await store.add({
            id: f.manifest.config.digest,
            manifestDigest,
            names: f.names,
            layers: records,
            created: typeof config.created === "string" ? config.created : null,
            size: imageSize(records),
          }),
        );
      } finally {
        release();
      }
    }
    return out;
  } finally {
    if (tmp !== null) removeTree(tmp);
  }
}
