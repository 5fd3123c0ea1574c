// push's reading of an upload's Range header (where a resumed upload goes on),
// and where it may mount each blob from.

import { mountSources, rangeEnd } from "../lib/image/_push.ts";
import { parseReference } from "../lib/image/_reference.ts";
import type { ImageRecord } from "../lib/image/_store.ts";
import { assertEquals } from "./assert.ts";

Deno.test("push: the next offset from an upload's Range header", () => {
  assertEquals(rangeEnd("0-99"), 100);
  assertEquals(rangeEnd("bytes=0-0"), 1);
  assertEquals(rangeEnd("0--1"), null); // distribution's answer for an empty upload
  assertEquals(rangeEnd(null), null);
});

/** A record of image `id` with `layers` (digests) and `names`. */
function rec(id: string, layers: string[], names: string[]): ImageRecord {
  return {
    id,
    manifestDigest: `m-${id}`,
    names,
    layers: layers.map((digest) => ({ digest, diffId: digest, size: 1, mediaType: "t" })),
    created: null,
    size: 0,
  } as ImageRecord;
}

Deno.test("push: mount sources are repositories of the same registry, the image's own names first, other images' for the blobs they share", () => {
  const to = parseReference("reg:5000/dest:1");
  const img = rec("cfg", ["l1", "l2", "l3"], ["example.com/app:1", "reg:5000/dest:0"]);
  const others = [
    rec("b", ["l1"], ["other:5000/base:1", "reg:5000/base:1"]),
    rec("c", ["l2", "l9"], ["reg:5000/tools:2"]),
    rec("d", ["l3"], []), // a cache entry: no name
  ];
  assertEquals(
    Object.fromEntries(mountSources(img, [img, ...others], to)),
    { l1: "base", l2: "tools" },
  );
  // Its own name elsewhere on the registry lends everything first.
  const named = rec("cfg", ["l1", "l2", "l3"], ["reg:5000/app:1"]);
  assertEquals(
    Object.fromEntries(mountSources(named, others, to)),
    { cfg: "app", l1: "app", l2: "app", l3: "app" },
  );
  // At most 8 repositories are asked.
  const many = Array.from({ length: 12 }, (_, i) => rec(`x${i}`, [`m${i}`], [`reg:5000/r${i}:1`]));
  const wide = rec("w", many.map((_, i) => `m${i}`), []);
  assertEquals(new Set(mountSources(wide, many, to).values()).size, 8);
});
