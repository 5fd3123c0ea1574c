// The one tar header writer (cp's stream, layers, save's archives): GNU tar
// reads what it writes, pax records carry what ustar cannot, and a size past
// ustar's field is also written base-256 in the block.

import { concatBytes as concat } from "../lib/_std/bytes.ts";
import { join } from "../lib/_std/path.ts";
import {
  paxRecord,
  TAR_BLOCK,
  TAR_END,
  tarBlock,
  tarEntryHeader,
  tarPadding,
} from "../lib/host/tar_header.ts";
import { assertEquals, assertTrue } from "./assert.ts";
import { tempDir } from "./temp_dir.ts";

const enc = new TextEncoder();

Deno.test("tar header: GNU tar reads a long name and link target, a large owner, the time to the nanosecond and an xattr from pax records", async () => {
  await using dir = await tempDir("berth-tarh-");
  const long = "d/" + "n".repeat(150);
  const target = "t".repeat(120);
  const common = { uid: 0, gid: 0, size: 0, paxName: "PaxHeader" };
  const tar = concat([
    tarEntryHeader({ ...common, name: "d/", type: "dir", mode: 0o1755, mtime: 1_600_000_000 }),
    tarEntryHeader({
      ...common,
      name: long,
      type: "file",
      mode: 0o640,
      uid: 4_194_304, // past ustar's 7 octal digits
      gid: 5,
      size: 5,
      mtime: 1_600_000_000n,
      mtimeNs: 123_456_789,
      xattrs: [["user.a", new Uint8Array([0, 1, 2])]],
    }),
    enc.encode("hello"),
    tarPadding(5),
    tarEntryHeader({
      ...common,
      name: "d/l",
      type: "symlink",
      mode: 0o777,
      mtime: 1,
      linkname: target,
    }),
    TAR_END,
  ]);
  assertEquals(tar.length % TAR_BLOCK, 0);
  const path = join(dir.path, "a.tar");
  Deno.writeFileSync(path, tar);
  const out = await new Deno.Command("tar", {
    args: ["--xattrs", "--xattrs-include=*", "--numeric-owner", "--full-time", "-tvvf", path],
    env: { TZ: "UTC" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
    l.replace(/ +/g, " ")
  );
  assertEquals(lines, [
    "drwxr-xr-t 0/0 0 2020-09-13 12:26:40 d/",
    `-rw-r-----* 4194304/5 5 2020-09-13 12:26:40.123456789 ${long}`,
    " x: 3 user.a",
    `lrwxrwxrwx 0/0 0 1970-01-01 00:00:01 d/l -> ${target}`,
  ]);
  const x = await new Deno.Command("tar", { args: ["xf", path, "-C", dir.path] }).output();
  assertEquals(x.code, 0, new TextDecoder().decode(x.stderr));
  assertEquals(Deno.readTextFileSync(join(dir.path, long)), "hello");
});

Deno.test("tar header: an entry that fits ustar is one block, without a pax header; its checksum is right", () => {
  const h = tarEntryHeader({
    name: "a/b",
    type: "file",
    mode: 0o4755,
    uid: 1000,
    gid: 1000,
    size: 3,
    mtime: 7,
    paxName: "unused",
  });
  assertEquals(h.length, TAR_BLOCK);
  const text = (off: number, len: number) =>
    new TextDecoder().decode(h.subarray(off, off + len)).replace(/\0.*$/s, "");
  assertEquals([text(0, 100), text(100, 8), text(124, 12), text(156, 1)], [
    "a/b",
    "0004755",
    "00000000003",
    "0",
  ]);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  assertEquals(parseInt(text(148, 8), 8), sum);
});

Deno.test("tar header: a size past 8 GiB goes in a pax record and base-256 in the block", () => {
  const h = tarEntryHeader({
    name: "big",
    type: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 2 ** 34,
    mtime: 0,
    paxName: "PaxHeader",
  });
  const main = h.subarray(h.length - TAR_BLOCK);
  assertEquals(main[124], 0x80);
  let v = 0;
  for (let i = 125; i < 136; i++) v = v * 256 + main[i]!;
  assertEquals(v, 2 ** 34);
  const pax = new TextDecoder().decode(h.subarray(TAR_BLOCK, h.length - TAR_BLOCK));
  assertTrue(pax.startsWith("20 size=17179869184\n"), JSON.stringify(pax));
  assertEquals(
    tarBlock({ name: "x", flag: "0", mode: 0, uid: 0, gid: 0, size: 2 ** 34, mtime: 0 })[124],
    0x80,
  );
});

Deno.test("pax records count their own length, also when it adds a digit", () => {
  assertEquals(new TextDecoder().decode(paxRecord("path", "abc")), "12 path=abc\n");
  const r = paxRecord("k", "v".repeat(94)); // 1+94+3 = 98 bytes, +2 digits = 100: 3 digits
  assertEquals(r.length, 101);
  assertTrue(new TextDecoder().decode(r).startsWith("101 k="));
});
