/**
 * Restarting a stopped container: the one path shared by `restart` (after
 * `stop`) and the monitor's restart policy. One recorded step: op "start"
 * saved (an interrupted restart is settled like a start), the runtime's
 * leftover state dropped, `runtime run --detach` through whoever launches
 * containers (the CLI asks the monitor; the monitor runs it itself), then
 * the new init recorded. A failed launch leaves the container stopped, as
 * it was, with no record left for repair.
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import { recordedStep } from "../container/step.ts";
import { RuntimeError } from "../host/errors.ts";
import type { Runtime } from "../host/runtime.ts";
import { launchRequest, replyError } from "../monitor/client.ts";
import type { CreateRequest, MonitorReply } from "../monitor/protocol.ts";

/** Starts a container's init: the monitor's create (null: the monitor died). */
export type Launch = (req: CreateRequest) => Promise<MonitorReply | null>;

/** Options of {@linkcode restartLocked}. */
export interface RestartOptions {
  /** The runtime that forgets the old init (the monitor passes one running as its child). */
  runtime: Runtime;
  /** Starts the new init. */
  launch: Launch;
  /** A restart by the policy: its number, recorded as `restartCount` and in the event. */
  policyCount?: number;
}

/**
 * Restarts the stopped `s` (loaded under its lock, which the caller
 * holds): see the module doc. Throws when the launch fails; `s` is then
 * stopped as before, without an op.
 */
export async function restartLocked(
  ctx: Context,
  s: ContainerState,
  options: RestartOptions,
): Promise<void> {
  const policy = options.policyCount;
  if (policy === undefined) s.restartSuppressed = false; // by hand: its policy applies again
  await recordedStep(ctx, s, "restart", async () => {
    await options.runtime.delete(runtimeTarget(ctx, s), true);
    if (s.net !== undefined) {
      // Its network's resolver may have gone with the last running container.
      const { ensureResolverFor } = await import("../network/mod.ts");
      await ensureResolverFor(ctx, s);
    }
    const reply = await options.launch({ op: "create", start: true, ...launchRequest(s) });
    if (reply === null) throw new RuntimeError(`restart "${s.id}": the berth monitor died`);
    if (!reply.ok) throw replyError(reply);
    return reply;
  }, {
    crash: ["restart:recorded", "restart:runtime"],
    undoOnFailure: true,
    apply: (s, reply) => {
      Object.assign(s, {
        pid: reply.pid ?? null,
        pidStartTime: reply.startTime ?? null,
        ...(s.healthcheck !== undefined ? { health: "starting" } : {}),
      });
      delete s.restartError;
      delete s.launchError; // (an interrupted first launch settled as stopped)
      if (policy !== undefined) s.restartCount = policy;
    },
    event: {
      type: "start",
      details: () => (policy !== undefined ? { restart: policy } : { restarted: true }),
    },
  });
}
