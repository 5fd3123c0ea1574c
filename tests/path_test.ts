// lib/_std/path.ts: the node:path stand-in.
import { assertEquals } from "./assert.ts";
import { basename, dirname, join, normalize, resolve } from "../lib/_std/path.ts";

Deno.test("path helpers agree with POSIX semantics", () => {
  assertEquals(join("/a/", "b", "../c", "./d"), "/a/c/d");
  assertEquals(join("a", ""), "a");
  assertEquals(normalize("/../x//y/"), "/x/y");
  assertEquals(normalize("../x"), "../x");
  assertEquals(resolve("/r", "x", "/abs", "y"), "/abs/y");
  assertEquals(resolve("/r", "../s"), "/s");
  assertEquals(dirname("/a/b/"), "/a");
  assertEquals(dirname("/a"), "/");
  assertEquals(dirname("a"), ".");
  assertEquals(basename("/a/b/"), "b");
});
