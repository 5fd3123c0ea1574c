// lib/host/libc.ts: pure helpers (no FFI calls).
import { assertEquals } from "./assert.ts";
import { decodeWaitStatus } from "../lib/host/libc.ts";

Deno.test("wait statuses decode to exit codes, 128+N for signal N", () => {
  assertEquals(decodeWaitStatus(3 << 8), 3);
  assertEquals(decodeWaitStatus(0), 0);
  assertEquals(decodeWaitStatus(9), 137);
  assertEquals(decodeWaitStatus(15 | 0x80), 143); // core dumped
});
