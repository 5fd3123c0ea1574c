/** Attach frames: encoding, and decoding from a stream cut anywhere. */

import { assertEquals, assertThrows } from "./assert.ts";
import {
  decodeResize,
  encodeFrame,
  FRAME,
  FrameReader,
  MAX_FRAME,
  resizeFrame,
} from "../lib/terminal/_frames.ts";

Deno.test("frames cut at every byte boundary decode to the same frames", () => {
  const data = new TextEncoder().encode("ls -l\r");
  const stream = new Uint8Array([
    ...encodeFrame(FRAME.input, data),
    ...resizeFrame(24, 80),
    ...encodeFrame(FRAME.eof),
  ]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const r = new FrameReader();
    const frames = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
    assertEquals(frames.map((f) => f.type), [FRAME.input, FRAME.resize, FRAME.eof]);
    assertEquals([...frames[0]!.payload], [...data]);
    assertEquals(decodeResize(frames[1]!.payload), { rows: 24, cols: 80 });
    assertEquals(frames[2]!.payload.length, 0);
  }
});

Deno.test("an oversized frame is refused; a malformed resize is null", () => {
  const header = new Uint8Array(5);
  new DataView(header.buffer).setUint32(1, MAX_FRAME + 1);
  assertThrows(() => new FrameReader().push(header), Error, "too large");
  assertEquals(decodeResize(new Uint8Array(3)), null);
});
