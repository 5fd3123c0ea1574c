/**
 * `berth run [OPTS] [-d] [--rm] ID [-- CMD...]`: create + start. In the
 * foreground, the container's stdout/stderr stream to berth's and berth
 * exits with the container's exit code.
 *
 * @module
 */

import { bool, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import type { Context } from "../context.ts";
import { InvalidArgument } from "../errors.ts";
import { createContainer, type CreateRequest } from "../ops/create.ts";
import { CREATE_OPTIONS, createRequestFrom } from "./create.ts";

/** Options of `run`. */
export interface RunOptions {
  create: CreateRequest;
  detach: boolean;
  rm: boolean;
}

const RUN_OPTIONS = [
  ...CREATE_OPTIONS,
  { name: "detach", short: "d", type: "boolean" as const, help: "return once the container runs" },
  { name: "rm", type: "boolean" as const, help: "delete the container once it exits" },
  {
    name: "restart",
    type: "string" as const,
    value: "no|on-failure|always",
    default: "no",
    help: "with -d: restart policy kept by the monitor, with back-off (100 ms doubling to 10 s)",
  },
];

/** `run`. */
export const runCommand: Command<RunOptions> = {
  name: "run",
  summary: "create and start a container (foreground: exit with its code)",
  usage: "run [OPTIONS] [-d] [--rm] ID [-- CMD [ARG...]]",
  description:
    "Without -d, stdout/stderr of the container go to berth's and berth exits with the\n" +
    "container's exit code; SIGINT, SIGTERM and SIGHUP are forwarded to it.",
  options: RUN_OPTIONS,
  examples: [
    "berth run --rootfs /srv/rootfs --rm hello -- echo hello",
    "berth run -d --rootfs /srv/rootfs web1 -- httpd -f",
  ],
  parse(args) {
    const p = parseCommandArgs("run", args, RUN_OPTIONS);
    const rm = bool(p.values, "rm");
    const detach = bool(p.values, "detach");
    if (p.command !== null && p.command.length === 0) {
      throw new InvalidArgument('run: nothing after "--"');
    }
    const restart = str(p.values, "restart") ?? "no";
    if (restart !== "no" && restart !== "on-failure" && restart !== "always") {
      throw new InvalidArgument(
        `run: --restart must be no, on-failure or always, not "${restart}"`,
      );
    }
    if (restart !== "no" && !detach) throw new InvalidArgument("run: --restart needs -d");
    if (restart !== "no" && rm) {
      throw new InvalidArgument("run: --restart and --rm exclude each other");
    }
    return { create: { ...createRequestFrom("run", p, rm), restart }, detach, rm };
  },
  async run(ctx, o) {
    if (o.detach) {
      // Created and started in one runtime call: a failure rolls it all back.
      await createContainer(ctx, o.create, { start: true });
      return 0;
    }
    // The foreground's modules load only here (start-up time of run -d).
    const { attach, openLogsAtEnd } = await import("../ops/attach.ts");
    const s = await createContainer(ctx, o.create);
    const logs = await openLogsAtEnd(s.workDir);
    try {
      await startOrCleanUp(ctx, s.id, o.rm);
    } catch (err) {
      logs.out?.close();
      logs.err?.close();
      throw err;
    }
    return await attach(ctx, s, logs, o.rm);
  },
};

/** Starts `id`; if that fails, a `--rm` container is deleted again. */
async function startOrCleanUp(ctx: Context, id: string, rm: boolean): Promise<void> {
  try {
    await (await import("./start.ts")).startContainer(ctx, id);
  } catch (err) {
    if (rm) {
      const { deleteContainer } = await import("../ops/delete.ts");
      await deleteContainer(ctx, ctx.globals.namespace, id, true).catch(() => {});
    }
    throw err;
  }
}
