/**
 * The run options of `create`/`run` that shape the container's mounts and
 * process (`-v`/`--mount`/`--tmpfs`, `--env-file`/`-e NAME`, `--user`,
 * `--hostname`, `--read-only`, `--cap-add`/`--cap-drop`): checked against
 * the host and the source root filesystem ({@linkcode prepareRunOptions},
 * nothing written), applied to the OCI config ({@linkcode applyRunOptions}),
 * and recorded in the state's `request` ({@linkcode runOptionsRecord}) so
 * `inspect`, `restart` and `generate systemd` reproduce them. The one hook
 * of these options into `create`.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { InvalidArgument } from "../host/errors.ts";
import type { OciConfig } from "../host/spec.ts";
import type { CreateArgs } from "../container/state_file.ts";
import { adjustCapabilities } from "./capabilities.ts";
import { resolveEnv } from "./process_env.ts";
import { type OciUser, resolveUser } from "./process_user.ts";
import { checkBindSources, ociMount, volumeDataPath } from "../volume/mod.ts";

/** What {@linkcode prepareRunOptions} resolved. */
export interface RunOptionsPlan {
  /** The final `-e`/`--env-file` entries, `K=V` each. */
  env: string[];
  /** `--user` resolved in the source's /etc/passwd, or null. */
  user: OciUser | null;
}

/** The run options of a create request (`envFiles` only at create: the state records `env`). */
export type RunOptionsRequest =
  & Pick<CreateArgs, "env" | "mounts" | "user" | "hostname" | "readOnly" | "capAdd" | "capDrop">
  & { envFiles?: string[]; sandbox: string | null };

/**
 * Checks the options against the host (bind sources exist, env files can
 * be read) and the source root filesystem `source` (the `--user` name; an
 * image's layer directories, topmost first);
 * touches nothing on disk. InvalidArgument (exit 2) on any bad value.
 */
export function prepareRunOptions(
  ctx: Context,
  req: RunOptionsRequest,
  source: string | readonly string[],
): RunOptionsPlan {
  checkBindSources(req.mounts ?? []);
  if (req.hostname != null && req.sandbox !== null) {
    throw new InvalidArgument(
      "--hostname cannot go with --sandbox: the sandbox's hostname is used",
    );
  }
  return {
    env: resolveEnv(req.envFiles ?? [], req.env, ctx.env),
    user: req.user == null ? null : resolveUser(req.user, source),
  };
}

/** Applies the options to `config` (in place), after the security defaults. */
export function applyRunOptions(
  ctx: Context,
  config: OciConfig,
  req: RunOptionsRequest,
  plan: RunOptionsPlan,
): void {
  const process = (config.process ??= {});
  if (plan.user !== null) process.user = plan.user;
  if (req.hostname != null) config.hostname = req.hostname;
  if (req.readOnly === true) {
    config.root = { ...(config.root ?? { path: "rootfs" }), readonly: true };
  }
  const add = req.capAdd ?? [];
  const drop = req.capDrop ?? [];
  if (add.length > 0 || drop.length > 0) {
    const caps = process.capabilities as Record<string, string[]> | undefined;
    process.capabilities = adjustCapabilities(caps?.bounding ?? [], add, drop);
  }
  const specs = req.mounts ?? [];
  if (specs.length > 0) {
    const ns = ctx.globals.namespace;
    const wanted = specs.map((m) => ociMount(m, (name) => volumeDataPath(ctx.paths, ns, name)));
    const existing = Array.isArray(config.mounts)
      ? (config.mounts as { destination: string }[])
      : [];
    const replaced = new Set(wanted.map((m) => m.destination));
    config.mounts = [...existing.filter((m) => !replaced.has(m.destination)), ...wanted];
  }
}

/** What the state's `request` records of the options (absent ones are left out). */
export function runOptionsRecord(
  req: RunOptionsRequest,
  plan: RunOptionsPlan,
): Partial<CreateArgs> {
  return {
    env: plan.env,
    ...(req.mounts?.length ? { mounts: req.mounts } : {}),
    ...(req.user != null ? { user: req.user } : {}),
    ...(req.hostname != null ? { hostname: req.hostname } : {}),
    ...(req.readOnly === true ? { readOnly: true } : {}),
    ...(req.capAdd?.length ? { capAdd: req.capAdd } : {}),
    ...(req.capDrop?.length ? { capDrop: req.capDrop } : {}),
  };
}
