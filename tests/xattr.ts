/**
 * Reads extended attributes for tests (lgetxattr through libc: no
 * getfattr or python on the host needed).
 */

import { libcGroup } from "../lib/host/libc.ts";

const sym = libcGroup({
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
});
const enc = new TextEncoder();

/** The value of `name` on `path` itself (a symlink is not followed), or null if it has none. */
export function getXattr(path: string, name: string): Uint8Array | null {
  const buf = new Uint8Array(65536);
  const n = Number(
    sym().lgetxattr(
      enc.encode(path + "\0"),
      enc.encode(name + "\0"),
      buf,
      BigInt(buf.length),
    ),
  );
  return n < 0 ? null : buf.slice(0, n);
}

/** The value of `name` on `path` as text, or null. */
export function getXattrText(path: string, name: string): string | null {
  const v = getXattr(path, name);
  return v === null ? null : new TextDecoder().decode(v);
}
