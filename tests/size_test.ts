import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { parseSize } from "../lib/host/size.ts";
import { parseMemory } from "../lib/limits/_parse.ts";
import { parseTmpfsFlag } from "../lib/volume/_mount_spec.ts";

Deno.test("sizes: units of 1024, optional b, any case; anything else is InvalidArgument naming the option", () => {
  assertEquals(parseSize("1024", "--x"), 1024);
  assertEquals(parseSize("512m", "--x"), 512 * 1024 ** 2);
  assertEquals(parseSize("1G", "--x"), 1024 ** 3);
  assertEquals(parseSize("1gb", "--x"), 1024 ** 3);
  assertEquals(parseSize("10kb", "--x"), 10240);
  assertEquals(parseSize("512K", "--x"), 512 * 1024);
  assertEquals(parseSize("3b", "--x"), 3);
  assertEquals(parseSize("2t", "--x"), 2 * 1024 ** 4);
  for (const bad of ["", "m", "1.5m", "-1m", "0", "12x", "1 m", " 1m", "99999999999t", "1mm"]) {
    assertThrows(() => parseSize(bad, "--x"), InvalidArgument, '--x: bad size "');
  }
});

Deno.test("one grammar: what --memory accepts, --tmpfs size= accepts too", () => {
  for (const size of ["1gb", "64MB", "1g", "65536k", "1t"]) {
    assertEquals(parseTmpfsFlag(`/t:size=${size}`).size, parseSize(size, "x"));
  }
  assertEquals(parseMemory("1gb"), parseSize("1gb", "x"));
});
