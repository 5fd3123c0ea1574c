/**
 * A small tar (ustar, with pax headers for long names and large numbers)
 * writer and reader for `cp`'s `-` side: the writer walks a tree on
 * descriptors like `tree_copy.ts` (never following a symlink, reading only
 * regular files), the reader yields entries one at a time with their data
 * as a stream (the next entry comes once it is read or dropped).
 *
 * @module
 */

import {
  closeFd,
  ENOENT,
  errnoOf,
  fdPath,
  type FdStat,
  kindOf,
  O_NOFOLLOW,
  O_PATH,
  onPseudoFs,
  openAt,
  readLinkFd,
  statFd,
} from "./at_file.ts";
import { concatBytes as concat } from "../_std/bytes.ts";
import { TAR_BLOCK, TAR_END, tarEntryHeader, tarPadding, type TarType } from "./tar_header.ts";

const BLOCK = TAR_BLOCK;
const decoder = new TextDecoder();

/** One entry read from a tar stream. */
export interface TarEntry {
  /** The path as the archive gives it (a directory's without its trailing `/`). */
  path: string;
  type: TarType;
  /** The entry's metadata, as a stat of it would say (the type bits included). */
  stat: FdStat;
  /** Symlink or hard link target. */
  linkname: string;
  /** A file's bytes (empty for the rest); read it or drop it before the next entry. */
  data: ReadableStream<Uint8Array>;
}

/** The header blocks of an entry: always with a pax header, for the time to the nanosecond. */
function entryHeader(
  name: string,
  type: TarType,
  st: FdStat,
  size: number,
  linkname: string,
): Uint8Array {
  const device = type === "chardev" || type === "blockdev";
  return tarEntryHeader({
    name,
    type,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size,
    mtime: st.mtime[0],
    mtimeNs: st.mtime[1],
    linkname,
    ...(device
      ? {
        devmajor: Number((st.rdev >> 8n) & 0xfffn),
        devminor: Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & 0xfff00n)),
      }
      : {}),
    paxName: "PaxHeader",
  });
}

/**
 * Writes the tree `srcFd` names (O_PATH | O_NOFOLLOW) as a tar stream
 * under `name` (`.` for a directory's contents), then the end blocks.
 */
export async function writeTar(
  srcFd: number,
  name: string,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  await writeTarEntry(srcFd, name, write, 0, new Map());
  await write(TAR_END);
}

/**
 * One entry (a directory with everything under it). A regular file linked
 * more than once is written whole under the first of its names met here;
 * its other names become hard link entries naming that one (`links`: by
 * device and inode), as tar writes them.
 */
async function writeTarEntry(
  fd: number,
  name: string,
  write: (chunk: Uint8Array) => Promise<void>,
  depth: number,
  links: Map<string, string>,
): Promise<void> {
  const st = statFd(fd);
  const kind = kindOf(st.mode);
  switch (kind) {
    case "dir": {
      await write(entryHeader(name.endsWith("/") ? name : `${name}/`, "dir", st, 0, ""));
      if (depth > 0 && onPseudoFs(fd)) return;
      const names = [...Deno.readDirSync(fdPath(fd))].map((e) => e.name).sort();
      for (const n of names) {
        let child: number;
        try {
          child = openAt(fd, n, O_PATH | O_NOFOLLOW);
        } catch (err) {
          if (errnoOf(err) === ENOENT) continue;
          throw err;
        }
        try {
          await writeTarEntry(child, name === "." ? n : `${name}/${n}`, write, depth + 1, links);
        } finally {
          closeFd(child);
        }
      }
      return;
    }
    case "file": {
      if ((st.nlink ?? 1) > 1 && st.ino !== undefined) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) return await write(entryHeader(name, "hardlink", st, 0, first));
        links.set(key, name);
      }
      await write(entryHeader(name, "file", st, st.size, ""));
      // Exactly the size in the header: a file that grows is cut, one that
      // shrinks is padded with zeros.
      const f = await Deno.open(fdPath(fd), { read: true });
      try {
        let left = st.size;
        const buf = new Uint8Array(64 * 1024);
        while (left > 0) {
          const n = await f.read(buf.subarray(0, Math.min(buf.length, left)));
          if (n === null) break;
          await write(buf.slice(0, n));
          left -= n;
        }
        if (left > 0) await write(new Uint8Array(left));
      } finally {
        f.close();
      }
      await write(tarPadding(st.size));
      return;
    }
    case "symlink":
      return await write(entryHeader(name, "symlink", st, 0, readLinkFd(fd)));
    case "fifo":
    case "chardev":
    case "blockdev":
      return await write(entryHeader(name, kind, st, 0, ""));
    default:
      return; // sockets
  }
}

