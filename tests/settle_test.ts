// lib/ops/settle.ts and the settling branch of lib/ops/repair.ts, table-driven
// against a runtime that answers from the table (no runc): an interrupted
// start, pause, resume, restore or checkpoint takes the runtime's word.
import { assertEquals, assertRejects } from "./assert.ts";
import { createContext } from "../lib/container/context.ts";
import { parseGlobals } from "../lib/container/globals.ts";
import type { ContainerState, OpName } from "../lib/container/state_file.ts";
import type { Status } from "../lib/container/status.ts";
import { NotFound, RuntimeError } from "../lib/host/errors.ts";
import type { Runtime, RuntimeState } from "../lib/host/runtime.ts";
import { repairLocked } from "../lib/ops/repair.ts";
import { settleLocked } from "../lib/ops/settle.ts";
import { sampleState } from "./fixtures/worker.ts";

const T0 = "2026-11-23T00:00:00.000Z";
const NOW = new Date("2026-11-23T01:00:00.000Z");

/** A runtime whose `state` answers `answer` (or throws it); nothing else is called. */
function tableRuntime(answer: RuntimeState | Error): Runtime {
  const runtime: Partial<Runtime> = {
    state: () => answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer),
  };
  return runtime as Runtime;
}

interface Case {
  name: string;
  before: { status: Status; op: OpName; exitCode?: number; imagePath?: string };
  runtime: RuntimeState | Error;
  after: Partial<ContainerState>;
}

const CASES: Case[] = [
  {
    name: "start, runtime running: running, started now, its pid",
    before: { status: "created", op: "start" },
    runtime: { status: "running", pid: Deno.pid },
    after: { status: "running", startedAt: NOW.toISOString(), pid: Deno.pid, exitCode: null },
  },
  {
    name: "start, runtime still created: created",
    before: { status: "created", op: "start" },
    runtime: { status: "created", pid: 1 },
    after: { status: "created", startedAt: null },
  },
  {
    name: "start, runtime forgot it: stopped with 255, unobserved",
    before: { status: "created", op: "start" },
    runtime: new NotFound("container does not exist"),
    after: { status: "stopped", exitCode: 255, exitObserved: false, exitedAt: NOW.toISOString() },
  },
  {
    name: "pause, runtime paused: paused",
    before: { status: "running", op: "pause" },
    runtime: { status: "paused", pid: 1 },
    after: { status: "paused", startedAt: T0 },
  },
  {
    name: "pause, runtime still running: running",
    before: { status: "running", op: "pause" },
    runtime: { status: "running", pid: 1 },
    after: { status: "running", startedAt: T0 },
  },
  {
    name: "resume, runtime running: running, start time kept",
    before: { status: "paused", op: "resume" },
    runtime: { status: "running", pid: 1 },
    after: { status: "running", startedAt: T0 },
  },
  {
    name: "restore, runtime running: running, the last exit cleared, started now",
    before: { status: "stopped", op: "restore", exitCode: 137, imagePath: "/img" },
    runtime: { status: "running", pid: Deno.pid },
    after: {
      status: "running",
      exitCode: null,
      exitedAt: null,
      exitObserved: false,
      startedAt: NOW.toISOString(),
      pid: Deno.pid,
    },
  },
  {
    name: "checkpoint, runtime forgot it: stopped, and the images it left are kept",
    before: { status: "running", op: "checkpoint", imagePath: "/img" },
    runtime: new NotFound("container does not exist"),
    after: { status: "stopped", exitCode: 255, checkpoint: "/img" },
  },
  {
    name: "a status berth does not know counts as stopped",
    before: { status: "running", op: "pause" },
    runtime: { status: "creating", pid: 1 },
    after: { status: "stopped", exitCode: 255 },
  },
];

/** A context on fresh roots with `runtime`; removed afterwards. */
async function withContext(
  runtime: Runtime,
  fn: (ctx: ReturnType<typeof createContext>, root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "berth-settle-" });
  try {
    const { globals } = parseGlobals(
      ["--root", `${root}/run`, "--data-root", `${root}/data`],
      () => undefined,
    );
    const ctx = createContext(globals, {
      runtime,
      clock: { ...createContext(globals).clock, now: () => NOW },
    });
    await Deno.mkdir(ctx.paths.bundleDir("default", "c"), { recursive: true });
    await fn(ctx, root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function stateFor(root: string, c: Case): ContainerState {
  const s: ContainerState = {
    ...sampleState(`${root}/run`, 0),
    status: c.before.status,
    pid: 1,
    startedAt: c.before.status === "created" ? null : T0,
    exitCode: c.before.exitCode ?? null,
    exitedAt: c.before.exitCode !== undefined ? T0 : null,
    exitObserved: c.before.exitCode !== undefined,
    op: {
      name: c.before.op,
      pid: 999_999,
      pidStartTime: null,
      since: T0,
      ...(c.before.imagePath !== undefined ? { imagePath: c.before.imagePath } : {}),
    },
  };
  return s;
}

for (const c of CASES) {
  Deno.test(`settle: ${c.name}`, async () => {
    await withContext(tableRuntime(c.runtime), async (ctx, root) => {
      await ctx.store.save(stateFor(root, c));
      const settled = await settleLocked(ctx, await ctx.store.load("default", "c"));
      const saved = await ctx.store.load("default", "c");
      for (const [k, v] of Object.entries(c.after)) {
        assertEquals(saved[k as keyof ContainerState], v, `${c.name}: ${k}`);
      }
      assertEquals(saved.op, null, "the op is cleared");
      assertEquals(settled, saved);
    });
  });
}

Deno.test("settle: a runtime that fails (not 'not found') leaves the state as it was", async () => {
  const c = CASES[3]!;
  await withContext(
    tableRuntime(new RuntimeError("runc: state: exit status 1")),
    async (ctx, root) => {
      await ctx.store.save(stateFor(root, c));
      const s = await ctx.store.load("default", "c");
      await assertRejects(() => settleLocked(ctx, { ...s }), RuntimeError);
      assertEquals(await ctx.store.load("default", "c"), s);
    },
  );
});

Deno.test("repair settles an interrupted pause and says what it did", async () => {
  const c = CASES[3]!;
  await withContext(tableRuntime(c.runtime), async (ctx, root) => {
    const s = stateFor(root, c);
    await ctx.store.save(s);
    const said: string[] = [];
    const repaired = await repairLocked(ctx, s, (m) => said.push(m));
    assertEquals(repaired?.status, "paused");
    assertEquals(repaired?.op, null);
    assertEquals(said, ["settled the interrupted pause of default/c: running -> paused"]);
  });
});
