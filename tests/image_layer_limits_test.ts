import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { layerLimitsFrom, parseUnpackedSize } from "../lib/image/_layer_limits.ts";

const envOf = (e: Record<string, string>) => (k: string) => e[k];

Deno.test("layer size cap: none by default; BERTH_MAX_LAYER_SIZE is the host's default; --max-unpacked-size wins", () => {
  assertEquals(layerLimitsFrom(envOf({})).maxBytes, Infinity);
  assertEquals(layerLimitsFrom(envOf({ BERTH_MAX_LAYER_SIZE: "2g" })).maxBytes, 2 * 1024 ** 3);
  const o = layerLimitsFrom(envOf({ BERTH_MAX_LAYER_SIZE: "2g" }), parseUnpackedSize("512m"));
  assertEquals([o.maxBytes, o.bytesCap], [512 * 1024 ** 2, "--max-unpacked-size"]);
  assertEquals(
    layerLimitsFrom(envOf({ BERTH_MAX_LAYER_SIZE: "2g" }), parseUnpackedSize("none")).maxBytes,
    Infinity,
  );
  assertEquals(layerLimitsFrom(envOf({})).maxEntries, 2_000_000);
  assertEquals(layerLimitsFrom(envOf({ BERTH_MAX_LAYER_ENTRIES: "40" })).maxEntries, 40);
});

Deno.test("--max-unpacked-size takes berth's size grammar; anything else is InvalidArgument", () => {
  assertEquals(parseUnpackedSize("1048576"), 1048576);
  assertEquals(parseUnpackedSize("10G"), 10 * 1024 ** 3);
  assertEquals(parseUnpackedSize("64mb"), 64 * 1024 ** 2);
  for (const bad of ["", "0", "lots", "-1", "1.5g", "1p"]) {
    assertThrows(() => parseUnpackedSize(bad), InvalidArgument, "--max-unpacked-size");
  }
  assertThrows(
    () => layerLimitsFrom(envOf({ BERTH_MAX_LAYER_SIZE: "lots" })),
    InvalidArgument,
    "BERTH_MAX_LAYER_SIZE",
  );
});
