/**
 * A directory tree as an OCI layer tar, streamed: `commit` turns a
 * container's overlay upper directory into its new layer, `export` the
 * merged root into a plain tar, `build` each RUN step's upper and each COPY's staged files.
 *
 * In `upper` mode the overlay's own forms become the OCI ones: a whiteout
 * (a 0/0 character device) becomes an empty `.wh.NAME` file, an opaque
 * directory (`trusted.overlay.opaque=y`) gets a `.wh..wh..opq` entry right
 * after its own. In both modes: entries depth first, names sorted bytewise
 * at each level (the same tree gives the same bytes); owners, modes
 * (setuid/setgid/sticky included), whole-second mtimes, symlink targets
 * and device numbers kept; a file linked more than once within the tree is
 * written once and then as tar hard links to its first name; the
 * attributes `_unpack.ts` would set again (`user.*`, `security.capability`,
 * ACLs) as pax `SCHILY.xattr.*` records, never `trusted.*` (overlayfs's
 * state) nor other `security.*` labels. Sockets are left out.
 *
 * The tree is walked on descriptors (O_PATH | O_NOFOLLOW), never following
 * a symlink a running container could swap in.
 *
 * @module
 */

import {
  closeFd,
  ENOENT,
  errnoOf,
  fdPath,
  kindOf,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  openAt,
  readLinkFd,
  statFd,
} from "../host/at_file.ts";
import { RuntimeError } from "../host/errors.ts";
import { TAR_END, type TarEntryHeader, tarEntryHeader, tarPadding } from "../host/tar_header.ts";
import { keepsXattr } from "./_unpack.ts";
import { readXattrs } from "./_xattr_read.ts";
import { sha256 } from "./_verify.ts";

/** `upper`: an overlay upper directory (whiteouts converted); `tree`: a plain tree. */
export type DiffMode = "upper" | "tree";

const CHUNK = 256 * 1024;

/** A layer entry's header; its pax header, if any, named `PaxHeaders/BASENAME` (as GNU tar's). */
function layerEntryHeader(h: Omit<TarEntryHeader, "paxName">): Uint8Array {
  const base = h.name.replace(/\/$/, "").split("/").pop()!.slice(0, 80);
  return tarEntryHeader({ ...h, paxName: `PaxHeaders/${base}` });
}

/**
 * The tar of the tree at `root` (its entries relative to it, `root` itself
 * not listed). `maxMtime` (seconds; `build --timestamp`, SOURCE_DATE_EPOCH)
 * clamps every entry's mtime to it, for reproducible layers.
 */
export async function* treeTar(
  root: string,
  mode: DiffMode,
  maxMtime: number | null = null,
): AsyncGenerator<Uint8Array> {
  const fd = openAt(-100, root, O_PATH | O_DIRECTORY); // AT_FDCWD: root is berth's own path
  try {
    yield* walk(fd, "", mode, new Map(), maxMtime);
  } finally {
    closeFd(fd);
  }
  yield TAR_END;
}

function attrsOf(
  fd: number,
  mode: DiffMode,
  path: string,
): { keep: [string, Uint8Array][]; opaque: boolean } {
  const all = readXattrs(fdPath(fd));
  if (mode === "upper") {
    // A renamed lower directory (redirect_dir) or a copied-up owner change without its data
    // (metacopy) points below the upper: its content is not in the diff. berth's overlays are
    // mounted without them; a kernel defaulting to them would make a wrong layer.
    const found = all.find(([n]) =>
      n === "trusted.overlay.redirect" || n === "trusted.overlay.metacopy"
    );
    if (found !== undefined) {
      throw new RuntimeError(
        `${path}: the overlay keeps it as ${
          found[0]
        } (redirect_dir or metacopy on): it cannot be put in a layer`,
      );
    }
  }
  const opaque = mode === "upper" &&
    all.some(([n, v]) => n === "trusted.overlay.opaque" && v.length === 1 && v[0] === 0x79);
  return { keep: all.filter(([n]) => keepsXattr(n)), opaque };
}

async function* walk(
  dirFd: number,
  prefix: string,
  mode: DiffMode,
  links: Map<bigint, string>,
  maxMtime: number | null,
): AsyncGenerator<Uint8Array> {
  const names = [...Deno.readDirSync(fdPath(dirFd))].map((e) => e.name).sort(bytewise);
  for (const name of names) {
    let fd: number;
    try {
      fd = openAt(dirFd, name, O_PATH | O_NOFOLLOW);
    } catch (err) {
      if (errnoOf(err) === ENOENT) continue; // gone meanwhile (a running container)
      throw err;
    }
    try {
      yield* entry(fd, prefix + name, mode, links, maxMtime);
    } finally {
      closeFd(fd);
    }
  }
}

