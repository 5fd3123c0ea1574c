/**
 * Tar entry headers for image layers (`commit`, `import`'s export side):
 * ustar, preceded by a pax header when a name or link target passes 100
 * bytes, an owner or size passes ustar's fields, or the entry carries
 * extended attributes (`SCHILY.xattr.NAME=VALUE`, the raw value, as GNU
 * tar and Go's archive/tar write them and `_tar_xattrs.ts` reads them).
 * Times are whole seconds, so the same tree gives the same bytes.
 *
 * @module
 */

const BLOCK = 512;
const enc = new TextEncoder();

/** The entry types a layer holds. */
export type LayerEntryType =
  | "file"
  | "hardlink"
  | "symlink"
  | "chardev"
  | "blockdev"
  | "dir"
  | "fifo";

const FLAG: Record<LayerEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  blockdev: "4",
  dir: "5",
  fifo: "6",
};

/** One entry's header fields. */
export interface LayerEntryHeader {
  /** The path (a directory's ending in `/`). */
  name: string;
  type: LayerEntryType;
  /** Permission bits, setuid/setgid/sticky included. */
  mode: number;
  uid: number;
  gid: number;
  /** Data bytes (a regular file's only). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlink or hard link target. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written in this order. */
  xattrs?: [string, Uint8Array][];
}

function fits(value: number, width: number): boolean {
  return value >= 0 && value < 8 ** (width - 1);
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
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

function block(f: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}): Uint8Array {
  const b = new Uint8Array(BLOCK);
  const put = (off: number, width: number, text: string) =>
    b.set(enc.encode(text).subarray(0, width), off);
  put(0, 100, f.name);
  put(100, 8, octal(f.mode & 0o7777, 8));
  put(108, 8, octal(fits(f.uid, 8) ? f.uid : 0, 8));
  put(116, 8, octal(fits(f.gid, 8) ? f.gid : 0, 8));
  put(124, 12, octal(fits(f.size, 12) ? f.size : 0, 12));
  put(136, 12, octal(fits(f.mtime, 12) ? f.mtime : 0, 12));
  put(148, 8, "        ");
  put(156, 1, f.flag);
  put(157, 100, f.linkname);
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  put(329, 8, octal(f.devmajor, 8));
  put(337, 8, octal(f.devminor, 8));
  let sum = 0;
  for (const x of b) sum += x;
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The header block(s) of an entry: a pax header first when needed. */
export function layerEntryHeader(h: LayerEntryHeader): Uint8Array {
  const linkname = h.linkname ?? "";
  const records: Uint8Array[] = [];
  if (enc.encode(h.name).length > 100) records.push(paxRecord("path", h.name));
  if (enc.encode(linkname).length > 100) records.push(paxRecord("linkpath", linkname));
  if (!fits(h.uid, 8)) records.push(paxRecord("uid", String(h.uid)));
  if (!fits(h.gid, 8)) records.push(paxRecord("gid", String(h.gid)));
  if (!fits(h.size, 12)) records.push(paxRecord("size", String(h.size)));
  for (const [name, value] of h.xattrs ?? []) {
    records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  }
  const main = block({
    name: h.name,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: h.mtime,
    flag: FLAG[h.type],
    linkname,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (records.length === 0) return main;
  const paxLen = records.reduce((n, r) => n + r.length, 0);
  const pad = tarPadding(paxLen);
  const out = new Uint8Array(BLOCK + paxLen + pad.length + BLOCK);
  out.set(
    block({
      name: "PaxHeaders/" + h.name.replace(/\/$/, "").split("/").pop()!.slice(0, 80),
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: paxLen,
      mtime: h.mtime,
      flag: "x",
      linkname: "",
      devmajor: 0,
      devminor: 0,
    }),
  );
  let off = BLOCK;
  for (const r of records) {
    out.set(r, off);
    off += r.length;
  }
  out.set(main, BLOCK + paxLen + pad.length);
  return out;
}

/** The end of an archive: two zero blocks. */
export const TAR_END = new Uint8Array(2 * BLOCK);
