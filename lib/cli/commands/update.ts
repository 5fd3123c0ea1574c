/**
 * `berth update [--memory M] [--cpus N] [--pids-limit N] ID`.
 *
 * @module
 */

import { type OptionSpec, str } from "../args.ts";
import type { Command } from "../command.ts";
import { type Limits, parseLimits } from "../../limits/mod.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { updateContainer } from "../../ops/update.ts";
import { parseOneId } from "./single_id.ts";
import { InvalidArgument } from "../../host/errors.ts";

const OPTIONS: OptionSpec[] = [
  { name: "memory", short: "m", type: "string", value: "SIZE", help: "memory limit (512m, 1g)" },
  { name: "cpus", type: "string", value: "N", help: "CPU limit, e.g. 1.5" },
  { name: "pids-limit", type: "string", value: "N", help: "most processes at once; -1: unlimited" },
];

/** `update`. */
export const updateCommand: Command<{ ref: string; limits: Limits }> = {
  name: "update",
  summary: "change the limits of a created, running or paused container",
  usage: "update [--memory SIZE] [--cpus N] [--pids-limit N] ID",
  description: "Applied at once through the runtime, and kept for restarts and inspect.",
  options: OPTIONS,
  examples: ["berth update --memory 256m web1", "berth update --cpus 0.5 --pids-limit 100 web1"],
  parse(args) {
    const { ref, parsed } = parseOneId("update", args, OPTIONS);
    const limits = parseLimits({
      memory: str(parsed.values, "memory"),
      cpus: str(parsed.values, "cpus"),
      pidsLimit: str(parsed.values, "pids-limit"),
    });
    if (Object.keys(limits).length === 0) {
      throw new InvalidArgument("update: give --memory, --cpus or --pids-limit");
    }
    return { ref, limits };
  },
  async run(ctx, o) {
    await updateContainer(ctx, await resolveExisting(ctx, o.ref), o.limits);
    return 0;
  },
};