async function* entry(
  fd: number,
  path: string,
  mode: DiffMode,
  links: Map<bigint, string>,
  maxMtime: number | null,
): AsyncGenerator<Uint8Array> {
  const st = statFd(fd);
  const kind = kindOf(st.mode);
  const base: Omit<TarEntryHeader, "name" | "type" | "paxName"> = {
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: maxMtime === null ? Number(st.mtime[0]) : Math.min(maxMtime, Number(st.mtime[0])),
  };
  const slash = path.lastIndexOf("/");
  if (mode === "upper" && kind === "chardev" && st.rdev === 0n) {
    // A whiteout (overlayfs may link many to one inode: never a hard link).
    const wh = `${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`;
    yield layerEntryHeader({ ...base, name: wh, type: "file", mode: 0o644 });
    return;
  }
  if (mode === "upper" && path.slice(slash + 1).startsWith(".wh.")) {
    throw new RuntimeError(`${path}: a name starting with .wh. cannot be put in a layer`);
  }
  if (kind !== "dir" && (st.nlink ?? 1) > 1 && st.ino !== undefined) {
    const first = links.get(st.ino);
    if (first !== undefined) {
      yield layerEntryHeader({ ...base, name: path, type: "hardlink", linkname: first });
      return;
    }
    links.set(st.ino, path);
  }
  switch (kind) {
    case "dir": {
      const { keep, opaque } = attrsOf(fd, mode, path);
      yield layerEntryHeader({ ...base, name: `${path}/`, type: "dir", xattrs: keep });
      if (opaque) {
        yield layerEntryHeader({
          ...base,
          name: `${path}/.wh..wh..opq`,
          type: "file",
          mode: 0o644,
        });
      }
      yield* walk(fd, `${path}/`, mode, links, maxMtime);
      return;
    }
    case "file": {
      const { keep } = attrsOf(fd, mode, path);
      yield layerEntryHeader({ ...base, name: path, type: "file", size: st.size, xattrs: keep });
      // Exactly the size in the header: a file that grows meanwhile is cut, one that shrinks
      // padded with zeros.
      const f = Deno.openSync(fdPath(fd), { read: true });
      try {
        let left = st.size;
        while (left > 0) {
          const buf = new Uint8Array(Math.min(CHUNK, left));
          const n = f.readSync(buf);
          if (n === null || n === 0) break;
          yield n === buf.length ? buf : buf.subarray(0, n);
          left -= n;
        }
        if (left > 0) yield new Uint8Array(left);
      } finally {
        f.close();
      }
      yield tarPadding(st.size);
      return;
    }
    case "symlink":
      yield layerEntryHeader({ ...base, name: path, type: "symlink", linkname: readLinkFd(fd) });
      return;
    case "fifo":
    case "chardev":
    case "blockdev": {
      const major = Number((st.rdev >> 8n) & 0xfffn);
      const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & 0xfff00n));
      yield layerEntryHeader({
        ...base,
        name: path,
        type: kind,
        ...(kind === "fifo" ? {} : { devmajor: major, devminor: minor }),
      });
      return;
    }
    default:
      return; // sockets
  }
}

function bytewise(a: string, b: string): number {
  // Names as UTF-16 compare like their UTF-8 bytes except past the BMP: good enough to be stable.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What {@linkcode writeLayerBlob} wrote. */
export interface WrittenLayer {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** sha256 of the gzip blob, and its size. */
  digest: string;
  size: number;
  /** Uncompressed bytes. */
  bytes: number;
}

/**
 * Gzips the tar `chunks` into `file` (open for writing), hashing both
 * sides as they stream; fsyncs the file. A write error, or more than
 * `maxBytes` uncompressed, fails it in one line.
 */
export async function writeLayerBlob(
  chunks: AsyncIterable<Uint8Array>,
  file: Deno.FsFile,
  maxBytes: { bytes: number; what: string } | null = null,
): Promise<WrittenLayer> {
  const raw = sha256();
  const gz = sha256();
  let bytes = 0;
  let size = 0;
  const gzip = new CompressionStream("gzip");
  const writer = gzip.writable.getWriter();
  const feeding = (async () => {
    try {
      for await (const c of chunks) {
        raw.update(c);
        bytes += c.length;
        if (maxBytes !== null && bytes > maxBytes.bytes) {
          throw new RuntimeError(`the layer is larger than ${maxBytes.what}`);
        }
        await writer.write(c as Uint8Array<ArrayBuffer>);
      }
      await writer.close();
    } catch (err) {
      await writer.abort(err).catch(() => {});
      throw err;
    }
  })();
  const draining = (async () => {
    for await (const c of gzip.readable) {
      gz.update(c);
      size += c.length;
      try {
        for (let off = 0; off < c.length;) off += file.writeSync(c.subarray(off));
      } catch (err) {
        throw new RuntimeError(`cannot write the layer: ${(err as Error).message}`);
      }
    }
  })();
  const [a, b] = await Promise.allSettled([feeding, draining]);
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
  try {
    file.syncSync();
  } catch (err) {
    throw new RuntimeError(`cannot write the layer: ${(err as Error).message}`);
  }
  return { diffId: raw.digest(), digest: gz.digest(), size, bytes };
}
