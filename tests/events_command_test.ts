// lib/cli/commands/events.ts: --since parsing.
import { assertEquals, assertThrows } from "./assert.ts";
import { parseSince } from "../lib/cli/commands/events.ts";
import { InvalidArgument } from "../lib/host/errors.ts";

Deno.test("--since takes durations and ISO times", () => {
  const now = Date.parse("2026-11-22T10:00:00Z");
  assertEquals(parseSince("5m", now), now - 300_000);
  assertEquals(parseSince("2h", now), now - 7_200_000);
  assertEquals(parseSince("2026-11-22T09:00:00Z", now), now - 3_600_000);
  assertThrows(() => parseSince("soon", now), InvalidArgument);
});
