/**
 * The two libc calls unpacking needs that Deno lacks: `mknod` (overlay
 * whiteouts are 0/0 character devices) and `lsetxattr` (opaque
 * directories). Opened on first use, so only image commands pay for it.
 *
 * @module
 */

import { ErrnoError } from "../host/libc.ts";

const SYMBOLS = {
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The calls, behind an interface so tests can inject failures. */
export interface UnpackCalls {
  /** Creates the 0/0 character device overlayfs reads as a whiteout. */
  whiteout(path: string): void;
  /** Sets an extended attribute on `path` itself (never through a symlink). */
  setXattr(path: string, name: string, value: string | Uint8Array): void;
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | null = null;
const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0");

function errno(): number {
  const p = lib!.__errno_location()!;
  return new Deno.UnsafePointerView(p).getInt32();
}

function check(rc: number, what: string): void {
  if (rc === 0) return;
  const e = errno();
  throw new ErrnoError(what, e);
}

/** The real calls through libc. */
export const unpackCalls: UnpackCalls = {
  whiteout(path) {
    lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    const S_IFCHR = 0o020000;
    check(lib.mknod(cstr(path), S_IFCHR | 0o000, 0n), `mknod ${path}`);
  },
  setXattr(path, name, value) {
    lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    const v = typeof value === "string" ? enc.encode(value) : value;
    check(lib.lsetxattr(cstr(path), cstr(name), v, BigInt(v.length), 0), `lsetxattr ${path}`);
  },
};
