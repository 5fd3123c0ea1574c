// lib/monitor/exits.ts: the restart policy (pure functions).
import { assertEquals } from "./assert.ts";
import { restartDelay, shouldRestart } from "../lib/monitor/exits.ts";
import { sampleState } from "./fixtures/worker.ts";

Deno.test("restart policy: back-off doubles to 10 s; who is restarted", () => {
  assertEquals([0, 1, 2, 3, 7, 20].map(restartDelay), [100, 200, 400, 800, 10_000, 10_000]);
  const s = { ...sampleState("/r", 0), status: "stopped" as const, exitCode: 1 };
  assertEquals(shouldRestart({ ...s, restart: "on-failure" }), true);
  assertEquals(shouldRestart({ ...s, restart: "on-failure", exitCode: 0 }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", exitCode: 0 }), true);
  assertEquals(shouldRestart({ ...s, restart: "unless-stopped", exitCode: 0 }), true);
  assertEquals(shouldRestart({ ...s, restart: "unless-stopped", restartSuppressed: true }), false);
  assertEquals(shouldRestart({ ...s, restart: "no" }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", restartSuppressed: true }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", autoRemove: true }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", status: "running" }), false);
});
