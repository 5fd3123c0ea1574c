/**
 * `load` of an archive file without copying its big members: the tar is
 * still unpacked by node-tar (which makes every directory, link and small
 * file, with its refusals of escaping names and links), but each regular
 * member of {@linkcode SLIM_AT} bytes or more reaches node-tar as an empty
 * file (its header's size set to 0, the checksum redone, its data left
 * out), and its place in the archive is remembered. Reading such a member
 * (by the path node-tar's placeholder is found at, through any link) reads
 * that range of the archive instead: a 225 MB docker-archive is no longer
 * written to tmp/ and read back. Entries with sizes in pax records or in
 * base-256, and anything after a header that does not check, pass through
 * whole, as before.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { InvalidArgument } from "../host/errors.ts";
import { normalizeEntryPath } from "./_tar_xattrs.ts";

/** Regular members this big or bigger are read from the archive in place. */
export const SLIM_AT = 64 * 1024;

const BLOCK = 512;
const dec = new TextDecoder();

/** Where a left-out member's bytes are in the archive. */
interface Range {
  offset: number;
  size: number;
}

function field(h: Uint8Array, off: number, len: number): string {
  const b = h.subarray(off, off + len);
  const end = b.indexOf(0);
  return dec.decode(end >= 0 ? b.subarray(0, end) : b);
}

function checksumOk(h: Uint8Array): boolean {
  let sum = 0;
  for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 0x20 : h[k]!;
  return sum === parseInt(field(h, 148, 8).trim() || "-1", 8);
}

/** pax records (`LEN key=value\n`), keys only as far as this needs. */
function paxKeys(buf: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(dec.decode(buf.subarray(i, sp)), 10);
    if (!Number.isInteger(len) || len <= 0 || i + len > buf.length) break;
    const rec = dec.decode(buf.subarray(sp + 1, i + len - 1));
    const eq = rec.indexOf("=");
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/**
 * Rewrites a tar stream for node-tar, chunk by chunk ({@linkcode write}
 * returns what to hand on), leaving out the data of big regular members.
 */
export class ArchiveSlimmer {
  /** Each path's last entry: its range when left out, else null. */
  readonly last = new Map<string, Range | null>();
  #pos = 0;
  #header = new Uint8Array(BLOCK);
  #fill = 0;
  /** Data bytes (with padding) still to pass (`drop`: to leave out). */
  #skip = 0;
  #drop = false;
  #collect: { kind: string; buf: Uint8Array; fill: number } | null = null;
  #pax: Map<string, string> | null = null;
  #longName: string | null = null;
  #done = false;

  /**
   * Bytes of a left-out member's data (and padding) the archive has next:
   * the caller may pass over them without reading them, then says so with
   * {@linkcode skipped}. 0 when the next bytes are to be written.
   */
  get droppable(): number {
    return this.#drop && this.#collect === null ? this.#skip : 0;
  }

  /** `n` bytes (at most {@linkcode droppable}) were passed over unread. */
  skipped(n: number): void {
    if (n > this.droppable) throw new RangeError(`skipped ${n} of ${this.droppable} bytes`);
    this.#skip -= n;
    this.#pos += n;
  }

  /** Takes the next bytes of the archive; returns the bytes for node-tar. */
  write(chunk: Uint8Array): Uint8Array[] {
    if (this.#done) {
      this.#pos += chunk.length;
      return [chunk];
    }
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#done) {
        out.push(chunk.subarray(i));
        break;
      }
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        const c = this.#collect;
        if (c !== null && c.fill < c.buf.length) {
          const take = Math.min(n, c.buf.length - c.fill);
          c.buf.set(chunk.subarray(i, i + take), c.fill);
          c.fill += take;
        }
        if (!this.#drop) out.push(chunk.subarray(i, i + n));
        this.#skip -= n;
        i += n;
        this.#pos += n;
        if (this.#skip === 0 && c !== null) {
          this.#collect = null;
          if (c.kind === "x") this.#pax = paxKeys(c.buf);
          else this.#longName = field(c.buf, 0, c.buf.length);
        }
        continue;
      }
      const n = Math.min(BLOCK - this.#fill, chunk.length - i);
      this.#header.set(chunk.subarray(i, i + n), this.#fill);
      this.#fill += n;
      i += n;
      this.#pos += n;
      if (this.#fill === BLOCK) {
        this.#fill = 0;
        out.push(this.#onHeader(this.#header.slice()));
      }
    }
    return out;
  }

  #onHeader(h: Uint8Array): Uint8Array {
    this.#drop = false;
    if (h.every((b) => b === 0)) return h;
    if (!checksumOk(h)) {
      this.#done = true; // node-tar says what is wrong with it
      return h;
    }
    const type = String.fromCharCode(h[156]!);
    const binarySize = (h[124]! & 0x80) !== 0;
    const size = binarySize ? NaN : parseInt(field(h, 124, 12).trim() || "0", 8);
    if (!Number.isFinite(size)) {
      this.#done = true; // base-256: passed on whole from here
      return h;
    }
    this.#skip = Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x" || type === "L") {
      this.#collect = { kind: type, buf: new Uint8Array(Math.min(size, 1 << 20)), fill: 0 };
      if (size === 0) {
        this.#collect = null;
        if (type === "x") this.#pax = new Map();
        else this.#longName = "";
      }
      return h;
    }
    if (type === "g" || type === "K") return h;
    const pax = this.#pax;
    const long = this.#longName;
    this.#pax = null;
    this.#longName = null;
    const ustar = field(h, 257, 6) === "ustar";
    const prefix = ustar ? field(h, 345, 155) : "";
    const name = field(h, 0, 100);
    const raw = pax?.get("path") ?? long ?? (prefix !== "" ? `${prefix}/${name}` : name);
    const path = normalizeEntryPath(raw);
    const regular = type === "0" || type === "\0" || type === "7";
    if (path === null || path === "") return h;
    if (!regular || size < SLIM_AT || pax?.has("size")) {
      this.last.set(path, null);
      return h;
    }
    this.last.set(path, { offset: this.#pos, size });
    this.#drop = true;
    const slim = h.slice();
    slim.set(new TextEncoder().encode("00000000000\0"), 124);
    slim.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of slim) sum += b;
    slim.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    return slim;
  }
}

