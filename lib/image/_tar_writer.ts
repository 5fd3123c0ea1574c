/**
 * A minimal ustar writer for image archives (`save`): regular files and
 * directories, root-owned, mode 0644/0755, mtime 0, so the same images give
 * the same archive bytes. Writes are queued into a {@linkcode TarSink}: a
 * file (an entry of unknown size gets its header patched once its data is
 * written) or a pipe (then every size must be known before the entry).
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";
import { TAR_END, TAR_TYPE_FLAG, tarBlock, tarPadding } from "../host/tar_header.ts";
import { type AsyncWriter, WriteQueue } from "./_write_queue.ts";

/** Where a tar goes: a regular file (seekable) or a pipe. */
export interface TarSink {
  /** Queues all of `bytes` (they must not change afterwards). */
  write(bytes: Uint8Array): void;
  /** Resolves once the sink has room for more (little enough is queued). */
  ready(): Promise<void>;
  /** Resolves once everything queued is written; throws the first write error. */
  flush(): Promise<void>;
  /** Overwrites at `offset` (a file only); the position stays at the end. */
  patch?(offset: number, bytes: Uint8Array): Promise<void>;
}

/**
 * A sink over an open file or stdout: its writes queued in order on the
 * file's asynchronous writes (see `_write_queue.ts`).
 */
export function fileSink(f: AsyncWriter, seekable: Deno.FsFile | null): TarSink {
  const q = new WriteQueue(f);
  const sink: TarSink = {
    write: (bytes) => q.push(bytes),
    ready: () => q.ready(),
    flush: () => q.flush(),
  };
  if (seekable !== null) {
    sink.patch = async (offset, bytes) => {
      await q.flush();
      seekable.seekSync(offset, Deno.SeekMode.Start);
      for (let off = 0; off < bytes.length;) off += seekable.writeSync(bytes.subarray(off));
      seekable.seekSync(0, Deno.SeekMode.End);
    };
  }
  return sink;
}

const enc = new TextEncoder();

/** A ustar header for `name` (at most 100 bytes: the archives' names are short), root's. */
export function tarHeader(name: string, size: number, type: "file" | "dir"): Uint8Array {
  if (enc.encode(name).length > 100) throw new RuntimeError(`tar: name too long: ${name}`);
  return tarBlock({
    name,
    flag: TAR_TYPE_FLAG[type],
    mode: type === "dir" ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size,
    mtime: 0,
    uname: "root",
    gname: "root",
  });
}

/** Writes a tar entry by entry. */
export class TarWriter {
  #pos = 0;
  constructor(readonly sink: TarSink) {}

  /** True when an entry's size may be found while writing it. */
  get canPatch(): boolean {
    return this.sink.patch !== undefined;
  }

  #write(b: Uint8Array): void {
    this.sink.write(b);
    this.#pos += b.length;
  }

  #pad(size: number): void {
    if (size % 512 !== 0) this.#write(tarPadding(size));
  }

  /** A directory entry (`name` ending in `/`). */
  dir(name: string): void {
    this.#write(tarHeader(name, 0, "dir"));
  }

  /** A file entry with its bytes. */
  bytes(name: string, data: Uint8Array): void {
    this.#write(tarHeader(name, data.length, "file"));
    this.#write(data);
    this.#pad(data.length);
  }

  /**
   * A file entry from `chunks`. With `size` (known), the data must be that
   * long; without, the sink must patch (its header is rewritten at the
   * end). Returns the size written.
   */
  async stream(name: string, chunks: AsyncIterable<Uint8Array>, size?: number): Promise<number> {
    if (size === undefined && !this.canPatch) {
      throw new RuntimeError(`tar: the size of ${name} must be known on a pipe`);
    }
    const at = this.#pos;
    this.#write(tarHeader(name, size ?? 0, "file"));
    let n = 0;
    for await (const c of chunks) {
      n += c.length;
      if (size !== undefined && n > size) {
        throw new RuntimeError(`${name}: more than the ${size} bytes expected`);
      }
      this.#write(c);
      await this.sink.ready();
    }
    if (size !== undefined && n !== size) {
      throw new RuntimeError(`${name}: ${n} bytes, expected ${size}`);
    }
    if (size === undefined) await this.sink.patch!(at, tarHeader(name, n, "file"));
    this.#pad(n);
    return n;
  }

  /** The end-of-archive marker (two zero blocks); resolves once all is written. */
  async end(): Promise<void> {
    this.#write(TAR_END);
    await this.sink.flush();
  }
}
