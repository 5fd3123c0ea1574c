/**
 * `berth exec [-d] [-e K=V]... [--cwd DIR] ID -- CMD...`: runs a process in
 * a running container and exits with its exit code.
 *
 * @module
 */

import { join } from "../path.ts";
import { bool, expectPositionals, parseCommandArgs, parseKeyValues, str, strs } from "../args.ts";
import type { Command } from "../command.ts";
import { runtimeTarget } from "../container.ts";
import { resolveExisting } from "../ops/orphans.ts";
import { loadReconciled } from "../reconcile.ts";
import { InvalidArgument } from "../errors.ts";
import { readConfig } from "../spec.ts";
import { transition } from "../status.ts";

/** Options of `exec`. */
export interface ExecOptions {
  ref: string;
  detach: boolean;
  env: Record<string, string>;
  cwd: string | null;
  command: string[];
}

const OPTIONS = [
  { name: "detach", short: "d", type: "boolean" as const, help: "do not wait for the process" },
  {
    name: "env",
    short: "e",
    type: "string" as const,
    multiple: true,
    value: "K=V",
    help: "set an environment variable (repeatable)",
  },
  {
    name: "cwd",
    type: "string" as const,
    value: "DIR",
    help: "working directory (default: the container's)",
  },
];

/** `exec`. */
export const execCommand: Command<ExecOptions> = {
  name: "exec",
  summary: "run a process in a running container",
  usage: "exec [-d] [-e K=V]... [--cwd DIR] ID -- CMD [ARG...]",
  description: "berth exits with the process's exit code (0 with -d once it started).",
  options: OPTIONS,
  examples: ["berth exec web1 -- ps", "berth exec -e DEBUG=1 --cwd /tmp web1 -- sh -c 'ls'"],
  parse(args) {
    const p = parseCommandArgs("exec", args, OPTIONS);
    const [ref] = expectPositionals("exec", p.positionals, ["ID"]);
    if (p.command === null || p.command.length === 0) {
      throw new InvalidArgument("exec: give the command after --");
    }
    const cwd = str(p.values, "cwd") ?? null;
    if (cwd !== null && !cwd.startsWith("/")) {
      throw new InvalidArgument(`exec: --cwd ${cwd} must be an absolute path`);
    }
    return {
      ref: ref!,
      detach: bool(p.values, "detach"),
      env: parseKeyValues(strs(p.values, "env"), "--env"),
      cwd,
      command: p.command,
    };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const s = await loadReconciled(ctx, id);
    transition(s.id, s.status, "exec");
    const config = await readConfig(join(s.bundle, "config.json"));
    const proc = structuredClone(config.process!);
    proc.args = o.command;
    const env = (proc.env ?? []).filter((e) => !(e.slice(0, e.indexOf("=")) in o.env));
    proc.env = [...env, ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`)];
    if (o.cwd !== null) proc.cwd = o.cwd;
    const file = join(s.bundle, `.exec-${crypto.randomUUID().slice(0, 8)}.json`);
    await Deno.writeTextFile(file, JSON.stringify(proc), { mode: 0o600 });
    try {
      return await ctx.runtime.exec(runtimeTarget(ctx, s), file, o.detach);
    } finally {
      await Deno.remove(file).catch(() => {});
    }
  },
};
