// gc's pure parts (lib/ops/gc.ts): which mounts are berth's to remove.
import { assertEquals } from "./assert.ts";
import { layoutOwner } from "../lib/ops/gc.ts";

Deno.test("gc's mount owner: only berth's own layout under the roots", () => {
  const paths = { root: "/run/b", dataRoot: "/var/lib/b" };
  assertEquals(layoutOwner(paths, "/run/b/ns/default/containers/c1/rootfs"), {
    ns: "default",
    id: "c1",
  });
  assertEquals(layoutOwner(paths, "/var/lib/b/ns/default/c1/upper/x"), { ns: "default", id: "c1" });
  // runc's bind mount of its binary, left by a runc init killed midway.
  assertEquals(layoutOwner(paths, "/run/b/ns/default/runc/c1/runc.OAeEdg"), {
    ns: "default",
    id: "c1",
  });
  for (
    const m of [
      "/var/lib/b/backups",
      "/run/b/extra",
      "/run/b/ns/default/locks",
      "/run/b/ns/default/runc",
      "/run/b/ns/default/containers/.trash-c1-1234abcd/rootfs",
      "/var/lib/b/images/x",
      "/run/bb/ns/default/containers/c1/rootfs",
    ]
  ) assertEquals(layoutOwner(paths, m), null, m);
});
