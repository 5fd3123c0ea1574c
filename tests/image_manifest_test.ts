import {
  choosePlatform,
  compressionOf,
  parseImageConfig,
  parseManifestDoc,
  parsePlatform,
} from "../lib/image/_manifest.ts";
import { InvalidArgument, RuntimeError } from "../lib/host/errors.ts";
import { assertEquals, assertThrows } from "./assert.ts";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const d = (c: string) => `sha256:${c.repeat(64)}`;

Deno.test("manifests and indexes are told apart; schema 1 is refused clearly", () => {
  const m = parseManifestDoc(
    enc({
      schemaVersion: 2,
      config: { mediaType: "x", digest: d("a"), size: 1 },
      layers: [{
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: d("b"),
        size: 2,
      }],
    }),
    "application/vnd.oci.image.manifest.v1+json",
  );
  assertEquals(m.kind, "manifest");
  const i = parseManifestDoc(enc({ schemaVersion: 2, manifests: [] }), null);
  assertEquals(i.kind, "index");
  assertThrows(
    () => parseManifestDoc(enc({ schemaVersion: 1, fsLayers: [] }), null),
    RuntimeError,
    "schema 1",
  );
  assertThrows(
    () => parseManifestDoc(enc({ schemaVersion: 2, config: { digest: "md5:x" } }), null),
    RuntimeError,
  );
  assertThrows(
    () => parseManifestDoc(new TextEncoder().encode("{"), null),
    RuntimeError,
    "not JSON",
  );
  assertThrows(
    () =>
      parseManifestDoc(
        enc({
          schemaVersion: 2,
          config: { mediaType: "x", digest: d("a"), size: 1 },
          layers: [{ mediaType: "application/x-weird", digest: d("b"), size: 2 }],
        }),
        null,
      ),
    RuntimeError,
    "unsupported layer media type",
  );
});

Deno.test("layer compression from the media type", () => {
  assertEquals(compressionOf("application/vnd.oci.image.layer.v1.tar+gzip"), "gzip");
  assertEquals(compressionOf("application/vnd.docker.image.rootfs.diff.tar.gzip"), "gzip");
  assertEquals(compressionOf("application/vnd.oci.image.layer.v1.tar+zstd"), "zstd");
  assertEquals(compressionOf("application/vnd.oci.image.layer.v1.tar"), "none");
});

Deno.test("the platform is chosen from an index; a missing one is a clear error", () => {
  const index = {
    schemaVersion: 2 as const,
    manifests: [
      { mediaType: "m", digest: d("1"), size: 1, platform: { os: "linux", architecture: "amd64" } },
      {
        mediaType: "m",
        digest: d("2"),
        size: 1,
        platform: { os: "linux", architecture: "arm64", variant: "v8" },
      },
      {
        mediaType: "m",
        digest: d("3"),
        size: 1,
        platform: { os: "linux", architecture: "arm", variant: "v7" },
      },
    ],
  };
  assertEquals(choosePlatform(index, { os: "linux", architecture: "amd64" }).digest, d("1"));
  assertEquals(choosePlatform(index, parsePlatform("linux/arm64")).digest, d("2"));
  assertEquals(choosePlatform(index, parsePlatform("linux/arm/v7")).digest, d("3"));
  assertThrows(
    () => choosePlatform(index, parsePlatform("linux/s390x")),
    RuntimeError,
    "linux/amd64",
  );
  assertThrows(() => parsePlatform("linux"), InvalidArgument);
  assertThrows(() => parsePlatform("a/b/c/d"), InvalidArgument);
});

Deno.test("an image config must list one sha256 diff_id per layer", () => {
  const cfg = (ids: unknown) => enc({ rootfs: { type: "layers", diff_ids: ids } });
  assertEquals(parseImageConfig(cfg([d("a")]), 1).rootfs.diff_ids, [d("a")]);
  assertThrows(() => parseImageConfig(cfg([d("a")]), 2), RuntimeError, "1 diff_ids for 2 layers");
  assertThrows(() => parseImageConfig(cfg(["md5:x"]), 1), RuntimeError);
});
