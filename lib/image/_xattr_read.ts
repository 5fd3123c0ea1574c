/**
 * Reading a file's extended attributes (listxattr/getxattr through libc,
 * which Deno lacks), for the layer diff of `commit`. Paths are followed
 * (a `/proc/self/fd/N` of an O_PATH descriptor names the file itself), so
 * callers pass only directories and regular files.
 *
 * @module
 */

import { errno, ErrnoError, libcGroup } from "../host/libc.ts";

/** The calls (bound on first use: only `commit` needs them). */
const sym = libcGroup({
  listxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  getxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
});
const enc = new TextEncoder();
const dec = new TextDecoder();
const cstr = (s: string) => enc.encode(s + "\0");
const ENODATA = 61;
const EOPNOTSUPP = 95;
const ERANGE = 34;

/** Calls `fn` with growing buffers until its result fits; null on ENODATA/EOPNOTSUPP. */
function sized(what: string, fn: (buf: Uint8Array) => number): Uint8Array | null {
  for (let size = 1024; size <= 1 << 20; size *= 4) {
    const buf = new Uint8Array(size);
    const n = fn(buf);
    if (n >= 0) return buf.slice(0, n);
    const e = errno();
    if (e === ENODATA || e === EOPNOTSUPP) return null;
    if (e !== ERANGE) throw new ErrnoError(what, e);
  }
  throw new ErrnoError(what, ERANGE);
}

/** Every attribute of `path` (followed) as name → value, in name order. */
export function readXattrs(path: string): [string, Uint8Array][] {
  const l = sym();
  const p = cstr(path);
  const list = sized(`listxattr ${path}`, (b) => Number(l.listxattr(p, b, BigInt(b.length))));
  if (list === null || list.length === 0) return [];
  const names = dec.decode(list).split("\0").filter((n) => n !== "").sort();
  const out: [string, Uint8Array][] = [];
  for (const name of names) {
    const n = cstr(name);
    const v = sized(
      `getxattr ${path} ${name}`,
      (b) => Number(l.getxattr(p, n, b, BigInt(b.length))),
    );
    if (v !== null) out.push([name, v]);
  }
  return out;
}
