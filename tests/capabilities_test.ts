// --cap-add / --cap-drop names and the resulting sets (no processes).
import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { adjustCapabilities, canonicalCapabilities } from "../lib/options/capabilities.ts";

Deno.test("names: with or without CAP_, any case, ALL; unknown ones exit 2", () => {
  assertEquals(
    canonicalCapabilities(["net_admin", "CAP_SYS_TIME", "Net_Admin", "all"], "--cap-add"),
    [
      "CAP_NET_ADMIN",
      "CAP_SYS_TIME",
      "ALL",
    ],
  );
  assertThrows(
    () => canonicalCapabilities(["CAP_FLY"], "--cap-add"),
    InvalidArgument,
    "no such capability",
  );
  assertThrows(() => canonicalCapabilities([""], "--cap-drop"), InvalidArgument);
});

Deno.test("drops apply first, then adds; ALL adds what the host has", () => {
  const base = ["CAP_KILL", "CAP_AUDIT_WRITE"];
  assertEquals(adjustCapabilities(base, [], ["ALL"]).effective, []);
  assertEquals(adjustCapabilities(base, ["CAP_NET_ADMIN"], ["ALL"]).bounding, ["CAP_NET_ADMIN"]);
  assertEquals(
    adjustCapabilities(base, ["CAP_KILL"], ["CAP_KILL"]).permitted,
    ["CAP_AUDIT_WRITE", "CAP_KILL"],
  );
  assertEquals(adjustCapabilities(base, [], ["CAP_KILL"]).ambient, ["CAP_AUDIT_WRITE"]);
  assertEquals(adjustCapabilities([], ["ALL"], [], ["CAP_CHOWN", "CAP_KILL"]).effective, [
    "CAP_CHOWN",
    "CAP_KILL",
  ]);
});
