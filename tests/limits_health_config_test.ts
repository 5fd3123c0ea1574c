import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { HEALTH_DEFAULTS, parseDuration, parseHealth } from "../lib/limits/_health_config.ts";

const none = {
  cmd: undefined,
  interval: undefined,
  timeout: undefined,
  retries: undefined,
  startPeriod: undefined,
};

Deno.test("durations", () => {
  assertEquals(parseDuration("500ms", "--x"), 500);
  assertEquals(parseDuration("2s", "--x"), 2000);
  assertEquals(parseDuration("1m30s", "--x"), 90_000);
  assertEquals(parseDuration("0.5s", "--x"), 500);
  assertEquals(parseDuration("1h", "--x"), 3_600_000);
  assertEquals(parseDuration("0", "--x"), 0);
  for (const bad of ["", "5", "s", "-1s", "1d", "1s ", "1e3s", "9999h"]) {
    assertThrows(() => parseDuration(bad, "--x"), InvalidArgument, "--x");
  }
});

Deno.test("health options: defaults, checks, and options without --health-cmd", () => {
  assertEquals(parseHealth(none), null);
  assertEquals(parseHealth({ ...none, cmd: "true" }), { cmd: "true", ...HEALTH_DEFAULTS });
  assertEquals(
    parseHealth({
      cmd: "curl -f localhost",
      interval: "1s",
      timeout: "200ms",
      retries: "5",
      startPeriod: "10s",
    }),
    {
      cmd: "curl -f localhost",
      intervalMs: 1000,
      timeoutMs: 200,
      retries: 5,
      startPeriodMs: 10_000,
    },
  );
  assertThrows(() => parseHealth({ ...none, retries: "3" }), InvalidArgument, "need --health-cmd");
  assertThrows(() => parseHealth({ ...none, cmd: " " }), InvalidArgument, "empty");
  assertThrows(() => parseHealth({ ...none, cmd: "x", interval: "50ms" }), InvalidArgument);
  assertThrows(() => parseHealth({ ...none, cmd: "x", retries: "0" }), InvalidArgument);
});
