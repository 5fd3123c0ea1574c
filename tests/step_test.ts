// lib/container/step.ts: the order of a recorded step, on a real state store
// (no runtime: the acts are functions that look at what was saved so far).
import { assertEquals, assertRejects } from "./assert.ts";
import { createContext } from "../lib/container/context.ts";
import { eventsPaths, parseEvents } from "../lib/container/events.ts";
import { parseGlobals } from "../lib/container/globals.ts";
import type { ContainerState } from "../lib/container/state_file.ts";
import { recordedStep } from "../lib/container/step.ts";
import { RuntimeError, WrongState } from "../lib/host/errors.ts";
import { sampleState } from "./fixtures/worker.ts";
import { tempDir } from "./temp_dir.ts";

const NOW = new Date("2026-12-01T00:00:00.000Z");

async function withContext(
  fn: (ctx: ReturnType<typeof createContext>, s: ContainerState) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir("berth-step-");
  const { globals } = parseGlobals(
    ["--root", `${dir.path}/run`, "--data-root", `${dir.path}/data`],
    () => undefined,
  );
  const ctx = createContext(globals, {
    clock: { ...createContext(globals).clock, now: () => NOW },
  });
  await Deno.mkdir(ctx.paths.bundleDir("default", "c"), { recursive: true });
  const s: ContainerState = { ...sampleState(`${dir.path}/run`, 0), status: "created" };
  await ctx.store.save(s);
  await fn(ctx, s);
}

function events(ctx: ReturnType<typeof createContext>): string[] {
  try {
    return parseEvents(Deno.readTextFileSync(eventsPaths(ctx.paths.dataRoot).log)).map((e) =>
      `${e.type} ${e.id}`
    );
  } catch {
    return [];
  }
}

Deno.test("recordedStep: the op is saved before the act, the status and a clean state after, then the event", async () => {
  await withContext(async (ctx, s) => {
    const seen: (string | null)[] = [];
    const got = await recordedStep(ctx, s, "start", async () => {
      const saved = await ctx.store.load("default", "c");
      seen.push(saved.op?.name ?? null, saved.status);
      assertEquals(events(ctx), [], "no event before the act is done");
      return 42;
    });
    assertEquals(got, 42);
    assertEquals(seen, ["start", "created"]);
    const saved = await ctx.store.load("default", "c");
    assertEquals([saved.status, saved.op, saved.startedAt], ["running", null, NOW.toISOString()]);
    assertEquals(events(ctx), ["start c"]);
  });
});

Deno.test("recordedStep: a refused transition saves nothing and never acts", async () => {
  await withContext(async (ctx, s) => {
    const before = await ctx.store.load("default", "c");
    let acted = false;
    await assertRejects(
      () => recordedStep(ctx, s, "resume", () => Promise.resolve(void (acted = true))),
      WrongState,
    );
    assertEquals(acted, false);
    assertEquals(await ctx.store.load("default", "c"), before);
    assertEquals(events(ctx), []);
  });
});

Deno.test("recordedStep: a failed act keeps the record for repair, unless undoOnFailure", async () => {
  await withContext(async (ctx, s) => {
    const fail = () => Promise.reject(new RuntimeError("runtime failed"));
    await assertRejects(() => recordedStep(ctx, s, "pause", fail), RuntimeError);
    assertEquals((await ctx.store.load("default", "c")).op?.name, "pause");
    const fresh = { ...(await ctx.store.load("default", "c")), op: null };
    await ctx.store.save(fresh);
    await assertRejects(
      () => recordedStep(ctx, fresh, "pause", fail, { undoOnFailure: true }),
      RuntimeError,
    );
    const saved = await ctx.store.load("default", "c");
    assertEquals([saved.op, saved.status], [null, "created"]);
    assertEquals(events(ctx), []);
  });
});

Deno.test("recordedStep: a delete removes the state (nothing saved after it) and resumes an interrupted one", async () => {
  await withContext(async (ctx, s) => {
    // Running: a plain delete is refused, a forced one records "delete".
    const running = { ...s, status: "running" as const };
    await ctx.store.save(running);
    await assertRejects(
      () => recordedStep(ctx, running, "delete", () => Promise.resolve(), { removes: true }),
      WrongState,
    );
    let recorded: string | null = null;
    await assertRejects(
      () =>
        recordedStep(ctx, running, "forceDelete", async () => {
          recorded = (await ctx.store.load("default", "c")).op?.name ?? null;
          throw new RuntimeError("killed midway");
        }, { removes: true, resumable: true }),
      RuntimeError,
    );
    assertEquals(recorded, "delete");
    // Resumed by a plain delete (as repair does): no transition check, the record kept.
    const interrupted = await ctx.store.load("default", "c");
    const since = interrupted.op!.since;
    await recordedStep(ctx, interrupted, "delete", async () => {
      assertEquals((await ctx.store.load("default", "c")).op?.since, since);
      Deno.removeSync(ctx.paths.bundleDir("default", "c"), { recursive: true });
    }, { removes: true, resumable: true });
    assertEquals(await ctx.store.tryLoad("default", "c"), null, "not saved again after the act");
    assertEquals(events(ctx), ["delete c"]);
  });
});
