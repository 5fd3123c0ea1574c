import { assertEquals, assertThrows } from "./assert.ts";
import { WrongState } from "../lib/host/errors.ts";
import {
  canTransition,
  changeStatus,
  type Operation,
  settleStatus,
  STATUSES,
  type StatusFields,
  transition,
  TRANSITIONS,
} from "../lib/container/status.ts";
import { sampleState } from "./fixtures/worker.ts";

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

Deno.test("changeStatus moves by the table and owns the fields that go with a status", () => {
  const t0 = new Date("2026-11-23T01:00:00Z");
  const t1 = new Date("2026-11-23T01:00:05Z");
  const s: StatusFields = {
    id: "c1",
    status: "created",
    startedAt: null,
    exitCode: null,
    exitedAt: null,
    exitObserved: false,
  };
  assertEquals(changeStatus(s, "start", t0), "running"); // first run
  assertEquals(s, { ...s, status: "running", startedAt: t0.toISOString() });
  changeStatus(s, "pause", t1);
  changeStatus(s, "resume", t1); // resume keeps the start time
  assertEquals(s.startedAt, t0.toISOString());
  changeStatus(s, "kill", t1); // keeps the status
  assertEquals(s.status, "running");
  changeStatus(s, "exit", t1);
  s.exitCode = 137;
  s.exitObserved = true;
  assertEquals(s.exitedAt, t1.toISOString());
  const t2 = new Date("2026-11-23T01:01:00Z");
  changeStatus(s, "restart", t2); // restore/restart: the last exit is cleared
  assertEquals(s, {
    id: "c1",
    status: "running",
    startedAt: t2.toISOString(),
    exitCode: null,
    exitedAt: null,
    exitObserved: false,
  });
});

Deno.test("changeStatus refuses an illegal move and changes nothing", () => {
  const s: StatusFields = {
    id: "web1",
    status: "stopped",
    startedAt: "2026-11-23T01:00:00.000Z",
    exitCode: 0,
    exitedAt: "2026-11-23T01:00:05.000Z",
    exitObserved: true,
  };
  const before = { ...s };
  const err = assertThrows(() => changeStatus(s, "pause", new Date()), WrongState);
  assertEquals(err.message, 'cannot pause "web1": container is stopped');
  assertThrows(() => changeStatus(s, "start", new Date()), WrongState);
  assertThrows(() => changeStatus(s, "resume", new Date()), WrongState);
  assertEquals(s, before);
});

Deno.test("settleStatus takes what repair or an exit found, without the table", () => {
  const t = new Date("2026-11-23T02:00:00Z");
  const s: StatusFields = {
    id: "c2",
    status: "stopped",
    startedAt: null,
    exitCode: 1,
    exitedAt: null,
    exitObserved: true,
  };
  // An interrupted restore that got as far as a running init (stopped -> running).
  settleStatus(s, "running", t, "repair");
  assertEquals([s.status, s.exitCode, s.startedAt], ["running", null, t.toISOString()]);
  // An exit that replaces a synthetic 255 of a stopped container.
  settleStatus(s, "stopped", t, "exit");
  assertEquals([s.status, s.exitedAt], ["stopped", t.toISOString()]);
});

Deno.test("a container state's status is readonly: status.ts is its one writer", () => {
  const s = sampleState("/r", 0);
  // @ts-expect-error: assigning it anywhere else does not type-check (deno check, deno test)
  s.status = "paused";
  changeStatus(s, "resume", new Date());
  assertEquals(s.status, "running");
});

Deno.test("no module of lib/ copies a status in with Object.assign (which readonly cannot stop)", async () => {
  const writers: string[] = [];
  const walk = async (dir: URL): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) await walk(url);
      else if (e.name.endsWith(".ts") && !url.pathname.endsWith("/container/status.ts")) {
        const text = await Deno.readTextFile(url);
        if (/Object\.assign\([^;]*?\{[^;}]*\bstatus\s*:/s.test(text)) {
          writers.push(url.pathname.slice(url.pathname.indexOf("/lib/") + 1));
        }
      }
    }
  };
  await walk(new URL("../lib/", import.meta.url));
  assertEquals(writers, []);
});
