/**
 * `berth exec [-d] [-e K=V]... [--cwd DIR] NAME [--] CMD...`: runs a process
 * in a running container and exits with its exit code. Options end at NAME
 * (podman's rule): what follows is the command.
 *
 * @module
 */

import { bool, expectPositionals, parseCommandArgs, parseKeyValues, str, strs } from "../args.ts";
import type { Command } from "../command.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { execInContainer, type ExecOptions } from "../../ops/exec.ts";
import { InvalidArgument } from "../../host/errors.ts";
import type { Context } from "../../container/context.ts";
import { withCommandCodes } from "./not_runnable.ts";
import { resolve } from "../../_std/path.ts";
import { checkUserSyntax } from "../../options/process_user.ts";

export type { ExecOptions };

const OPTIONS = [
  { name: "detach", short: "d", type: "boolean" as const, help: "do not wait for the process" },
  {
    name: "interactive",
    short: "i",
    type: "boolean" as const,
    help: "pass berth's stdin to the process (EOF closes it); default: /dev/null",
  },
  {
    name: "tty",
    short: "t",
    type: "boolean" as const,
    help: "give the process a terminal (-it: an interactive shell)",
  },
  {
    name: "env",
    short: "e",
    type: "string" as const,
    multiple: true,
    value: "K=V",
    help: "set an environment variable (repeatable)",
  },
  {
    name: "env-file",
    type: "string" as const,
    multiple: true,
    value: "FILE",
    help: "K=V lines (# comments) to add to the environment; -e wins (repeatable)",
  },
  {
    name: "cwd",
    type: "string" as const,
    value: "DIR",
    help: "working directory (default: the container's)",
  },
  { name: "workdir", short: "w", type: "string" as const, value: "DIR", help: "the same as --cwd" },
  {
    name: "user",
    short: "u",
    type: "string" as const,
    value: "UID[:GID]|NAME[:GROUP]",
    help: "the process's user; a NAME is looked up in the container's /etc/passwd",
  },
];

/** `exec`. */
export const execCommand: Command<ExecOptions> = {
  name: "exec",
  summary: "run a process in a running container",
  usage:
    "exec [-d] [-i] [-t] [-e K=V]... [--env-file FILE] [-w DIR] [-u USER] NAME [--] CMD [ARG...]",
  description: "Options end at NAME (the ID or a unique prefix): what follows is the command,\n" +
    "its options included; a -- right after NAME is dropped.\n" +
    "berth exits with the process's exit code (0 with -d once it started).\n" +
    "-it needs a terminal on stdin; berth's terminal is raw meanwhile and restored after.",
  options: OPTIONS,
  optionsEnd: "first-positional",
  examples: [
    "berth exec web1 ps -ef",
    "berth exec web1 -- ps",
    "berth exec -it web1 -- sh",
    "printf 'a\\nb\\n' | berth exec -i web1 -- wc -l",
    "berth exec -e DEBUG=1 --cwd /tmp web1 -- sh -c 'ls'",
    "berth exec -u nobody -w /tmp web1 id",
  ],
  parse(args) {
    const p = parseCommandArgs("exec", args, OPTIONS, "first-positional");
    const [ref] = expectPositionals("exec", p.positionals, ["NAME"]);
    if (p.command === null || p.command.length === 0) {
      throw new InvalidArgument("exec: give the command after NAME (or after --)");
    }
    const workdir = str(p.values, "workdir");
    const cwd = str(p.values, "cwd") ?? workdir ?? null;
    if (workdir !== undefined && cwd !== workdir) {
      throw new InvalidArgument("exec: give --cwd or -w/--workdir, not both");
    }
    if (cwd !== null && !cwd.startsWith("/")) {
      throw new InvalidArgument(`exec: --cwd ${cwd} must be an absolute path`);
    }
    const user = str(p.values, "user");
    if (user !== undefined) checkUserSyntax(user);
    const envFiles = strs(p.values, "env-file").map((f) => resolve(f));
    const detach = bool(p.values, "detach");
    const interactive = bool(p.values, "interactive");
    const tty = bool(p.values, "tty");
    if (detach && (interactive || tty)) {
      throw new InvalidArgument("exec: -d excludes -i and -t");
    }
    return {
      ref: ref!,
      detach,
      interactive,
      tty,
      env: parseKeyValues(strs(p.values, "env"), "--env"),
      cwd,
      command: p.command,
      ...(user !== undefined ? { user } : {}),
      ...(envFiles.length > 0 ? { envFiles } : {}),
    };
  },
  run: (ctx, o) => withCommandCodes(ctx, () => execIn(ctx, o)),
};

async function execIn(ctx: Context, o: ExecOptions): Promise<number> {
  if (o.tty) {
    const { checkTerminalUse, terminalLibc } = await import("../../terminal/mod.ts");
    checkTerminalUse(terminalLibc, "exec", o.interactive, o.tty);
  }
  return await execInContainer(ctx, await resolveExisting(ctx, o.ref), o);
}
