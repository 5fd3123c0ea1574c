/**
 * `berth checkpoint --image-path DIR [--leave-running] ID` and
 * `berth restore --image-path DIR [-d] ID`, through the runtime (CRIU);
 * the work is in `lib/ops/checkpoint.ts`.
 *
 * @module
 */

import { resolve } from "../../_std/path.ts";
import { bool, type ParsedArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument, isNotFound } from "../../host/errors.ts";
import { openLogsAtEnd, runInForeground } from "../../ops/foreground.ts";
import { checkpointContainer, restoreContainer } from "../../ops/checkpoint.ts";
import { resolveExisting } from "../../ops/orphans.ts";
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
      await checkpointContainer(ctx, id, o.imagePath, o.leaveRunning);
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
    const s = await restoreContainer(ctx, id, o.imagePath, async (s) => {
      if (!o.detach) logs = await openLogsAtEnd(s.workDir);
    });
    if (o.detach || logs === null) return 0;
    return await runInForeground(ctx, s, logs, false);
  },
};
