import { assertEquals, assertThrows } from "./assert.ts";
import { WrongState } from "../lib/host/errors.ts";
import {
  canTransition,
  type Operation,
  STATUSES,
  transition,
  TRANSITIONS,
} from "../lib/container/status.ts";

Deno.test("the transition table allows exactly the contract's moves", () => {
  const allowed: Record<Operation, string> = {
    start: "created",
    pause: "created running",
    resume: "paused",
    kill: "created running paused",
    exec: "running",
    exit: "created running paused",
    delete: "created stopped",
    forceDelete: "created running paused stopped",
    checkpoint: "running",
    restore: "stopped",
    restart: "stopped",
    update: "created running paused",
  };
  for (const op of Object.keys(TRANSITIONS) as Operation[]) {
    for (const s of STATUSES) {
      assertEquals(canTransition(s, op), allowed[op].split(" ").includes(s), `${op} from ${s}`);
    }
  }
});

Deno.test("transition() returns the next status", () => {
  assertEquals(transition("a", "created", "start"), "running");
  assertEquals(transition("a", "running", "pause"), "paused");
  assertEquals(transition("a", "paused", "resume"), "running");
  assertEquals(transition("a", "running", "exit"), "stopped");
  assertEquals(transition("a", "running", "kill"), "running");
  assertEquals(transition("a", "stopped", "restart"), "running");
  assertEquals(transition("a", "paused", "update"), "paused");
});

Deno.test("an illegal move is WrongState with a clear message", () => {
  const err = assertThrows(() => transition("web1", "stopped", "pause"), WrongState);
  assertEquals(err.message, `cannot pause "web1": container is stopped`);
  assertEquals(err.exitCode, 5);
  assertThrows(() => transition("web1", "running", "delete"), WrongState, "use -f");
});
