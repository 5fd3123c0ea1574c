/**
 * Byte helpers: the stand-in for `@std/bytes` (`concat`) and for reading a
 * file to its end (`@std/io`'s `readAll`). JSR is unreachable from where
 * berth is built, and `node:buffer` would load Deno's Node compatibility
 * layer on the start-up path (about 6 ms per command, see BENCHMARKS.md).
 *
 * @module
 */

/** Concatenates byte chunks. */
export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads what is left of `file` from its current position. */
export async function readRest(file: Deno.FsFile): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await file.read(buf);
    if (n === null || n === 0) break;
    chunks.push(buf.slice(0, n));
  }
  return concatBytes(chunks);
}
