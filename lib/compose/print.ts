/**
 * `compose config`: the resolved model as YAML (long syntax, paths
 * absolute, variables interpolated, files merged; empty lists and
 * mappings left out).
 *
 * @module
 */

import type { Project, Service } from "./model.ts";
import { loadYaml } from "./yaml.ts";

const FIRST = ["image", "build", "command", "entrypoint"];

/** A service with its main keys first and empty lists and mappings left out. */
function shaped(s: Service): Record<string, unknown> {
  const keys = [...FIRST, ...Object.keys(s).filter((k) => !FIRST.includes(k)).sort()];
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = (s as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) {
      continue;
    }
    out[k] = v;
  }
  return out;
}

/** The project as YAML text. */
export async function configYaml(project: Project): Promise<string> {
  const YAML = await loadYaml();
  const services = Object.fromEntries(
    Object.entries(project.services).map(([n, s]) => [n, shaped(s)]),
  );
  return YAML.stringify(
    {
      name: project.name,
      services,
      ...(Object.keys(project.networks).length > 0 ? { networks: project.networks } : {}),
      ...(Object.keys(project.volumes).length > 0 ? { volumes: project.volumes } : {}),
    },
    { lineWidth: 0, aliasDuplicateObjects: false },
  );
}
