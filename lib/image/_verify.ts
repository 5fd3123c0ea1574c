/**
 * Digest and size verification while bytes stream by: a TransformStream
 * that hashes what passes and errors the stream (so nothing built from it
 * is committed) when the size is exceeded or the digest differs at the end.
 *
 * @module
 */

import { nodeSync } from "./_node.ts";
import { RuntimeError } from "../host/errors.ts";

/** An incremental sha256. */
export interface Hasher {
  update(bytes: Uint8Array): void;
  /** `sha256:HEX`. */
  digest(): string;
}

/** A new incremental sha256 hasher (after `loadNode()`). */
export function sha256(): Hasher {
  const h = nodeSync().crypto.createHash("sha256");
  return {
    update: (b) => void h.update(b),
    digest: () => `sha256:${h.digest("hex")}`,
  };
}

/**
 * `sha256:HEX` of `bytes` (a manifest, a config: small blobs held whole),
 * by WebCrypto, so it needs no node module: a pull checks its manifest and
 * config while node-tar is still loading.
 */
export async function sha256Of(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const b of d) hex += b.toString(16).padStart(2, "0");
  return `sha256:${hex}`;
}

/** Fails unless `bytes` has `digest` (and `size`, when given). */
export async function verifyBytes(
  bytes: Uint8Array,
  digest: string,
  size: number | null,
  what: string,
): Promise<void> {
  if (size !== null && bytes.length !== size) {
    throw new RuntimeError(`${what}: size ${bytes.length}, expected ${size}`);
  }
  const got = await sha256Of(bytes);
  if (got !== digest) throw new RuntimeError(`${what}: digest ${got}, expected ${digest}`);
}

/**
 * Passes bytes through, counting them into `onBytes`; errors when more than
 * `size` bytes come, or at the end when the count or digest differs.
 * `digest` null: the caller hashes the very same bytes and checks them
 * (an uncompressed layer, whose digest is its diff_id), only the size here.
 */
export function verifying(
  digest: string | null,
  size: number,
  what: string,
  onBytes: (n: number) => void = () => {},
): TransformStream<Uint8Array, Uint8Array> {
  const h = digest === null ? null : sha256();
  let n = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      n += chunk.length;
      if (n > size) throw new RuntimeError(`${what}: more than the ${size} bytes announced`);
      h?.update(chunk);
      onBytes(chunk.length);
      ctl.enqueue(chunk);
    },
    flush() {
      if (n !== size) throw new RuntimeError(`${what}: ${n} bytes, expected ${size}`);
      if (h === null) return;
      const got = h.digest();
      if (got !== digest) throw new RuntimeError(`${what}: digest ${got}, expected ${digest}`);
    },
  });
}
