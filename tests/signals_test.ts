// lib/host/signals.ts: signal names.
import { assertEquals, assertThrows } from "./assert.ts";
import { parseSignal } from "../lib/host/signals.ts";
import { InvalidArgument } from "../lib/host/errors.ts";

Deno.test("signals parse by name, SIG name and number", () => {
  assertEquals(parseSignal("RTMIN+2"), 36);
  assertEquals(parseSignal("sigterm"), 15);
  assertThrows(() => parseSignal("SIGNOPE"), InvalidArgument);
});
