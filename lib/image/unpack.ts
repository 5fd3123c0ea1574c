/**
 * Unpacking one layer (a tar stream, plain, gzip or zstd) into a directory
 * with node-tar (`npm:tar`, which refuses `..` paths, strips absolute ones
 * and never writes through symlinks), hashing the uncompressed stream for
 * the `diff_id` check. Device nodes and FIFOs in a layer are skipped.
 * Whiteouts are converted to overlay form: `.wh.NAME` becomes a 0/0
 * character device NAME, `.wh..wh..opq` sets `trusted.overlay.opaque=y` on
 * its directory. Absolute symlink targets (which node-tar would make
 * relative) are restored after extraction, never followed. Extended
 * attributes in pax headers (which node-tar drops) are read by
 * `tar_xattrs.ts` and set last ({@linkcode keepsXattr} says which).
 *
 * Loaded only by image commands (node-tar and node: modules cost start-up).
 *
 * @module
 */

import type * as Tar from "tar";
import { nodeSync } from "./node.ts";
import { join } from "../_std/path.ts";
import { RuntimeError } from "../host/errors.ts";
import type { Compression } from "./manifest.ts";
import { type UnpackCalls, unpackCalls } from "./ffi.ts";
import { sha256 } from "./verify.ts";
import { normalizeEntryPath, XattrScanner } from "./tar_xattrs.ts";

let umaskHolders = 0;
let savedUmask = 0;

/**
 * Sets this process's umask to 0 while layers are unpacked (node-tar
 * creates files with the archive's modes and relies on the umask; berth's
 * own is restrictive) and returns the function that puts it back.
 */
export function openUmask(): () => void {
  if (umaskHolders++ === 0) savedUmask = Deno.umask(0);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--umaskHolders === 0) Deno.umask(savedUmask);
  };
}

/**
 * Runs `fn` (a synchronous node-tar call) with V8's stack traces off, put
 * back before anything else runs. node-tar finds its way with errors it
 * catches (EEXIST from mkdir, ENOENT from lstat: two per entry); capturing
 * a stack for each was about a quarter of unpacking a layer of small files.
 */
function quietly<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** What {@linkcode unpackLayer} found. */
export interface Unpacked {
  /** sha256 of the uncompressed tar: the layer's diff_id. */
  diffId: string;
  /** Uncompressed bytes. */
  bytes: number;
  /** Entries node-tar refused or skipped, as `CODE: message`. */
  skipped: string[];
}

/**
 * The directory `rel` below `root`, created as needed, when every existing
 * component is a real directory (never a symlink); null otherwise.
 */
function safeDir(root: string, rel: string): string | null {
  let cur = root;
  for (const c of rel.split("/").filter((x) => x !== "")) {
    cur = join(cur, c);
    try {
      const st = Deno.lstatSync(cur);
      if (!st.isDirectory) return null;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      Deno.mkdirSync(cur, { mode: 0o755 });
    }
  }
  return cur;
}

function split(rel: string): { dir: string; base: string } {
  const i = rel.lastIndexOf("/");
  return i < 0 ? { dir: "", base: rel } : { dir: rel.slice(0, i), base: rel.slice(i + 1) };
}

