/**
 * `berth run [OPTS] [-d] [--rm] IMAGE [CMD...]` (the podman form) and
 * `berth run --rootfs|--bundle|--image ... ID [-- CMD...]` (the runc form):
 * create + start. In the foreground, the container's stdout/stderr stream to berth's and berth
 * exits with the container's exit code.
 *
 * @module
 */

import { bool, choice, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import type { Context } from "../../container/context.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { createContainer, type CreateRequest } from "../../ops/create.ts";
import { withCommandCodes } from "./not_runnable.ts";
import { CREATE_OPTIONS, createRequestFrom, FORMS_HELP, withId } from "./create.ts";

/** Options of `run`. */
export interface RunOptions {
  /** The request; in the podman form without `--name` its `id` is `""` (made when it runs). */
  create: CreateRequest;
  detach: boolean;
  rm: boolean;
  /** `-i`: berth's stdin goes to the container. */
  interactive: boolean;
  /** `-t`: the container gets a terminal. */
  tty: boolean;
}

/** `--restart`'s values. */
const RESTART_POLICIES = ["no", "on-failure", "always", "unless-stopped"] as const;

const RUN_OPTIONS = [
  ...CREATE_OPTIONS,
  { name: "detach", short: "d", type: "boolean" as const, help: "return once the container runs" },
  { name: "rm", type: "boolean" as const, help: "delete the container once it exits" },
  {
    name: "interactive",
    short: "i",
    type: "boolean" as const,
    help: "pass berth's stdin to the container (EOF closes it); default: /dev/null",
  },
  {
    name: "tty",
    short: "t",
    type: "boolean" as const,
    help: "give the container a terminal (-it: an interactive shell; -dt: attach later)",
  },
  {
    name: "restart",
    type: "string" as const,
    value: "no|on-failure|always|unless-stopped",
    default: "no",
    choices: RESTART_POLICIES,
    help: "with -d: kept by the monitor, back-off 100 ms doubling to 10 s; stop ends any loop",
  },
];

/** `run`. */
export const runCommand: Command<RunOptions> = {
  name: "run",
  summary: "create and start a container (foreground: exit with its code)",
  usage: "run [OPTIONS] [-d] [--rm] [-i] [-t] IMAGE [CMD [ARG...]]\n" +
    "       run --rootfs DIR|--bundle DIR|--image REF [OPTIONS] [-d] [--rm] ID [-- CMD [ARG...]]",
  description: FORMS_HELP + "\n" +
    "Without -d, stdout/stderr of the container go to berth's and berth exits with the\n" +
    "container's exit code; SIGINT, SIGTERM and SIGHUP are forwarded to it.\n" +
    "-it: an interactive shell (berth's terminal is raw meanwhile and restored after;\n" +
    "Ctrl-P Ctrl-Q detaches and leaves it running). -dt: the monitor holds its terminal\n" +
    "for `berth attach`; what it writes there also goes to its log.",
  options: RUN_OPTIONS,
  optionsEnd: "first-positional",
  examples: [
    "berth run --rm docker.io/library/busybox echo hello",
    "berth run -d --name web docker.io/library/busybox httpd -f -p 80 -h /www",
    "berth run --rootfs /srv/rootfs --rm hello -- echo hello",
    "berth run -it --rm --rootfs /srv/rootfs shell -- sh",
    "printf 'a\\nb\\n' | berth run -i --rm --rootfs /srv/rootfs count -- wc -l",
    "berth run -d --rootfs /srv/rootfs web1 -- httpd -f",
    "berth run -dt --rootfs /srv/rootfs box -- sh",
  ],
  parse(args) {
    const p = parseCommandArgs("run", args, RUN_OPTIONS, "first-positional");
    const rm = bool(p.values, "rm");
    const detach = bool(p.values, "detach");
    if (p.command !== null && p.command.length === 0) {
      throw new InvalidArgument('run: nothing after "--"');
    }
    const restart = choice(p.values, { name: "restart", choices: RESTART_POLICIES }, "no");
    if (restart !== "no" && !detach) throw new InvalidArgument("run: --restart needs -d");
    if (restart !== "no" && rm) {
      throw new InvalidArgument("run: --restart and --rm exclude each other");
    }
    const interactive = bool(p.values, "interactive");
    const tty = bool(p.values, "tty");
    if (detach && interactive && !tty) {
      throw new InvalidArgument("run: -d -i needs -t (attach to its terminal later)");
    }
    const { podman: _, ...request } = createRequestFrom("run", p, rm);
    const create: CreateRequest = { ...request, restart };
    if (tty) create.terminal = true;
    if (interactive && !detach && !tty) create.stdin = true;
    return { create, detach, rm, interactive, tty };
  },
  run: (ctx, options) => withCommandCodes(ctx, () => runContainer(ctx, options)),
};

/** `run`'s work: create and start (foreground, interactive or -d). */
async function runContainer(ctx: Context, options: RunOptions): Promise<number> {
  const o = { ...options, create: await withId(ctx, options.create) };
  if (!o.detach && (o.interactive || o.tty)) return await runInteractive(ctx, o);
  if (o.detach) {
    // Created and started in one runtime call: a failure rolls it all back.
    const s = await createContainer(ctx, o.create, { start: true });
    ctx.io.out(`${s.id}\n`);
    return 0;
  }
  // The foreground's modules load only here (start-up time of run -d).
  const { openLogsAtEnd, runInForeground } = await import("../../ops/foreground.ts");
  const s = await createContainer(ctx, o.create);
  const logs = await openLogsAtEnd(s.workDir);
  try {
    await startOrCleanUp(ctx, s.id, o.rm);
  } catch (err) {
    logs.out?.close();
    logs.err?.close();
    throw err;
  }
  return await runInForeground(ctx, s, logs, o.rm);
}

/** Foreground `run -i`/`-t`: the monitor holds the terminal or stdin pipe, berth attaches. */
async function runInteractive(ctx: Context, o: RunOptions): Promise<number> {
  const { checkTerminalUse, terminalLibc } = await import("../../terminal/mod.ts");
  checkTerminalUse(terminalLibc, "run", o.interactive, o.tty);
  const { prepareForeground, runForeground } = await import("../../ops/interactive.ts");
  const s = await createContainer(ctx, o.create);
  const terminal = { input: o.interactive, tty: o.tty };
  let prepared;
  try {
    prepared = await prepareForeground(ctx, s, terminal);
  } catch (err) {
    // Not started: removed again, as a failed start is with --rm.
    const { deleteContainer } = await import("../../ops/delete.ts");
    await deleteContainer(ctx, ctx.globals.namespace, s.id, true).catch(() => {});
    throw err;
  }
  try {
    await startOrCleanUp(ctx, s.id, o.rm);
  } catch (err) {
    prepared.end.close();
    prepared.logs.out?.close();
    prepared.logs.err?.close();
    throw err;
  }
  return await runForeground(ctx, s, prepared, { ...terminal, rm: o.rm });
}

/** Starts `id`; if that fails, a `--rm` container is deleted again. */
async function startOrCleanUp(ctx: Context, id: string, rm: boolean): Promise<void> {
  try {
    await (await import("../../ops/start.ts")).startContainer(ctx, id);
  } catch (err) {
    if (rm) {
      const { deleteContainer } = await import("../../ops/delete.ts");
      await deleteContainer(ctx, ctx.globals.namespace, id, true).catch(() => {});
    }
    throw err;
  }
}
