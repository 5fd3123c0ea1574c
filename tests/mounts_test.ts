// lib/host/mounts.ts: the mount table parser.
import { assertEquals } from "./assert.ts";
import { parseMountInfo } from "../lib/host/mounts.ts";

Deno.test("mountinfo paths are unescaped", () => {
  const text =
    "36 35 98:0 / /mnt/with\\040space rw - ext4 /dev/x rw\n37 35 0:1 / /run rw - tmpfs t rw\n";
  assertEquals(parseMountInfo(text), ["/mnt/with space", "/run"]);
});
