/**
 * Manifests and indexes (OCI and Docker schema 2), their validation, and
 * the platform choice from an index.
 *
 * @module
 */

import { InvalidArgument, RuntimeError } from "../host/errors.ts";
import { isDigest } from "./_reference.ts";

/** Media types berth understands. */
export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** The `Accept` header of a manifest request. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerList,
  MediaType.dockerManifest,
].join(", ");

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

/** An OS/architecture pair. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An image manifest (one platform). */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** An index (manifest list). */
export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The parts of an image config berth uses. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  config?: {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
    User?: string;
    StopSignal?: string;
  };
  rootfs: { type: string; diff_ids: string[] };
}

/** Layer compression, from the layer's media type. */
export type Compression = "gzip" | "zstd" | "none";

function bad(what: string, why: string): RuntimeError {
  return new RuntimeError(`invalid ${what}: ${why}`);
}

function descriptor(v: unknown, what: string): Descriptor {
  const d = v as Descriptor;
  if (
    typeof d !== "object" || d === null || typeof d.mediaType !== "string" ||
    typeof d.digest !== "string" || !isDigest(d.digest) || !Number.isSafeInteger(d.size) ||
    d.size < 0
  ) {
    throw bad(what, "malformed descriptor (sha256 digests only)");
  }
  return d;
}

/** Classifies a manifest document: an index or an image manifest. */
export function parseManifestDoc(
  bytes: Uint8Array,
  contentType: string | null,
): { kind: "index"; index: Index } | { kind: "manifest"; manifest: Manifest } {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw bad("manifest", "not JSON");
  }
  if (typeof v !== "object" || v === null) throw bad("manifest", "not a JSON object");
  const type = (typeof v.mediaType === "string" ? v.mediaType : null) ??
    contentType?.split(";")[0]?.trim() ?? "";
  if (
    v.schemaVersion === 1 || type === MediaType.dockerSchema1 ||
    type === MediaType.dockerSchema1Signed
  ) {
    throw new RuntimeError("Docker schema 1 manifests are not supported (the image is too old)");
  }
  if (v.schemaVersion !== 2) throw bad("manifest", "schemaVersion is not 2");
  if (Array.isArray(v.manifests)) {
    const manifests = v.manifests.map((m) => descriptor(m, "index"));
    return { kind: "index", index: { schemaVersion: 2, mediaType: type, manifests } };
  }
  const config = descriptor(v.config, "manifest");
  if (!Array.isArray(v.layers)) throw bad("manifest", "no layers");
  const layers = v.layers.map((l) => descriptor(l, "manifest"));
  for (const l of layers) compressionOf(l.mediaType);
  return { kind: "manifest", manifest: { schemaVersion: 2, mediaType: type, config, layers } };
}

/** The compression of a layer media type; RuntimeError for an unknown one. */
export function compressionOf(mediaType: string): Compression {
  if (/(\.tar\+gzip|\.tar\.gzip|rootfs\.diff\.tar\.gzip)$/.test(mediaType)) return "gzip";
  if (/\.tar\+zstd$/.test(mediaType)) return "zstd";
  if (/(\.tar|rootfs\.diff\.tar)$/.test(mediaType)) return "none";
  throw new RuntimeError(`unsupported layer media type ${mediaType}`);
}

/** Parses an image config and checks its diff_ids match `layers`. */
export function parseImageConfig(bytes: Uint8Array, layerCount: number): ImageConfig {
  let v: ImageConfig;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw bad("image config", "not JSON");
  }
  const ids = v?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || ids.some((d) => typeof d !== "string" || !isDigest(d))) {
    throw bad("image config", "rootfs.diff_ids missing or not sha256");
  }
  if (ids.length !== layerCount) {
    throw bad("image config", `${ids.length} diff_ids for ${layerCount} layers`);
  }
  return v;
}

/** This host's platform in OCI terms. */
export function hostPlatform(): Platform {
  const arch = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
  return arch === "arm64" ? { os: "linux", architecture: arch, variant: "v8" } : {
    os: "linux",
    architecture: arch,
  };
}

/** Parses `--platform OS/ARCH[/VARIANT]`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_]+$/.test(p))) {
    throw new InvalidArgument(`invalid --platform "${text}": give OS/ARCH[/VARIANT]`);
  }
  return parts[2] === undefined
    ? { os: parts[0]!, architecture: parts[1]! }
    : { os: parts[0]!, architecture: parts[1]!, variant: parts[2] };
}

/** Picks `want` from an index (a missing variant matches any). */
export function choosePlatform(index: Index, want: Platform): Descriptor {
  const fmt = (p: Platform) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
  const candidates = index.manifests.filter((m) =>
    m.platform !== undefined && m.platform.os === want.os &&
    m.platform.architecture === want.architecture
  );
  const exact =
    candidates.find((m) => want.variant === undefined || m.platform!.variant === want.variant) ??
      candidates.find((m) => m.platform!.variant === undefined);
  if (exact !== undefined) return exact;
  const have = index.manifests.filter((m) => m.platform).map((m) => fmt(m.platform!));
  throw new RuntimeError(
    `no image for platform ${fmt(want)} (the index has ${have.join(", ") || "none"})`,
  );
}