/**
 * The members of an archive unpacked into `dir` by way of an
 * {@linkcode ArchiveSlimmer} (or of a directory: then every member is its
 * file): reads a member, by the real path {@linkcode inside} gave, from
 * the archive when it was left out.
 */
export class ArchiveMembers {
  readonly #byInode = new Map<number, Range>();

  /** @param archive the archive file, or null for a directory */
  constructor(readonly archive: string | null, dir: string, slim: ArchiveSlimmer | null) {
    if (slim === null) return;
    for (const [path, range] of slim.last) {
      if (range === null) continue;
      try {
        const st = Deno.lstatSync(join(dir, path));
        if (st.isFile && st.size === 0 && st.ino !== null) this.#byInode.set(st.ino, range);
      } catch { /* refused by node-tar: not there */ }
    }
  }

  #range(path: string): Range | null {
    if (this.archive === null || this.#byInode.size === 0) return null;
    const st = Deno.statSync(path);
    if (st.size !== 0 || st.ino === null) return null;
    return this.#byInode.get(st.ino) ?? null;
  }

  /** The member's size in bytes. */
  size(path: string): number {
    return this.#range(path)?.size ?? Deno.statSync(path).size;
  }

  /** The member's bytes, whole (manifests, configs, indexes). */
  read(path: string): Uint8Array {
    const r = this.#range(path);
    if (r === null) return Deno.readFileSync(path);
    const f = Deno.openSync(this.archive!);
    try {
      f.seekSync(r.offset, Deno.SeekMode.Start);
      const out = new Uint8Array(r.size);
      let n = 0;
      while (n < r.size) {
        const got = f.readSync(out.subarray(n));
        if (got === null) throw new InvalidArgument(`malformed archive: ${path} is cut short`);
        n += got;
      }
      return out;
    } finally {
      f.close();
    }
  }

  /** The member's bytes as a stream. */
  stream(path: string): ReadableStream<Uint8Array> {
    const r = this.#range(path);
    if (r === null) return Deno.openSync(path).readable;
    let f: Deno.FsFile | null = null;
    let left = r.size;
    const archive = this.archive!;
    const close = () => {
      f?.close();
      f = null;
    };
    return new ReadableStream<Uint8Array>({
      start() {
        f = Deno.openSync(archive);
        f.seekSync(r.offset, Deno.SeekMode.Start);
      },
      async pull(ctl) {
        if (left === 0) {
          close();
          ctl.close();
          return;
        }
        const buf = new Uint8Array(Math.min(left, 256 * 1024));
        const n = await f!.read(buf);
        if (n === null) {
          close();
          ctl.error(new InvalidArgument(`malformed archive: ${path} is cut short`));
          return;
        }
        left -= n;
        ctl.enqueue(n === buf.length ? buf : buf.subarray(0, n));
      },
      cancel: close,
    });
  }
}
