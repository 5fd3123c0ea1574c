/**
 * `berth logs [-f] ID`: what the container wrote to stdout/stderr.
 *
 * @module
 */

import { bool, str } from "../args.ts";
import { InvalidArgument } from "../../host/errors.ts";
import type { Command } from "../command.ts";
import { isLive } from "../../container/container.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { drain, follow, openLog, seekToTail } from "../../host/log_follow.ts";
import { waitExit } from "../../ops/wait.ts";
import { logFiles } from "../../container/paths.ts";
import { parseOneId } from "./single_id.ts";

const OPTIONS = [
  {
    name: "follow",
    short: "f",
    type: "boolean" as const,
    help: "follow until the container exits",
  },
  {
    name: "tail",
    type: "string" as const,
    value: "N",
    help: "only the last N lines of each stream (then follows, with -f)",
  },
];

/** `logs`. */
export const logsCommand: Command<{ ref: string; follow: boolean; tail?: number }> = {
  name: "logs",
  summary: "print what the container wrote to stdout and stderr",
  usage: "logs [-f] [--tail N] ID",
  description: "The container's stdout goes to berth's stdout, its stderr to berth's stderr.",
  options: OPTIONS,
  examples: ["berth logs web1", "berth logs -f web1", "berth logs --tail 20 web1"],
  parse(args) {
    const { ref, parsed } = parseOneId("logs", args, OPTIONS);
    const tail = str(parsed.values, "tail");
    if (tail !== undefined && !/^[0-9]{1,9}$/.test(tail)) {
      throw new InvalidArgument(`logs: --tail takes a number of lines, not "${tail}"`);
    }
    return {
      ref,
      follow: bool(parsed.values, "follow"),
      ...(tail === undefined ? {} : { tail: Number(tail) }),
    };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const s = await ctx.store.load(ctx.globals.namespace, id);
    const files = logFiles(s.workDir);
    const out = await openLog(files.stdout);
    const err = await openLog(files.stderr);
    try {
      if (o.tail !== undefined) {
        if (out) await seekToTail(out, o.tail);
        if (err) await seekToTail(err, o.tail);
      }
      const toOut = (b: Uint8Array) => ctx.io.out(b);
      const toErr = (b: Uint8Array) => ctx.io.err(b);
      if (o.follow && isLive(s)) {
        const exited = waitExit(ctx, s.namespace, s.id);
        await Promise.all([out && follow(out, toOut, exited), err && follow(err, toErr, exited)]);
        await exited;
      } else {
        if (out) await drain(out, toOut);
        if (err) await drain(err, toErr);
      }
    } finally {
      out?.close();
      err?.close();
    }
    return 0;
  },
};
