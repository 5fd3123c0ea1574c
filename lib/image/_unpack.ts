/**
 * Unpacking one layer (a tar stream, plain, gzip or zstd) into a directory
 * with node-tar (`npm:tar`, which refuses `..` paths, strips absolute ones
 * and never writes through symlinks), hashing the uncompressed stream for
 * the `diff_id` check. Device nodes and FIFOs in a layer are skipped.
 * Whiteouts are converted to overlay form: `.wh.NAME` becomes a 0/0
 * character device NAME, `.wh..wh..opq` sets `trusted.overlay.opaque=y` on
 * its directory. Symlinks get their exact targets after extraction, never
 * followed (node-tar drops or changes many: `_symlink_targets.ts`). Extended
 * attributes in pax headers (which node-tar drops) are read by
 * `_tar_xattrs.ts` and set last ({@linkcode keepsXattr} says which).
 * Every directory a layer lists gets exactly its entry's owner and mode,
 * sticky and setgid bits included, after node-tar (which adds 0700 and
 * whose mkdir drops 07000); one it leaves implicit is made 0755 root's and
 * reported in `implicitDirs`, for the caller to give it what the layers
 * below have (`_implicit_dirs.ts`).
 * A write error of the filesystem, a file shorter than its entry, or a
 * cap of `_layer_limits.ts` exceeded fails the layer.
 *
 * Loaded only by image commands (node-tar and node: modules cost start-up).
 *
 * @module
 */

import type * as Tar from "tar";
import { nodeSync } from "./_node.ts";
import { join } from "../_std/path.ts";
import { RuntimeError } from "../host/errors.ts";
import type { Compression } from "./_manifest.ts";
import { type UnpackCalls, unpackCalls } from "./_ffi.ts";
import { sha256 } from "./_verify.ts";
import { normalizeEntryPath, XattrScanner } from "./_tar_xattrs.ts";
import { DEFAULT_LAYER_LIMITS, formatBytes, type LayerLimits } from "./_layer_limits.ts";
import { streamed } from "./_garbage.ts";
import { SymlinkTargets } from "./_symlink_targets.ts";
import { fastUnpackSync } from "./_unpack_sync.ts";

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
  /**
   * Directories the layer made without listing them (parents of its
   * entries, whiteouts and opaque marks), real directories, parents first.
   */
  implicitDirs: string[];
}

/**
 * Errors of the filesystem being written rather than of the entry: any of
 * them fails the layer (node-tar reports every error as a warning and goes
 * on, so a full disk used to leave files cut short in a layer that was then
 * published).
 */
const WRITE_ERRORS = new Set([
  "ENOSPC",
  "EDQUOT",
  "EIO",
  "EROFS",
  "EFBIG",
  "ENOMEM",
  "EMFILE",
  "ENFILE",
  "EBADF",
]);

/** True when `err` (node-tar's or node's) is one of {@linkcode WRITE_ERRORS}. */
export function isWriteError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && WRITE_ERRORS.has(code);
}

/**
 * The directory `rel` below `root`, created as needed (0755, root's), when
 * every existing component is a real directory (never a symlink); null
 * otherwise.
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
      Deno.chmodSync(cur, 0o755);
    }
  }
  return cur;
}

/**
 * Which relative paths below a root are real directories (each component
 * one, none a symlink), remembered: one lstat per directory however many
 * entries it holds. Valid while nothing but modes and owners change.
 */
export class RealDirs {
  readonly #known = new Map<string, boolean>([["", true]]);
  constructor(readonly root: string) {}

  /** True when `rel` and every directory above it are real directories. */
  has(rel: string): boolean {
    const k = this.#known.get(rel);
    if (k !== undefined) return k;
    const { dir: parent } = split(rel);
    let ok = this.has(parent);
    if (ok) {
      try {
        ok = Deno.lstatSync(join(this.root, rel)).isDirectory;
      } catch {
        ok = false;
      }
    }
    this.#known.set(rel, ok);
    return ok;
  }
}

function split(rel: string): { dir: string; base: string } {
  const i = rel.lastIndexOf("/");
  return i < 0 ? { dir: "", base: rel } : { dir: rel.slice(0, i), base: rel.slice(i + 1) };
}

