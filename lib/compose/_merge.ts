/**
 * Merging services of several files (`-f a.yaml -f b.yaml`) and of
 * `extends`, by the Compose specification's rules: scalars and commands
 * are replaced; `environment`, `labels`, `networks`, `depends_on` and the
 * limits merge by key; `volumes` merge by their target; `ports`,
 * `expose`, `links` and capabilities are appended (without duplicates).
 *
 * @module
 */

import type { PartialService } from "./_service.ts";

function unique<T>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((x) => {
    const k = JSON.stringify(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** `over` merged onto `base` (neither is changed). */
export function mergeService(base: PartialService, over: PartialService): PartialService {
  const out: PartialService = { ...base, ...over };
  if (base.environment && over.environment) {
    out.environment = { ...base.environment, ...over.environment };
  }
  if (base.labels && over.labels) out.labels = { ...base.labels, ...over.labels };
  if (base.networks && over.networks) out.networks = { ...base.networks, ...over.networks };
  if (base.depends_on && over.depends_on) {
    out.depends_on = { ...base.depends_on, ...over.depends_on };
  }
  if (base.limits && over.limits) out.limits = { ...base.limits, ...over.limits };
  if (base.volumes && over.volumes) {
    const targets = new Set(over.volumes.map((v) => v.target));
    out.volumes = [...base.volumes.filter((v) => !targets.has(v.target)), ...over.volumes];
  }
  if (base.build && over.build) {
    out.build = { ...base.build, ...over.build, args: { ...base.build.args, ...over.build.args } };
  }
  for (const k of ["ports", "expose", "links", "cap_add", "cap_drop"] as const) {
    const a = base[k] as unknown[] | undefined;
    const b = over[k] as unknown[] | undefined;
    if (a && b) (out as Record<string, unknown>)[k] = unique([...a, ...b]);
  }
  return out;
}
