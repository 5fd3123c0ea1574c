import { formatReference, isLoopbackRegistry, parseReference } from "../lib/image/_reference.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { assertEquals, assertThrows } from "./assert.ts";

Deno.test("references are normalized as docker does", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["user/app:1.2", "docker.io/user/app:1.2"],
    ["127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"],
    ["localhost/a/b:x", "localhost/a/b:x"],
    ["ghcr.io/o/r@sha256:" + "a".repeat(64), "ghcr.io/o/r@sha256:" + "a".repeat(64)],
    ["r.io/x:t@sha256:" + "b".repeat(64), "r.io/x:t@sha256:" + "b".repeat(64)],
    ["[::1]:5000/x", "[::1]:5000/x:latest"],
  ];
  for (const [input, want] of cases) assertEquals(formatReference(parseReference(input)), want);
  const r = parseReference("127.0.0.1:5000/a/b:c");
  assertEquals(r, { registry: "127.0.0.1:5000", repository: "a/b", tag: "c", digest: null });
});

Deno.test("malformed references are InvalidArgument (exit 2)", () => {
  for (
    const bad of [
      "",
      "UPPER",
      "a//b",
      "x:",
      "x:bad tag",
      "x@sha256:12",
      "x@md5:" + "a".repeat(32),
      "-x",
      "a/",
      "exa mple/x",
    ]
  ) {
    assertThrows(() => parseReference(bad), InvalidArgument, undefined);
  }
});

Deno.test("only loopback registries are plain HTTP", () => {
  for (
    const r of [
      "127.0.0.1:5000",
      "localhost",
      "localhost:80",
      "[::1]:5000",
      "127.1.2.3",
      // The whole of 127.0.0.0/8, in every form the URL parser (and so
      // fetch) reads as one of its addresses.
      "127.1",
      "127.1:5000",
      "127.0.0.2:5000",
      "127.255.255.254",
      "0x7f.1:5000",
      "2130706433:5000",
      "[::1]",
      "[0:0:0:0:0:0:0:1]:5000",
      "[::ffff:7f00:1]:5000",
    ]
  ) {
    assertEquals(isLoopbackRegistry(r), true, r);
  }
  for (
    const r of [
      "docker.io",
      "10.0.0.1:5000",
      "127.0.0.1.evil.com",
      "localhost.example.com",
      // Names that only look like loopback addresses.
      "127.0.0.1a:5000",
      "127.0.0.1.nip.io:5000",
      "128.0.0.1",
      "[::2]:5000",
      "[::ffff:8000:1]",
    ]
  ) {
    assertEquals(isLoopbackRegistry(r), false, r);
  }
});