/**
 * `s` decompressed per `c` (gzip by the web's DecompressionStream, zstd by
 * node's zlib). With `chunkBytes`, gzip goes through node's zlib too, in
 * chunks of at most that size: `save` writes each chunk out, and chunks
 * under malloc's mmap threshold (128 KiB) reuse freed memory where larger
 * ones are mapped and unmapped each time (a docker-archive save spent
 * 0.5–1 s of system time on that, against 0.25 s).
 */
export function decompress(
  s: ReadableStream<Uint8Array>,
  c: Compression,
  chunkBytes?: number,
): ReadableStream<Uint8Array> {
  if (c === "gzip" && chunkBytes !== undefined) {
    const { stream, zlib } = nodeSync();
    return s.pipeThrough(
      stream.Duplex.toWeb(
        zlib.createGunzip({ chunkSize: chunkBytes }),
      ) as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
    );
  }
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

/** A directory entry's mode (all 12 bits) and owner, as the layer gives them. */
interface DirEntry {
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Unpacks the layer stream `source` into the existing empty directory `dir`,
 * under `limits`. Any write error, a file left shorter than its entry, or a
 * cap exceeded fails it (RuntimeError). The caller verifies `diffId` and
 * removes `dir` on any failure.
 */
export async function unpackLayer(
  source: ReadableStream<Uint8Array>,
  compression: Compression,
  dir: string,
  limits: LayerLimits = DEFAULT_LAYER_LIMITS,
  calls: UnpackCalls = unpackCalls,
): Promise<Unpacked> {
  const whiteouts: string[] = [];
  const opaques: string[] = [];
  const links = new SymlinkTargets();
  const skipped: string[] = [];
  // setuid/setgid/sticky files: chown after the write clears those bits, so they are set last.
  const special: [string, number][] = [];
  // Each path's last entry: a directory's mode and owner (node-tar adds 0700 to a directory's
  // mode, and mkdir drops the sticky and setgid bits: they are set after), a file's size
  // (checked after: node-tar ignores short writes).
  const dirs = new Map<string, DirEntry>();
  const sizes = new Map<string, number>();
  // Every directory above an entry (a whiteout's, an opaque mark's own directory).
  const parents = new Set<string>();
  const addParents = (rel: string) => {
    for (let i = rel.lastIndexOf("/"); i > 0; i = rel.lastIndexOf("/", i - 1)) {
      const p = rel.slice(0, i);
      if (parents.has(p)) return;
      parents.add(p);
    }
  };
  let entries = 0;
  let allZero = true;
  let failure: unknown = null;
  const { tar, Buffer } = nodeSync();
  const u = new (fastUnpackSync(tar))({
    cwd: dir,
    strict: false,
    preserveOwner: true,
    chmod: true,
    processUmask: 0, // see openUmask
    umask: 0,
    dmode: 0o755, // directories a layer does not list: see implicitDirs
    maxDepth: 4096,
    filter: (path: string, entry: Tar.ReadEntry | import("node:fs").Stats) => {
      if (++entries > limits.maxEntries) {
        failure ??= new RuntimeError(
          `layer has more than ${limits.maxEntries} entries (the cap, BERTH_MAX_LAYER_ENTRIES)`,
        );
        return false;
      }
      const rel = normalizeEntryPath(path);
      if (rel === null) return false;
      const e = entry as Tar.ReadEntry;
      dirs.delete(rel);
      sizes.delete(rel);
      if (!links.note(rel, e)) {
        addParents(rel);
        return false; // a hard link to a symlink: made after (see _symlink_targets.ts)
      }
      if (e.type === "Directory" || e.type === "GNUDumpDir") {
        dirs.set(rel, {
          mode: typeof e.mode === "number" ? e.mode & 0o7777 : 0o755,
          uid: typeof e.uid === "number" ? e.uid : 0,
          gid: typeof e.gid === "number" ? e.gid : 0,
        });
      }
      if (rel === "") return true;
      addParents(rel);
      const { dir: parent, base } = split(rel);
      if (base === ".wh..wh..opq") {
        if (parent !== "") parents.add(parent);
        opaques.push(parent);
        return false;
      }
      if (base.startsWith(".wh.")) {
        if (base.length > 4) {
          whiteouts.push(parent === "" ? base.slice(4) : `${parent}/${base.slice(4)}`);
        }
        return false;
      }
      if (e.type === "File" || e.type === "OldFile" || e.type === "ContiguousFile") {
        sizes.set(rel, e.size ?? 0);
        if (typeof e.mode === "number" && (e.mode & 0o7000) !== 0) {
          special.push([rel, e.mode & 0o7777]);
        }
      }
      return true;
    },
    onwarn: (code: string, message: string | Error, data?: { code?: unknown; entry?: unknown }) => {
      const m = typeof message === "string" ? message : message.message;
      // An archive of end blocks only (an empty layer: a commit of an unchanged container,
      // docker's empty layers) is no bad archive, though node-tar finds no header in it.
      if (code === "TAR_BAD_ARCHIVE" && entries === 0 && allZero) return;
      if (code === "TAR_BAD_ARCHIVE" || code === "TAR_ABORT") {
        failure ??= new RuntimeError(`bad layer: ${m}`);
      } else if (isWriteError(data)) {
        const at = (data?.entry as { path?: unknown } | undefined)?.path;
        failure ??= new RuntimeError(
          `cannot unpack layer: ${typeof at === "string" ? `${at}: ` : ""}${m}`,
        );
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
  let real = new RealDirs(dir);
  try {
    for await (const chunk of decompress(source, compression)) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) {
        throw new RuntimeError(
          `layer unpacks to more than ${formatBytes(limits.maxBytes)} (the cap, ${
            limits.bytesCap ?? "max unpacked size"
          })`,
        );
      }
      h.update(chunk);
      streamed(chunk.length);
      if (allZero && chunk.some((b) => b !== 0)) allZero = false;
      xattrScan.write(chunk);
      // UnpackSync: each write is unpacked before it returns (no back-pressure to wait for).
      quietly(() => u.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
      if (failure !== null) throw failure;
    }
    quietly(() => u.end());
    const emptyArchive = entries === 0 && allZero &&
      (emitted as { code?: unknown } | null)?.code === "TAR_BAD_ARCHIVE";
    if (emitted !== null && !emptyArchive) throw emitted;
    if (failure !== null) throw failure;
    real = new RealDirs(dir);
    checkSizes(dir, sizes, real);
    links.restore(dir, real, skipped);
    for (const [rel, mode] of special) {
      const { dir: parent, base } = split(rel);
      const at = safeDir(dir, parent);
      if (at === null) continue;
      const p = join(at, base);
      try {
        if (Deno.lstatSync(p).isFile) Deno.chmodSync(p, mode);
      } catch { /* skipped by node-tar */ }
    }
    // Directories: owner, then every mode bit (a chown would clear setgid on some filesystems).
    for (const [rel, d] of dirs) {
      if (!real.has(rel)) continue; // refused or replaced: not this entry's directory
      const p = join(dir, rel);
      Deno.chownSync(p, d.uid, d.gid);
      Deno.chmodSync(p, d.mode);
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
    for (const { path, xattrs } of xattrScan.found) {
      setEntryXattrs(dir, path, xattrs, calls, skipped);
    }
  } catch (err) {
    u.abort?.(err as Error);
    throw err instanceof RuntimeError
      ? err
      : new RuntimeError(`cannot unpack layer: ${(err as Error).message}`);
  }
  const implicitDirs = [...parents].filter((p) => !dirs.has(p) && real.has(p)).sort();
  return { diffId: h.digest(), bytes, skipped, implicitDirs };
}

/**
 * Fails unless every file the layer wrote has its entry's size (node-tar
 * ignores a short write: the last write to a full disk can succeed in part
 * and report no error). One lstat per file; a file node-tar refused (not
 * there, or under something that is no real directory) is not checked.
 */
export function checkSizes(
  root: string,
  sizes: Map<string, number>,
  real: RealDirs = new RealDirs(root),
): void {
  for (const [rel, size] of sizes) {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(join(root, rel));
    } catch {
      continue;
    }
    if (!st.isFile || st.size === size || !real.has(split(rel).dir)) continue;
    throw new RuntimeError(
      `cannot unpack layer: ${rel}: ${st.size} of its ${size} bytes written`,
    );
  }
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