function decompress(
  s: ReadableStream<Uint8Array>,
  c: Compression,
): ReadableStream<Uint8Array> {
  if (c === "gzip") {
    return s.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  if (c === "zstd") {
    const { stream, zlib } = nodeSync();
    return s.pipeThrough(
      stream.Duplex.toWeb(zlib.createZstdDecompress()) as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
    );
  }
  return s;
}

/**
 * Unpacks the layer stream `source` into the existing empty directory `dir`.
 * The caller verifies `diffId` and removes `dir` on any failure.
 */
export async function unpackLayer(
  source: ReadableStream<Uint8Array>,
  compression: Compression,
  dir: string,
  calls: UnpackCalls = unpackCalls,
): Promise<Unpacked> {
  const whiteouts: string[] = [];
  const opaques: string[] = [];
  const absLinks: [string, string][] = [];
  const skipped: string[] = [];
  // setuid/setgid/sticky files: chown after the write clears those bits, so they are set last.
  const special: [string, number][] = [];
  let failure: unknown = null;
  const { tar, Buffer } = nodeSync();
  const u = new tar.UnpackSync({
    cwd: dir,
    strict: false,
    preserveOwner: true,
    chmod: true,
    processUmask: 0, // see openUmask
    umask: 0,
    maxDepth: 4096,
    filter: (path: string, entry: Tar.ReadEntry | import("node:fs").Stats) => {
      const rel = normalizeEntryPath(path);
      if (rel === null || rel === "") return rel === "";
      const { dir: parent, base } = split(rel);
      if (base === ".wh..wh..opq") {
        opaques.push(parent);
        return false;
      }
      if (base.startsWith(".wh.")) {
        if (base.length > 4) {
          whiteouts.push(parent === "" ? base.slice(4) : `${parent}/${base.slice(4)}`);
        }
        return false;
      }
      const e = entry as Tar.ReadEntry;
      if (e.type === "File" && typeof e.mode === "number" && (e.mode & 0o7000) !== 0) {
        special.push([rel, e.mode & 0o7777]);
      }
      if (
        e.type === "SymbolicLink" && typeof e.linkpath === "string" && e.linkpath.startsWith("/")
      ) {
        absLinks.push([rel, e.linkpath]);
      }
      return true;
    },
    onwarn: (code: string, message: string | Error) => {
      const m = typeof message === "string" ? message : message.message;
      if (code === "TAR_BAD_ARCHIVE" || code === "TAR_ABORT") {
        failure ??= new RuntimeError(`bad layer: ${m}`);
      } else skipped.push(`${code}: ${m}`);
    },
  });
  // UnpackSync does all its work inside write() and end(): once end() returns it is done
  // (its "close" is not emitted after an entry it refused to write through a symlink).
  let emitted: unknown = null;
  u.on("error", (e: Error) => emitted ??= e);
  const h = sha256();
  const xattrScan = new XattrScanner();
  let bytes = 0;
  try {
    for await (const chunk of decompress(source, compression)) {
      h.update(chunk);
      xattrScan.write(chunk);
      bytes += chunk.length;
      // UnpackSync: each write is unpacked before it returns (no back-pressure to wait for).
      quietly(() => u.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
      if (failure !== null) throw failure;
    }
    quietly(() => u.end());
    if (emitted !== null) throw emitted;
  } catch (err) {
    u.abort?.(err as Error);
    throw err instanceof RuntimeError
      ? err
      : new RuntimeError(`cannot unpack layer: ${(err as Error).message}`);
  }
  if (failure !== null) throw failure;
  for (const [rel, target] of absLinks) {
    const { dir: parent, base } = split(rel);
    const at = safeDir(dir, parent);
    if (at === null) continue;
    const p = join(at, base);
    try {
      if (!Deno.lstatSync(p).isSymlink) continue;
    } catch {
      continue;
    }
    Deno.removeSync(p);
    Deno.symlinkSync(target, p);
  }
  for (const [rel, mode] of special) {
    const { dir: parent, base } = split(rel);
    const at = safeDir(dir, parent);
    if (at === null) continue;
    const p = join(at, base);
    try {
      if (Deno.lstatSync(p).isFile) Deno.chmodSync(p, mode);
    } catch { /* skipped by node-tar */ }
  }
  for (const rel of opaques) {
    const at = safeDir(dir, rel);
    if (at !== null) calls.setXattr(at, "trusted.overlay.opaque", "y");
  }
  for (const rel of whiteouts) {
    const { dir: parent, base } = split(rel);
    const at = safeDir(dir, parent);
    if (at === null) continue;
    const p = join(at, base);
    try {
      Deno.lstatSync(p);
      continue; // the layer has the name itself: keep what it has
    } catch {
      calls.whiteout(p);
    }
  }
  // Last: chown and writes clear security.capability, so it is set after them.
  for (const { path, xattrs } of xattrScan.found) setEntryXattrs(dir, path, xattrs, calls, skipped);
  return { diffId: h.digest(), bytes, skipped };
}

/**
 * Whether an attribute a layer carries is set: `user.*`, file capabilities
 * and ACLs. Not `trusted.*` (overlayfs keeps its own state there: a layer
 * could forge a redirect or an opaque mark) nor the other `security.*`
 * labels, which are the host's policy to set.
 */
export function keepsXattr(name: string): boolean {
  return name.startsWith("user.") || name === "security.capability" ||
    name === "system.posix_acl_access" || name === "system.posix_acl_default";
}

/**
 * Sets the attributes of the entry `rel` of the layer unpacked in `root`,
 * when node-tar wrote it: every directory on the way is a real one (none is
 * created), and symlinks get none (Linux refuses user attributes on them).
 * What is not set is noted in `skipped`.
 */
function setEntryXattrs(
  root: string,
  rel: string,
  xattrs: [string, Uint8Array][],
  calls: UnpackCalls,
  skipped: string[],
): void {
  let p = root;
  for (const c of rel.split("/").filter((x) => x !== "")) {
    try {
      if (!Deno.lstatSync(p).isDirectory) return;
    } catch {
      return;
    }
    p = join(p, c);
  }
  try {
    if (Deno.lstatSync(p).isSymlink) return;
  } catch {
    return; // not written (refused, or a whiteout)
  }
  for (const [name, value] of xattrs) {
    if (!keepsXattr(name)) {
      skipped.push(`TAR_XATTR: ${rel}: ${name} not kept`);
      continue;
    }
    try {
      calls.setXattr(p, name, value);
    } catch (err) {
      skipped.push(`TAR_XATTR: ${rel}: ${name}: ${(err as Error).message}`);
    }
  }
}
