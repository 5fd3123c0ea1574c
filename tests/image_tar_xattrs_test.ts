// lib/image/_tar_xattrs.ts: the attributes in a tar stream's pax headers.
import { assertEquals } from "./assert.ts";
import { normalizeEntryPath, paxRecords, XattrScanner } from "../lib/image/_tar_xattrs.ts";
import { concat, paxRecord, tarOf } from "./image_fixture.ts";

const enc = new TextEncoder();
const BINARY = Uint8Array.from({ length: 256 }, (_, i) => i); // NUL, newline, '=', invalid UTF-8

function scan(tar: Uint8Array, chunk = tar.length): [string, [string, number[]][]][] {
  const s = new XattrScanner();
  for (let i = 0; i < tar.length; i += chunk) s.write(tar.subarray(i, i + chunk));
  return s.found.map((e) => [e.path, e.xattrs.map(([n, v]) => [n, [...v]])]);
}

Deno.test("pax records: lengths count bytes, values are kept as bytes", () => {
  const data = concat([paxRecord("path", "a/é"), paxRecord("SCHILY.xattr.user.b", BINARY)]);
  const r = paxRecords(data);
  assertEquals(new TextDecoder().decode(r.get("path")), "a/é");
  assertEquals([...r.get("SCHILY.xattr.user.b")!], [...BINARY]);
  // A record whose length runs past the data ends the parse.
  assertEquals(paxRecords(enc.encode("99 path=x\n")).size, 0);
});

Deno.test("the scanner finds SCHILY and LIBARCHIVE attributes, in any chunking", () => {
  const tar = tarOf([
    { name: "etc/", type: "dir" },
    { name: "etc/plain", data: "no attributes" },
    { name: "etc/a", data: "x".repeat(1500), pax: { "SCHILY.xattr.user.one": "1", mtime: "1.5" } },
    { name: "./bin/ping", data: "elf", pax: { "SCHILY.xattr.security.capability": BINARY } },
    {
      name: "bsd",
      data: "y",
      pax: { "LIBARCHIVE.xattr.user.sp%20ace": btoa("v"), "SCHILY.xattr.user.z": "" },
    },
    // A pax path overrides the header's name.
    {
      name: "short",
      data: "z",
      pax: { path: "long/" + "n".repeat(150), "SCHILY.xattr.user.l": "L" },
    },
  ]);
  const want = [
    ["etc/a", [["user.one", [0x31]]]],
    ["bin/ping", [["security.capability", [...BINARY]]]],
    ["bsd", [["user.sp ace", [0x76]], ["user.z", []]]],
    ["long/" + "n".repeat(150), [["user.l", [0x4c]]]],
  ];
  for (const chunk of [1, 7, 512, 4096, tar.length]) {
    assertEquals(scan(tar, chunk), want, `${chunk}`);
  }
});

Deno.test("a path written again counts as its last entry", () => {
  const tar = tarOf([
    { name: "f", data: "1", pax: { "SCHILY.xattr.user.a": "old" } },
    { name: "g", data: "2", pax: { "SCHILY.xattr.user.b": "b" } },
    { name: "f", data: "3" },
    { name: "g", data: "4", pax: { "SCHILY.xattr.user.b": "new" } },
  ]);
  assertEquals(scan(tar), [["g", [["user.b", [...enc.encode("new")]]]]]);
});

Deno.test("the scanner stops quietly at a broken header; '..' paths are not listed", () => {
  const good = tarOf([{ name: "f", data: "1", pax: { "SCHILY.xattr.user.a": "a" } }]);
  const broken = good.slice();
  broken[1024 + 150] = broken[1024 + 150]! ^ 1; // a digit of the checksum of f's header
  assertEquals(scan(broken), []);
  assertEquals(scan(tarOf([{ name: "../x", data: "1", pax: { "SCHILY.xattr.user.a": "a" } }])), []);
  assertEquals(normalizeEntryPath("./a//b/./c/"), "a/b/c");
  assertEquals(normalizeEntryPath("a/../b"), null);
});
