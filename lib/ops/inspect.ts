/**
 * `berth inspect`: the state object plus `config`, built from what the
 * state records (its `request`, limits, network, restart policy and
 * count) and the bundle's `config.json` (the process as the runtime runs
 * it). A field nothing has recorded is null.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import { type ContainerState, publicState } from "../container/state_file.ts";

/** The `config` object of one container's inspect entry. */
export type InspectConfig = Record<string, unknown>;

function readBundleConfig(bundle: string): Record<string, unknown> | null {
  try {
    return JSON.parse(Deno.readTextFileSync(join(bundle, "config.json")));
  } catch {
    return null;
  }
}

/** One entry of `inspect`'s array. */
export function inspectEntry(ctx: Context, s: ContainerState): Record<string, unknown> {
  const rec = s as unknown as Record<string, unknown>;
  const req = (s.request ?? {}) as unknown as Record<string, unknown>;
  const oci = readBundleConfig(s.bundle);
  const p = (oci?.process ?? {}) as Record<string, unknown>;
  const caps = p.capabilities as Record<string, string[]> | undefined;
  const root = oci?.root as { readonly?: boolean } | undefined;
  const config: InspectConfig = {
    image: rec.image ?? req.image ?? null,
    process: {
      args: p.args ?? null,
      env: p.env ?? null,
      cwd: p.cwd ?? null,
      user: { ...((p.user as object | undefined) ?? {}), name: req.user ?? null },
      terminal: p.terminal === true,
      hostname: (oci?.hostname as string | undefined) ?? null,
      readOnly: root?.readonly === true,
      capabilities: caps?.effective ?? null,
      capAdd: req.capAdd ?? [],
      capDrop: req.capDrop ?? [],
    },
    mounts: ((req.mounts ?? []) as { type: string; source: string | null }[]).map((m) =>
      m.type === "volume"
        ? { ...m, hostPath: join(ctx.paths.dataRoot, "volumes", s.namespace, m.source!, "_data") }
        : m
    ),
    limits: rec.limits ?? req.limits ?? null,
    network: rec.network ?? req.network ?? null,
    ports: rec.ports ?? (Array.isArray(req.publish) && req.publish.length > 0 ? req.publish : null),
    restart: {
      policy: s.restart ?? "no",
      count: s.restartCount ?? 0,
      ...(s.restartError !== undefined ? { lastError: s.restartError } : {}),
    },
    health: req.healthcheck ?? null,
    labels: s.labels,
    sandbox: s.sandbox,
    privileged: req.privileged === true,
    securityOpt: req.securityOpt ?? [],
    autoRemove: s.autoRemove,
    source: s.source,
  };
  return { ...publicState(s), config };
}
