/**
 * Tar headers, written one way for every tar berth makes (`cp`'s stream,
 * the layers of `commit` and `build`, `save`'s archives): a ustar block,
 * preceded by a pax header when a name or link target passes 100 bytes, an
 * owner or size passes ustar's fields, or the entry carries a nanosecond
 * time or extended attributes (`SCHILY.xattr.NAME=VALUE`, the raw value, as
 * GNU tar and Go's archive/tar write them). A size past ustar's field is
 * also written base-256 (GNU) in the block itself, so a header rewritten
 * once its size is known keeps its length.
 *
 * @module
 */

/** The size of a tar block. */
export const TAR_BLOCK = 512;

/** The end of an archive: two zero blocks. */
export const TAR_END: Uint8Array = new Uint8Array(2 * TAR_BLOCK);

/** The entry types berth writes and reads. */
export type TarType = "file" | "dir" | "symlink" | "hardlink" | "fifo" | "chardev" | "blockdev";

/** Each type's flag byte. */
export const TAR_TYPE_FLAG: Readonly<Record<TarType, string>> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  blockdev: "4",
  dir: "5",
  fifo: "6",
};

const enc = new TextEncoder();

/** The fields of one ustar block. */
export interface TarBlock {
  /** Cut at 100 bytes (a longer one goes in a pax record). */
  name: string;
  /** The type flag (`0`, `5`, `x`, …). */
  flag: string;
  /** Permission bits, setuid/setgid/sticky included. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number | bigint;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  uname?: string;
  gname?: string;
}

/** True when `value` fits an octal field `width` bytes wide (its NUL included). */
function fits(value: number | bigint, width: number): boolean {
  return value >= 0 && BigInt(value) < 8n ** BigInt(width - 1);
}

function octal(value: number | bigint, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** One ustar block; a number that does not fit is written 0 (a size: base-256). */
export function tarBlock(f: TarBlock): Uint8Array {
  const b = new Uint8Array(TAR_BLOCK);
  const put = (off: number, width: number, text: string) =>
    b.set(enc.encode(text).subarray(0, width), off);
  put(0, 100, f.name);
  put(100, 8, octal(f.mode & 0o7777, 8));
  put(108, 8, octal(fits(f.uid, 8) ? f.uid : 0, 8));
  put(116, 8, octal(fits(f.gid, 8) ? f.gid : 0, 8));
  if (fits(f.size, 12)) put(124, 12, octal(f.size, 12));
  else {
    // base-256 (GNU): the high bit of the first byte set, big-endian after it.
    let v = BigInt(f.size);
    b[124] = 0x80;
    for (let i = 124 + 11; i > 124; i--) {
      b[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  put(136, 12, octal(fits(f.mtime, 12) ? f.mtime : 0, 12));
  put(148, 8, "        "); // the checksum counts its own field as spaces
  put(156, 1, f.flag);
  put(157, 100, f.linkname ?? "");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  put(265, 32, f.uname ?? "");
  put(297, 32, f.gname ?? "");
  put(329, 8, octal(f.devmajor ?? 0, 8));
  put(337, 8, octal(f.devminor ?? 0, 8));
  let sum = 0;
  for (const x of b) sum += x;
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** One pax record: `LEN KEY=VALUE\n`, LEN counting the whole record in bytes. */
export function paxRecord(key: string, value: Uint8Array | string): Uint8Array {
  const v = typeof value === "string" ? enc.encode(value) : value;
  const k = enc.encode(key);
  const body = k.length + v.length + 3; // " " "=" "\n"
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const part of [enc.encode(`${len} `), k, enc.encode("="), v, enc.encode("\n")]) {
    out.set(part, off);
    off += part.length;
  }
  return out;
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK);
}

/** One entry's header fields. */
export interface TarEntryHeader {
  /** The path (a directory's ending in `/` where the caller wants one). */
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  /** Data bytes (a regular file's only). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number | bigint;
  /** With it, the time to the nanosecond in a pax record (`mtime=S.NNNNNNNNN`). */
  mtimeNs?: number;
  /** Symlink or hard link target. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written in this order. */
  xattrs?: [string, Uint8Array][];
  /** The name of the pax header's own block, when there is one. */
  paxName: string;
}

/** The header block(s) of an entry: a pax header first when one is needed. */
export function tarEntryHeader(h: TarEntryHeader): Uint8Array {
  const linkname = h.linkname ?? "";
  const records: Uint8Array[] = [];
  if (enc.encode(h.name).length > 100) records.push(paxRecord("path", h.name));
  if (enc.encode(linkname).length > 100) records.push(paxRecord("linkpath", linkname));
  if (!fits(h.uid, 8)) records.push(paxRecord("uid", String(h.uid)));
  if (!fits(h.gid, 8)) records.push(paxRecord("gid", String(h.gid)));
  if (!fits(h.size, 12)) records.push(paxRecord("size", String(h.size)));
  if (h.mtimeNs !== undefined) {
    records.push(paxRecord("mtime", `${h.mtime}.${String(h.mtimeNs).padStart(9, "0")}`));
  }
  for (const [name, value] of h.xattrs ?? []) {
    records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  }
  const main = tarBlock({
    name: h.name,
    flag: TAR_TYPE_FLAG[h.type],
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: h.mtime,
    linkname,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (records.length === 0) return main;
  const paxLen = records.reduce((n, r) => n + r.length, 0);
  const pad = tarPadding(paxLen).length;
  const out = new Uint8Array(TAR_BLOCK + paxLen + pad + TAR_BLOCK);
  out.set(tarBlock({
    name: h.paxName,
    flag: "x",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: paxLen,
    mtime: h.mtime,
  }));
  let off = TAR_BLOCK;
  for (const r of records) {
    out.set(r, off);
    off += r.length;
  }
  out.set(main, TAR_BLOCK + paxLen + pad);
  return out;
}
