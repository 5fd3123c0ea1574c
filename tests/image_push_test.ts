// push's reading of an upload's Range header (where a resumed upload goes on).

import { rangeEnd } from "../lib/image/_push.ts";
import { assertEquals } from "./assert.ts";

Deno.test("push: the next offset from an upload's Range header", () => {
  assertEquals(rangeEnd("0-99"), 100);
  assertEquals(rangeEnd("bytes=0-0"), 1);
  assertEquals(rangeEnd("0--1"), null); // distribution's answer for an empty upload
  assertEquals(rangeEnd(null), null);
});
