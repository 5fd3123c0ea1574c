// Parsing of -v, --mount and --tmpfs, and their OCI mounts (no processes).
import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import {
  checkBindSources,
  ociMount,
  parseMountFlag,
  parseMounts,
  parseTmpfsFlag,
  parseVolumeFlag,
  volumeNames,
} from "../lib/volume/_mount_spec.ts";

Deno.test("-v: an absolute source is a bind, a name a volume, anything else exit 2", () => {
  assertEquals(parseVolumeFlag("/srv//www/:/www:ro"), {
    type: "bind",
    source: "/srv/www",
    destination: "/www",
    readOnly: true,
  });
  assertEquals(parseVolumeFlag("data:/var/data/"), {
    type: "volume",
    source: "data",
    destination: "/var/data",
    readOnly: false,
  });
  for (const bad of ["./x:/d", "x/y:/d", "../x:/d", ":/d", "data", "data:d", "/a:/b:rx", "/a:/"]) {
    assertThrows(() => parseVolumeFlag(bad), InvalidArgument);
  }
  assertThrows(() => parseVolumeFlag("/a/../b:/d"), InvalidArgument, "..");
  assertThrows(() => parseVolumeFlag("/a,b:/d"), InvalidArgument, ",");
});

Deno.test("--mount: fields, aliases, ro, and type/source agreement", () => {
  assertEquals(parseMountFlag("type=bind,source=/h,target=/c,readonly"), {
    type: "bind",
    source: "/h",
    destination: "/c",
    readOnly: true,
  });
  assertEquals(parseMountFlag("type=tmpfs,dst=/t,tmpfs-size=4k"), {
    type: "tmpfs",
    source: null,
    destination: "/t",
    readOnly: false,
    size: 4096,
  });
  assertEquals(parseMountFlag("type=volume,src=v,dst=/v,ro=false").readOnly, false);
  for (
    const bad of [
      "type=bind,src=v,dst=/x", // a bind of a name
      "type=volume,src=/h,dst=/x", // a volume of a path
      "type=tmpfs,src=x,dst=/x",
      "type=bind,src=/h,dst=/x,size=1m",
      "type=bind,src=/h",
      "src=/h,dst=/x",
      "type=bind,src=/h,dst=/x,bogus=1",
      "type=bind,src=/h,src=/i,dst=/x",
      "type=bind,src=/h,dst=/x,ro=maybe",
    ]
  ) assertThrows(() => parseMountFlag(bad), InvalidArgument);
});

Deno.test("--tmpfs and sizes", () => {
  assertEquals(parseTmpfsFlag("/t"), {
    type: "tmpfs",
    source: null,
    destination: "/t",
    readOnly: false,
  });
  assertEquals(parseTmpfsFlag("/t:size=64m,ro").size, 64 * 1024 * 1024);
  assertThrows(() => parseTmpfsFlag("/t:size=1.5m"), InvalidArgument, "bad size");
  assertThrows(() => parseTmpfsFlag("/t:mode=1777"), InvalidArgument, "unknown option");
  assertThrows(() => parseTmpfsFlag("t"), InvalidArgument, "absolute");
});

Deno.test("two mounts on one destination are refused; volume names once each", () => {
  assertThrows(() => parseMounts(["/a:/x"], [], ["/x"]), InvalidArgument, "two mounts on /x");
  const specs = parseMounts(["v:/a", "v:/b"], ["type=volume,src=w,dst=/c"], []);
  assertEquals(volumeNames(specs), ["v", "w"]);
});

Deno.test("a missing bind source is exit 2; an existing one passes", () => {
  checkBindSources(parseMounts(["/tmp:/t", "v:/v"], [], []));
  assertThrows(
    () => checkBindSources(parseMounts(["/no/such/path:/t"], [], [])),
    InvalidArgument,
    "does not exist",
  );
});

Deno.test("OCI mounts: binds and volumes are rbind, tmpfs carries its size", () => {
  const path = (n: string) => `/data/volumes/default/${n}/_data`;
  assertEquals(ociMount(parseVolumeFlag("/h:/c:ro"), path), {
    destination: "/c",
    type: "bind",
    source: "/h",
    options: ["rbind", "rprivate", "ro"],
  });
  assertEquals(ociMount(parseVolumeFlag("v:/c"), path).source, "/data/volumes/default/v/_data");
  assertEquals(ociMount(parseTmpfsFlag("/t:size=1k"), path).options, [
    "nosuid",
    "nodev",
    "mode=1777",
    "rw",
    "size=1024",
  ]);
});
