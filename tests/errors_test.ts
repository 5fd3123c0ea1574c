import { assertEquals } from "./assert.ts";
import {
  Exists,
  exitCodeOf,
  InvalidArgument,
  Locked,
  messageOf,
  NotFound,
  RuntimeError,
  WrongState,
} from "../lib/host/errors.ts";

Deno.test("each domain error maps to the contract's exit code", () => {
  assertEquals(exitCodeOf(new InvalidArgument("x")), 2);
  assertEquals(exitCodeOf(new NotFound("x")), 3);
  assertEquals(exitCodeOf(new Exists("x")), 4);
  assertEquals(exitCodeOf(new WrongState("x")), 5);
  assertEquals(exitCodeOf(new Locked("x")), 1);
  assertEquals(exitCodeOf(new RuntimeError("x")), 1);
  assertEquals(exitCodeOf(new Error("boom")), 1);
  assertEquals(exitCodeOf("string"), 1);
});

Deno.test("messages are folded to one line", () => {
  assertEquals(messageOf(new Error("a\n  b\nc")), "a; b; c");
  assertEquals(messageOf(new Error("")), "unknown error");
  assertEquals(new NotFound("x").name, "NotFound");
});

Deno.test("control characters in a message are shown as \\xNN; CR ends a line like LF", () => {
  assertEquals(messageOf(new Error("a\x1b[2Jb\r\nc\rd")), "a\\x1b[2Jb; c; d");
  assertEquals(messageOf(new Error("t\tab\x07\x7f\u009b")), "t\\x09ab\\x07\\x7f\\x9b");
  assertEquals(messageOf("ünïcode ✓"), "ünïcode ✓");
});
