/**
 * The foreground run (`run`, `start -a` and `restore` without `-d`):
 * stream the container's log files to berth's stdout/stderr, forward
 * SIGINT, SIGTERM and SIGHUP to it, and return its exit code once it
 * exited. (Not `berth attach`, which joins a running container's terminal.)
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { follow, openLog } from "../host/log_follow.ts";
import { logFiles } from "../container/paths.ts";
import type { ContainerState } from "../container/state_file.ts";
import { deleteContainer } from "./delete.ts";
import { waitExit } from "./wait.ts";

const FORWARDED: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/** Log files opened at their current end (only what comes next is streamed). */
export interface OpenLogs {
  out: Deno.FsFile | null;
  err: Deno.FsFile | null;
}

/** Opens the container's log files, positioned at their end. */
export async function openLogsAtEnd(workDir: string): Promise<OpenLogs> {
  const files = logFiles(workDir);
  const out = await openLog(files.stdout);
  const err = await openLog(files.stderr);
  await out?.seek(0, Deno.SeekMode.End);
  await err?.seek(0, Deno.SeekMode.End);
  return { out, err };
}

/**
 * An interactive session run alongside (`-i`/`-t`, see ops/interactive.ts):
 * told when the container exited; "detached" ends the foreground run at
 * once (the container runs on).
 */
export type SessionRunner = (exited: Promise<unknown>) => Promise<"ended" | "detached">;

/**
 * Streams `logs` until the container `s` (running) exits; returns its exit
 * code. With `rm`, deletes it afterwards (if the monitor has not already).
 * With a `session`, runs it too; if the user detaches, returns 0 at once
 * and the container runs on. Closes the log files.
 */
export async function runInForeground(
  ctx: Context,
  s: ContainerState,
  logs: OpenLogs,
  rm: boolean,
  session?: SessionRunner,
): Promise<number> {
  const handlers = Object.entries(FORWARDED).map(([sig, num]) => {
    const h = () => void ctx.runtime.kill(runtimeTarget(ctx, s), num).catch(() => {});
    Deno.addSignalListener(sig as Deno.Signal, h);
    return [sig as Deno.Signal, h] as const;
  });
  try {
    const exited = waitExit(ctx, s.namespace, s.id, { pid: s.pid, startTime: s.pidStartTime });
    const following = Promise.all([
      logs.out ? follow(logs.out, (b) => ctx.io.out(b), exited) : null,
      logs.err ? follow(logs.err, (b) => ctx.io.err(b), exited) : null,
    ]);
    if (session !== undefined && (await session(exited)) === "detached") {
      following.catch(() => {}); // its files are closed below
      return 0;
    }
    await following;
    const outcome = await exited;
    if (rm && !outcome.removed) {
      await deleteContainer(ctx, s.namespace, s.id, true).catch(() => {});
    }
    return outcome.exitCode;
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    logs.out?.close();
    logs.err?.close();
  }
}