/** Reads exactly what is asked of a byte stream. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Up to `n` bytes (fewer only at the end of the stream). */
  async read(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      const { value, done } = await this.#reader.read();
      if (done) break;
      this.#buf = this.#buf.length === 0 ? value : concat([this.#buf, value]);
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  async exact(n: number, what: string): Promise<Uint8Array> {
    const out = await this.read(n);
    if (out.length !== n) throw new Error(`the tar stream ends inside ${what}`);
    return out;
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

function field(b: Uint8Array, off: number, width: number): string {
  const raw = b.subarray(off, off + width);
  const end = raw.indexOf(0);
  return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
}

function num(b: Uint8Array, off: number, width: number): number {
  if (b[off]! & 0x80) { // base-256
    let v = 0n;
    for (let i = off + 1; i < off + width; i++) v = (v << 8n) | BigInt(b[i]!);
    return Number(v);
  }
  const t = field(b, off, width).trim();
  return t === "" ? 0 : parseInt(t, 8);
}

function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = decoder.decode(data);
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) break;
    const len = Number(text.slice(i, sp));
    if (!(len > 0)) throw new Error("a malformed pax header in the tar stream");
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const TYPES: Record<string, TarType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "chardev",
  "4": "blockdev",
  "5": "dir",
  "6": "fifo",
};

const TYPE_BITS: Record<TarType, number> = {
  file: 0o100000,
  hardlink: 0o100000,
  symlink: 0o120000,
  chardev: 0o020000,
  blockdev: 0o060000,
  dir: 0o040000,
  fifo: 0o010000,
};

/** The entries of a tar stream, in order; throws on a malformed or cut stream. */
export async function* readTar(input: ReadableStream<Uint8Array>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(input);
  try {
    let pax: Record<string, string> = {};
    let longName: string | null = null;
    let longLink: string | null = null;
    for (;;) {
      const h = await r.read(BLOCK);
      if (h.length === 0 || h.every((x) => x === 0)) return; // end blocks (or none)
      if (h.length !== BLOCK) throw new Error("the tar stream ends inside a header");
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
      if (sum !== num(h, 148, 8)) throw new Error("a tar header with a bad checksum");
      const flag = String.fromCharCode(h[156]!);
      let size = num(h, 124, 12);
      if (pax.size !== undefined && flag !== "x" && flag !== "g") size = Number(pax.size);
      const padded = size + tarPadding(size).length;
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        const data = (await r.exact(padded, "a header")).subarray(0, size);
        if (flag === "x") pax = { ...pax, ...parsePax(data) };
        else if (flag === "L") longName = field(data, 0, data.length);
        else if (flag === "K") longLink = field(data, 0, data.length);
        continue;
      }
      const type = TYPES[flag];
      const prefix = field(h, 345, 155);
      const name = pax.path ?? longName ?? (prefix !== "" ? `${prefix}/` : "") + field(h, 0, 100);
      const linkname = pax.linkpath ?? longLink ?? field(h, 157, 100);
      const mtime = pax.mtime !== undefined ? Math.floor(Number(pax.mtime)) : num(h, 136, 12);
      const uid = pax.uid !== undefined ? Number(pax.uid) : num(h, 108, 8);
      const gid = pax.gid !== undefined ? Number(pax.gid) : num(h, 116, 8);
      pax = {};
      longName = longLink = null;
      if (type === undefined) { // unknown types: skipped
        await r.exact(padded, "an entry");
        continue;
      }
      const major = BigInt(num(h, 329, 8));
      const minor = BigInt(num(h, 337, 8));
      const stat: FdStat = {
        mode: TYPE_BITS[type] | (num(h, 100, 8) & 0o7777),
        uid,
        gid,
        size: type === "file" ? size : 0,
        rdev: ((major & 0xfffn) << 8n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n),
        atime: [BigInt(mtime), 0],
        mtime: [BigInt(mtime), 0],
      };
      let left = type === "file" ? size : 0;
      const data = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (left === 0) return c.close();
          const chunk = await r.exact(Math.min(left, 64 * 1024), `"${name}"`);
          left -= chunk.length;
          c.enqueue(chunk.slice());
        },
      }, { highWaterMark: 0 });
      yield { path: name.replace(/\/+$/, ""), type, stat, linkname, data };
      // What the consumer did not read of the data, then the padding.
      if (left > 0) await r.exact(left, `"${name}"`);
      if (type === "file" || size > 0) {
        await r.exact(type === "file" ? tarPadding(size).length : padded, `"${name}"`);
      }
    }
  } finally {
    r.release();
  }
}
