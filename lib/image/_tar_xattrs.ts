/**
 * The extended attributes of a layer's entries, read from the tar stream's
 * pax headers as it passes by: `SCHILY.xattr.NAME=VALUE` (GNU tar, Go's
 * archive/tar, so docker and buildah layers) and
 * `LIBARCHIVE.xattr.NAME=BASE64` (bsdtar). node-tar, which unpacks the
 * layer, parses pax headers as text and keeps none of these, so this scan
 * reads only the headers (the entry's own data is skipped, never copied)
 * and `_unpack.ts` sets what it found once node-tar is done.
 *
 * @module
 */

const BLOCK = 512;
/** A pax header (or GNU long name) larger than this is not read for attributes. */
const MAX_PAX = 1 << 20;

/** One entry's attributes, by its path in the layer (relative, normalized). */
export interface EntryXattrs {
  path: string;
  xattrs: [name: string, value: Uint8Array][];
}

/** `a/./b/` → `a/b`; null for a path with `..` (node-tar refuses those). */
export function normalizeEntryPath(p: string): string | null {
  const parts: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") return null;
    parts.push(c);
  }
  return parts.join("/");
}

const dec = new TextDecoder();

/** A NUL-terminated field. */
function field(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return dec.decode(nul < 0 ? s : s.subarray(0, nul));
}

/** The size field: octal, or base-256 when its high bit is set. */
function sizeOf(h: Uint8Array): number {
  if ((h[124]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 125; i < 136; i++) n = n * 256 + h[i]!;
    return n;
  }
  const t = field(h, 124, 12).trim();
  return t === "" ? 0 : parseInt(t, 8);
}

/** Parses pax records (`LEN KEY=VALUE\n`, LEN counting the whole record in bytes). */
export function paxRecords(data: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(dec.decode(data.subarray(i, sp)));
    if (!Number.isInteger(len) || len <= sp - i || i + len > data.length) break;
    const rec = data.subarray(sp + 1, i + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(dec.decode(rec.subarray(0, eq)), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

function fromBase64(s: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The attributes a pax header names, in the order it gives them. */
function xattrsOf(records: Map<string, Uint8Array>): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (const [k, v] of records) {
    if (k.startsWith("SCHILY.xattr.")) {
      out.push([k.slice("SCHILY.xattr.".length), v]);
    } else if (k.startsWith("LIBARCHIVE.xattr.")) {
      let name: string;
      try {
        name = decodeURIComponent(k.slice("LIBARCHIVE.xattr.".length));
      } catch {
        continue;
      }
      const value = fromBase64(dec.decode(v));
      // SCHILY's record for the same name, when both are there, wins.
      if (value !== null && !out.some(([n]) => n === name)) out.push([name, value]);
    }
  }
  return out.filter(([name]) => name !== "");
}

/**
 * Scans a tar stream written to it chunk by chunk; {@linkcode found} lists
 * the entries that carry attributes. Stops quietly at anything that is not
 * a tar header (node-tar reports a broken archive).
 */
export class XattrScanner {
  /** The last entry of each path, when it has attributes. */
  readonly #byPath = new Map<string, [string, Uint8Array][]>();
  #header = new Uint8Array(BLOCK);
  #headerFill = 0;
  /** Bytes of the current entry's data (and padding) still to pass. */
  #skip = 0;
  /** The pax or long-name data being collected, and how much of it is wanted. */
  #collect: { kind: "x" | "L"; buf: Uint8Array; fill: number; want: number } | null = null;
  #pax: Map<string, Uint8Array> | null = null;
  #longName: string | null = null;
  #done = false;

  /**
   * The entries with attributes, in archive order. A path the archive
   * writes again counts as its last entry (which replaced the file).
   */
  get found(): EntryXattrs[] {
    return [...this.#byPath].map(([path, xattrs]) => ({ path, xattrs }));
  }

  /** Takes the next bytes of the (uncompressed) tar stream. */
  write(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && !this.#done) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        const c = this.#collect;
        if (c !== null && c.fill < c.want) {
          const take = Math.min(n, c.want - c.fill);
          c.buf.set(chunk.subarray(i, i + take), c.fill);
          c.fill += take;
        }
        this.#skip -= n;
        i += n;
        if (this.#skip === 0 && c !== null) this.#finishCollect(c);
        continue;
      }
      const n = Math.min(BLOCK - this.#headerFill, chunk.length - i);
      this.#header.set(chunk.subarray(i, i + n), this.#headerFill);
      this.#headerFill += n;
      i += n;
      if (this.#headerFill === BLOCK) {
        this.#headerFill = 0;
        this.#onHeader(this.#header);
      }
    }
  }

  #finishCollect(c: { kind: "x" | "L"; buf: Uint8Array; fill: number; want: number }): void {
    this.#collect = null;
    if (c.kind === "x") this.#pax = paxRecords(c.buf);
    else this.#longName = field(c.buf, 0, c.buf.length);
  }

  #onHeader(h: Uint8Array): void {
    if (h.every((b) => b === 0)) return; // end-of-archive blocks
    let sum = 0;
    for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 0x20 : h[k]!;
    if (sum !== parseInt(field(h, 148, 8).trim() || "-1", 8)) {
      this.#done = true; // not a header: node-tar says what is wrong
      return;
    }
    const type = String.fromCharCode(h[156]!);
    const size = sizeOf(h);
    this.#skip = Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x" || type === "L") {
      if (size > MAX_PAX) return; // not read: its entry counts as one without attributes
      this.#collect = { kind: type, buf: new Uint8Array(size), fill: 0, want: size };
      if (size === 0) this.#finishCollect(this.#collect);
      return;
    }
    if (type === "g" || type === "K") return; // global header, long link name
    const pax = this.#pax;
    const long = this.#longName;
    this.#pax = null;
    this.#longName = null;
    const ustar = field(h, 257, 6) === "ustar";
    const prefix = ustar ? field(h, 345, 155) : "";
    const name = field(h, 0, 100);
    const paxPath = pax?.get("path");
    const path = normalizeEntryPath(
      paxPath !== undefined
        ? dec.decode(paxPath)
        : long ?? (prefix !== "" ? `${prefix}/${name}` : name),
    );
    if (path === null) return;
    const xattrs = pax === null ? [] : xattrsOf(pax);
    // Delete first, so a path written again moves to its new place in the order.
    this.#byPath.delete(path);
    if (xattrs.length > 0) this.#byPath.set(path, xattrs);
  }
}
