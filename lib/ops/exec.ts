/**
 * Running a process in a running container: its process spec is the
 * container's, with the command, environment, working directory and
 * terminal of the request, written to a scratch file in the bundle for the
 * runtime's `exec` (gc removes one a killed berth left).
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { execScratch } from "../container/bundle.ts";
import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { readEnvFile } from "../options/process_env.ts";
import { resolveUser } from "../options/process_user.ts";
import { transition } from "../container/status.ts";
import { readConfig } from "../host/spec.ts";
import { loadReconciled } from "./reconcile.ts";

/** Options of `exec` (the `ref` as given; `id` is resolved). */
export interface ExecOptions {
  ref: string;
  detach: boolean;
  env: Record<string, string>;
  cwd: string | null;
  command: string[];
  /** `-i`: berth's stdin goes to the process. */
  interactive: boolean;
  /** `-t`: the process gets a terminal. */
  tty: boolean;
  /** `-u USER`: UID[:GID] or NAME[:GROUP], names from the container's /etc/passwd. */
  user?: string;
  /** `--env-file` paths: their `K=V` lines come before `-e`. */
  envFiles?: string[];
}

/** Runs `o.command` in the container `id`; returns its exit code (0 once started with `detach`). */
export async function execInContainer(ctx: Context, id: string, o: ExecOptions): Promise<number> {
  const s = await loadReconciled(ctx, id);
  transition(s.id, s.status, "exec");
  const config = await readConfig(join(s.bundle, "config.json"), true);
  const proc = structuredClone(config.process!);
  proc.args = o.command;
  const given: Record<string, string> = {};
  for (const file of o.envFiles ?? []) {
    for (const e of readEnvFile(file, ctx.env)) {
      given[e.slice(0, e.indexOf("="))] = e.slice(e.indexOf("=") + 1);
    }
  }
  Object.assign(given, o.env);
  const env = (proc.env ?? []).filter((e) => !Object.hasOwn(given, e.slice(0, e.indexOf("="))));
  proc.env = [...env, ...Object.entries(given).map(([k, v]) => `${k}=${v}`)];
  if (o.user !== undefined) proc.user = resolveUser(o.user, s.rootfs);
  if (o.cwd !== null) proc.cwd = o.cwd;
  proc.terminal = o.tty;
  if (o.tty && !proc.env.some((e) => e.startsWith("TERM="))) proc.env.push("TERM=xterm");
  // A command that is not there: one line and 127/126, before the runtime
  // would print its own line on the stderr it shares with the process.
  if (s.pid !== null) {
    const { checkExecCommand } = await import("./exec_lookup.ts");
    checkExecCommand(s.id, s.pid, s.pidStartTime, proc.args, proc.env);
  }
  const file = execScratch(s.bundle, "json");
  await Deno.writeTextFile(file, JSON.stringify(proc), { mode: 0o600 });
  try {
    if (o.tty) {
      const { execWithTerminal } = await import("../terminal/mod.ts");
      return await execWithTerminal(
        ctx,
        runtimeTarget(ctx, s),
        file,
        s.bundle,
        o.interactive,
        ctx.paths.cgroupPath(s.namespace, s.id),
      );
    }
    const stdin = o.interactive ? "inherit" : "null";
    return await ctx.runtime.exec(runtimeTarget(ctx, s), file, o.detach, stdin);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
