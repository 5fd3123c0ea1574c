/**
 * Test images without any image tool: a small tar writer (so tests can
 * craft exactly the entries they need, hostile ones included), OCI layouts,
 * OCI and docker archives, and the busybox rootfs as a layer.
 */

import { join } from "../lib/_std/path.ts";

/** One tar entry. */
export interface TarEntry {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo" | "pax";
  data?: Uint8Array | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  /** Pax records written in an extended header ('x') before the entry. */
  pax?: Record<string, string | Uint8Array>;
}

const enc = new TextEncoder();
const TYPES = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
  pax: "x",
};

function put(h: Uint8Array, off: number, len: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > len) throw new Error(`tar field too long: ${s}`);
  h.set(b, off);
}
const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";

/** One pax record: `LEN KEY=VALUE\n`, LEN counting the whole record in bytes. */
export function paxRecord(key: string, value: string | Uint8Array): Uint8Array {
  const body = concat([
    enc.encode(` ${key}=`),
    typeof value === "string" ? enc.encode(value) : value,
    enc.encode("\n"),
  ]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return concat([enc.encode(String(len)), body]);
}

/** A ustar archive of `entries` (names up to 255 bytes). */
export function tarOf(entries: TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if (e.pax !== undefined) {
      const records = concat(Object.entries(e.pax).map(([k, v]) => paxRecord(k, v)));
      parts.push(tarOf([{ name: "PaxHeader", type: "pax", data: records }]).subarray(0, -1024));
    }
    const type = e.type ?? "file";
    const data = type === "file" || type === "pax"
      ? (typeof e.data === "string" ? enc.encode(e.data) : e.data ?? new Uint8Array())
      : new Uint8Array();
    const h = new Uint8Array(512);
    let name = e.name;
    let prefix = "";
    if (enc.encode(name).length > 100) {
      const i = name.lastIndexOf("/", name.length - 2 > 155 ? 155 : name.length - 2);
      prefix = name.slice(0, i);
      name = name.slice(i + 1);
    }
    put(h, 0, 100, name);
    put(h, 100, 8, oct(e.mode ?? (type === "dir" ? 0o755 : 0o644), 8));
    put(h, 108, 8, oct(e.uid ?? 0, 8));
    put(h, 116, 8, oct(e.gid ?? 0, 8));
    put(h, 124, 12, oct(data.length, 12));
    put(h, 136, 12, oct(1700000000, 12));
    put(h, 148, 8, "        ");
    put(h, 156, 1, TYPES[type]);
    put(h, 157, 100, e.linkname ?? "");
    put(h, 257, 6, "ustar\0");
    put(h, 263, 2, "00");
    put(h, 329, 8, oct(e.devmajor ?? 0, 8));
    put(h, 337, 8, oct(e.devminor ?? 0, 8));
    put(h, 345, 155, prefix);
    let sum = 0;
    for (const b of h) sum += b;
    put(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    parts.push(h, data);
    if (data.length % 512 !== 0) parts.push(new Uint8Array(512 - (data.length % 512)));
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** gzip of `bytes`. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** `sha256:HEX`. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return "sha256:" + [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The tar entries of a directory tree (files, dirs, symlinks), paths relative. */
export function treeEntries(dir: string, prefix = ""): TarEntry[] {
  const out: TarEntry[] = [];
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    const rel = prefix + e.name;
    const st = Deno.lstatSync(p);
    const mode = (st.mode ?? 0o644) & 0o7777;
    if (st.isSymlink) out.push({ name: rel, type: "symlink", linkname: Deno.readLinkSync(p) });
    else if (st.isDirectory) {
      out.push({ name: rel + "/", type: "dir", mode });
      out.push(...treeEntries(p, rel + "/"));
    } else out.push({ name: rel, data: Deno.readFileSync(p), mode });
  }
  return out;
}

/** An image to write: layers (tars, bottom first) and config defaults. */
export interface ImageSpec {
  layers: Uint8Array[];
  config?: Record<string, unknown>;
  /** Layer compression (default gzip). */
  compression?: "gzip" | "none";
  created?: string;
  /** The config's architecture (default: this host's). */
  architecture?: string;
}

/** What {@linkcode writeOciLayout} wrote. */
export interface Written {
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
  /** OCI chain IDs, the names of the unpacked layers in berth's store (bottom: the diff_id). */
  chainIds: string[];
}

/** Writes (or adds to) an OCI image layout in `dir`, tagged `tag`. */
export async function writeOciLayout(dir: string, tag: string, spec: ImageSpec): Promise<Written> {
  Deno.mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const blob = async (bytes: Uint8Array) => {
    const d = await sha256(bytes);
    Deno.writeFileSync(join(dir, "blobs", "sha256", d.slice(7)), bytes);
    return d;
  };
  const diffIds: string[] = [];
  const layers: { mediaType: string; digest: string; size: number }[] = [];
  for (const tar of spec.layers) {
    diffIds.push(await sha256(tar));
    const body = spec.compression === "none" ? tar : await gzip(tar);
    layers.push({
      mediaType: spec.compression === "none"
        ? "application/vnd.oci.image.layer.v1.tar"
        : "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: await blob(body),
      size: body.length,
    });
  }
  const config = enc.encode(JSON.stringify({
    created: spec.created ?? "2026-01-01T00:00:00Z",
    architecture: spec.architecture ?? (Deno.build.arch === "x86_64" ? "amd64" : "arm64"),
    os: "linux",
    config: spec.config ?? {},
    rootfs: { type: "layers", diff_ids: diffIds },
  }));
  const configDigest = await blob(config);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers,
  }));
  const manifestDigest = await blob(manifest);
  Deno.writeTextFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  let index: { schemaVersion: number; manifests: unknown[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(Deno.readTextFileSync(join(dir, "index.json")));
  } catch { /* new */ }
  index.manifests.push({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: manifestDigest,
    size: manifest.length,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  Deno.writeTextFileSync(join(dir, "index.json"), JSON.stringify(index));
  const chainIds: string[] = [];
  for (const d of diffIds) {
    const below = chainIds[chainIds.length - 1];
    chainIds.push(below === undefined ? d : await sha256(enc.encode(`${below} ${d}`)));
  }
  return {
    manifestDigest,
    configDigest,
    layerDigests: layers.map((l) => l.digest),
    diffIds,
    chainIds,
  };
}

/**
 * Writes a multi-platform image into the OCI layout `dir`: one manifest per
 * architecture under an image index tagged `tag`.
 */
export async function writeOciIndex(
  dir: string,
  tag: string,
  images: { architecture: string; spec: ImageSpec }[],
): Promise<Record<string, Written>> {
  const out: Record<string, Written> = {};
  const manifests: unknown[] = [];
  for (const { architecture, spec } of images) {
    const w = await writeOciLayout(dir, `tmp-${architecture}`, { ...spec, architecture });
    out[architecture] = w;
    const size = Deno.statSync(join(dir, "blobs", "sha256", w.manifestDigest.slice(7))).size;
    manifests.push({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: w.manifestDigest,
      size,
      platform: { os: "linux", architecture },
    });
  }
  const index = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests,
  }));
  const digest = await sha256(index);
  Deno.writeFileSync(join(dir, "blobs", "sha256", digest.slice(7)), index);
  const top = JSON.parse(Deno.readTextFileSync(join(dir, "index.json")));
  top.manifests = top.manifests.filter((m: { annotations?: Record<string, string> }) =>
    !m.annotations?.["org.opencontainers.image.ref.name"]?.startsWith("tmp-")
  );
  top.manifests.push({
    mediaType: "application/vnd.oci.image.index.v1+json",
    digest,
    size: index.length,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  Deno.writeTextFileSync(join(dir, "index.json"), JSON.stringify(top));
  return out;
}

/** A tar of every file below `dir` (for OCI archives). */
export function tarOfTree(dir: string): Uint8Array {
  return tarOf(treeEntries(dir));
}

/** A docker-archive (`docker save`) tar of one image. */
export async function dockerArchive(repoTag: string, spec: ImageSpec): Promise<Uint8Array> {
  const diffIds: string[] = [];
  const entries: TarEntry[] = [];
  const layerNames: string[] = [];
  for (const tar of spec.layers) {
    const d = await sha256(tar);
    diffIds.push(d);
    entries.push({ name: `${d.slice(7)}/`, type: "dir" }, {
      name: `${d.slice(7)}/layer.tar`,
      data: tar,
    });
    layerNames.push(`${d.slice(7)}/layer.tar`);
  }
  const config = enc.encode(JSON.stringify({
    created: spec.created ?? "2026-01-01T00:00:00Z",
    architecture: "amd64",
    os: "linux",
    config: spec.config ?? {},
    rootfs: { type: "layers", diff_ids: diffIds },
  }));
  const cd = await sha256(config);
  entries.push({ name: `${cd.slice(7)}.json`, data: config });
  entries.push({
    name: "manifest.json",
    data: JSON.stringify([{
      Config: `${cd.slice(7)}.json`,
      RepoTags: [repoTag],
      Layers: layerNames,
    }]),
  });
  return tarOf(entries);
}

/** The busybox rootfs as one layer tar. */
export function busyboxLayer(rootfs: string): Uint8Array {
  // Directories readable by every user (the rootfs may have been made under umask 077).
  return tarOf(
    treeEntries(rootfs).map((e) => e.type === "dir" ? { ...e, mode: (e.mode ?? 0) | 0o755 } : e),
  );
}
