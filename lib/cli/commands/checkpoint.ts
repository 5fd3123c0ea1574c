/**
 * `berth checkpoint --image-path DIR [--leave-running] ID` and
 * `berth restore --image-path DIR [-d] ID`, through the runtime (CRIU).
 *
 * Without `--leave-running` the runtime deletes the container after a
 * successful checkpoint: berth records it as stopped, with the image path
 * in its state, and keeps its bundle and copy-on-write rootfs for restore.
 * A failed checkpoint leaves it running and its state unchanged. Restore
 * goes through the monitor, so the restored container's exit is recorded
 * like any other.
 *
 * @module
 */

import { resolve } from "../../_std/path.ts";
import { bool, type ParsedArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { applyExit, opRecord, runtimeTarget } from "../../container/container.ts";
import { launchRequest } from "../../monitor/client.ts";
import type { Context } from "../../container/context.ts";
import { crashPoint } from "../../container/crash.ts";
import { InvalidArgument, isNotFound, RuntimeError } from "../../host/errors.ts";
import { emit } from "../../container/events.ts";
import { monitorRequest, replyError } from "../../monitor/client.ts";
import { attach, openLogsAtEnd } from "../../ops/attach.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { withLoaded } from "../../ops/reconcile.ts";
import type { ContainerState } from "../../container/state_file.ts";
import { transition } from "../../container/status.ts";
import { parseOneId } from "./single_id.ts";

function imagePathOf(cmd: string, p: ParsedArgs): string {
  const dir = str(p.values, "image-path");
  if (dir === undefined || dir === "") {
    throw new InvalidArgument(`${cmd}: --image-path DIR is required`);
  }
  return resolve(dir);
}

const CHECKPOINT_OPTIONS = [
  {
    name: "image-path",
    type: "string" as const,
    value: "DIR",
    help: "where the checkpoint images go (created if missing)",
  },
  {
    name: "leave-running",
    type: "boolean" as const,
    help: "keep the container running after the checkpoint",
  },
];

/** `checkpoint`. */
export const checkpointCommand: Command<{ ref: string; imagePath: string; leaveRunning: boolean }> =
  {
    name: "checkpoint",
    summary: "checkpoint a running container through the runtime (CRIU)",
    usage: "checkpoint --image-path DIR [--leave-running] ID",
    description:
      "Without --leave-running the container is stopped afterwards (restore brings it back).",
    options: CHECKPOINT_OPTIONS,
    examples: ["berth checkpoint --image-path /var/lib/ckpt/web1 web1"],
    parse(args) {
      const { ref, parsed } = parseOneId("checkpoint", args, CHECKPOINT_OPTIONS);
      return {
        ref,
        imagePath: imagePathOf("checkpoint", parsed),
        leaveRunning: bool(parsed.values, "leave-running"),
      };
    },
    async run(ctx, o) {
      const id = await resolveExisting(ctx, o.ref);
      await withLoaded(ctx, id, async (s) => {
        transition(s.id, s.status, "checkpoint");
        await Deno.mkdir(o.imagePath, { recursive: true, mode: 0o700 });
        s.op = { ...opRecord(ctx, "checkpoint"), imagePath: o.imagePath };
        await ctx.store.save(s);
        crashPoint(ctx.crashAt, "checkpoint:recorded");
        try {
          await ctx.runtime.checkpoint(runtimeTarget(ctx, s), o.imagePath, o.leaveRunning);
        } catch (err) {
          s.op = null; // still running, state as it was
          await ctx.store.save(s);
          throw err;
        }
        crashPoint(ctx.crashAt, "checkpoint:runtime");
        s.checkpoint = o.imagePath;
        // The runtime killed it: the monitor records the observed code, which replaces this one.
        if (!o.leaveRunning) applyExit(s, 255, false, ctx.clock.now());
        s.op = null;
        await ctx.store.save(s);
        await emit(ctx, "checkpoint", s.namespace, s.id, {
          imagePath: o.imagePath,
          leaveRunning: o.leaveRunning,
        });
      });
      return 0;
    },
  };

const RESTORE_OPTIONS = [
  {
    name: "image-path",
    type: "string" as const,
    value: "DIR",
    help: "the checkpoint images to restore from",
  },
  {
    name: "detach",
    short: "d",
    type: "boolean" as const,
    help: "return once it runs (default: stream its output and exit with its code)",
  },
];

/** `restore`. */
export const restoreCommand: Command<{ ref: string; imagePath: string; detach: boolean }> = {
  name: "restore",
  summary: "restore a checkpointed (stopped) container",
  usage: "restore --image-path DIR [-d] ID",
  options: RESTORE_OPTIONS,
  examples: ["berth restore -d --image-path /var/lib/ckpt/web1 web1"],
  parse(args) {
    const { ref, parsed } = parseOneId("restore", args, RESTORE_OPTIONS);
    return {
      ref,
      imagePath: imagePathOf("restore", parsed),
      detach: bool(parsed.values, "detach"),
    };
  },
  async run(ctx, o) {
    try {
      if (!(await Deno.stat(o.imagePath)).isDirectory) throw new Deno.errors.NotFound();
    } catch (err) {
      if (isNotFound(err)) {
        throw new InvalidArgument(`restore: no checkpoint images in ${o.imagePath}`);
      }
      throw err;
    }
    const id = await resolveExisting(ctx, o.ref);
    let logs: Awaited<ReturnType<typeof openLogsAtEnd>> | null = null;
    const s = await withLoaded(ctx, id, async (s) => {
      transition(s.id, s.status, "restore");
      if (!o.detach) logs = await openLogsAtEnd(s.workDir);
      await restoreLocked(ctx, s, o.imagePath);
      return s;
    });
    if (o.detach || logs === null) return 0;
    return await attach(ctx, s, logs, false);
  },
};

async function restoreLocked(ctx: Context, s: ContainerState, imagePath: string): Promise<void> {
  s.op = { ...opRecord(ctx, "restore"), imagePath };
  await ctx.store.save(s);
  crashPoint(ctx.crashAt, "restore:recorded");
  const target = runtimeTarget(ctx, s);
  try {
    // A container stopped after a --leave-running checkpoint is still known to the runtime.
    await ctx.runtime.delete(target, true);
    const reply = await monitorRequest(ctx, { op: "restore", ...launchRequest(s) });
    if (reply === null) throw new RuntimeError(`restore "${s.id}": the berth monitor died`);
    if (!reply.ok) throw replyError(reply);
    crashPoint(ctx.crashAt, "restore:runtime");
    s.pid = reply.pid ?? null;
    s.pidStartTime = reply.startTime ?? null;
  } catch (err) {
    s.op = null; // still stopped, still restorable
    await ctx.store.save(s);
    throw err;
  }
  s.status = "running";
  s.startedAt = ctx.clock.now().toISOString();
  s.exitCode = null;
  s.exitedAt = null;
  s.exitObserved = false;
  s.op = null;
  await ctx.store.save(s);
  await emit(ctx, "restore", s.namespace, s.id, { imagePath, pid: s.pid });
}
