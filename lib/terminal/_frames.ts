/**
 * What an attached client sends to the terminal's holder (the monitor)
 * once its `attach` request was accepted: frames of
 * `[type: u8][length: u32 big-endian][payload]`. The holder sends back the
 * raw bytes the container writes to its terminal and closes the
 * connection when the terminal is gone.
 *
 * @module
 */

/** Frame types. */
export const FRAME = {
  /** Bytes typed by the user: written to the terminal (or the stdin pipe). */
  input: 0,
  /** The user's window size: `[rows: u16][cols: u16]` big-endian. */
  resize: 1,
  /** End of the user's input: closes a stdin pipe (ignored by a terminal). */
  eof: 2,
} as const;

/** The largest payload a frame may carry. */
export const MAX_FRAME = 1 << 16;

/** One decoded frame. */
export interface Frame {
  type: number;
  payload: Uint8Array;
}

/** Encodes one frame. */
export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

/** A resize frame. */
export function resizeFrame(rows: number, cols: number): Uint8Array {
  const p = new Uint8Array(4);
  const v = new DataView(p.buffer);
  v.setUint16(0, rows);
  v.setUint16(2, cols);
  return encodeFrame(FRAME.resize, p);
}

/** Decodes a resize payload; null when malformed. */
export function decodeResize(p: Uint8Array): { rows: number; cols: number } | null {
  if (p.length !== 4) return null;
  const v = new DataView(p.buffer, p.byteOffset, 4);
  return { rows: v.getUint16(0), cols: v.getUint16(2) };
}

/** Splits a byte stream into frames (bytes may arrive in any pieces). */
export class FrameReader {
  #buf = new Uint8Array(0);

  /** Adds bytes; returns the frames now complete. Throws on an oversized frame. */
  push(bytes: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.#buf.length + bytes.length);
    joined.set(this.#buf);
    joined.set(bytes, this.#buf.length);
    const frames: Frame[] = [];
    let off = 0;
    while (joined.length - off >= 5) {
      const len = new DataView(joined.buffer, off + 1, 4).getUint32(0);
      if (len > MAX_FRAME) throw new Error(`frame of ${len} bytes is too large`);
      if (joined.length - off < 5 + len) break;
      frames.push({ type: joined[off]!, payload: joined.slice(off + 5, off + 5 + len) });
      off += 5 + len;
    }
    this.#buf = joined.slice(off);
    return frames;
  }
}
