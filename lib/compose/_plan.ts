/**
 * What `up` asks `create` for: a service's container `PROJECT-SERVICE-N`
 * as a create request (the same one `run -d` makes), its labels, and the
 * config hash that tells a changed service from an unchanged one.
 *
 * @module
 */

import type { CreateRequest } from "../ops/create.ts";
import type { ContainerState, MountSpec } from "../container/state_file.ts";
import { canonicalCapabilities } from "../options/capabilities.ts";
import { checkUserSyntax } from "../options/process_user.ts";
import { HEALTH_DEFAULTS } from "../limits/mod.ts";
import type { Project, Service } from "./_model.ts";

/** The labels compose puts on its containers (docker compose's names). */
export const LABELS = {
  project: "com.docker.compose.project",
  service: "com.docker.compose.service",
  number: "com.docker.compose.container-number",
  hash: "com.docker.compose.config-hash",
  oneoff: "com.docker.compose.oneoff",
  workingDir: "com.docker.compose.project.working_dir",
} as const;

/** A container's service label. */
export function serviceOf(s: ContainerState): string {
  return s.labels[LABELS.service] ?? "";
}

/** A container's replica number (0 for a one-off or none). */
export function numberOf(s: ContainerState): number {
  const n = Number(s.labels[LABELS.number]);
  return Number.isInteger(n) ? n : 0;
}

/** The container name of replica `n` of `service`. */
export function containerName(project: Project, service: string, n: number): string {
  const s = project.services[service];
  return s?.container_name ?? `${project.name}-${service}-${n}`;
}

/** The image a service runs: its `image`, or `PROJECT-SERVICE` for a built one. */
export function imageOf(project: Project, service: string): string {
  return project.services[service]!.image ?? `${project.name}-${service}`;
}

/** JSON with sorted keys, for hashing. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) =>
        `${JSON.stringify(k)}:${canonical(o[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/**
 * The config hash of `service`: SHA-256 of what its containers are made
 * from (replicas, profiles, dependencies and the pull policy left out: they
 * do not change a container), with the names its networks and volumes
 * resolve to.
 */
export async function configHash(project: Project, service: string): Promise<string> {
  const s = project.services[service]!;
  const {
    replicas: _r,
    profiles: _p,
    depends_on: _d,
    pull_policy: _pp,
    ...rest
  } = s;
  const text = canonical({
    service: rest,
    image: imageOf(project, service),
    networks: Object.keys(s.networks).map((n) => project.networks[n]?.name),
    volumes: s.volumes.map((v) => v.source === undefined ? null : project.volumes[v.source]?.name),
  });
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The berth volume of an anonymous volume (`volumes: [/data]`) of replica `n`. */
export function anonymousVolume(project: Project, service: string, n: number, i: number): string {
  return `${project.name}_${service}-${n}_anon-${i}`;
}

/** The mounts of replica `n`, with berth's volume names. */
function mountsOf(project: Project, service: string, s: Service, n: number): MountSpec[] {
  return s.volumes.map((v, i): MountSpec => {
    if (v.type === "tmpfs") {
      return {
        type: "tmpfs",
        source: null,
        destination: v.target,
        readOnly: v.read_only,
        ...(v.tmpfs_size !== undefined ? { size: v.tmpfs_size } : {}),
      };
    }
    if (v.type === "bind") {
      return { type: "bind", source: v.source!, destination: v.target, readOnly: v.read_only };
    }
    const name = v.source === undefined
      ? anonymousVolume(project, service, n, i)
      : project.volumes[v.source]!.name;
    return { type: "volume", source: name, destination: v.target, readOnly: v.read_only };
  });
}

/** A TCP port of 127.0.0.1 free right now (a port without a published host port). */
function freeHostPort(): number {
  const l = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The `-p` values of a service. */
export function publishOf(s: Service): string[] {
  return s.ports.map((p) =>
    `${p.host_ip ? `${p.host_ip}:` : ""}${p.published ?? freeHostPort()}:${p.target}/${p.protocol}`
  );
}

/** Options of {@linkcode createRequestOf}. */
export interface RequestOptions {
  /** The container ID. */
  id: string;
  /** Replica number (0 for a one-off `run`). */
  number: number;
  hash: string;
  oneoff?: boolean;
  /** `run SERVICE CMD`: replaces the command; `--rm`. */
  command?: string[];
  autoRemove?: boolean;
  /** `run` publishes no ports unless asked (`--service-ports`). */
  noPorts?: boolean;
}

/** The create request of a container of `service` (as `run -d` would send it). */
export function createRequestOf(
  project: Project,
  service: string,
  o: RequestOptions,
): CreateRequest {
  const s = project.services[service]!;
  if (s.user !== undefined) checkUserSyntax(s.user);
  const netKey = Object.keys(s.networks)[0];
  const network = netKey === undefined ? null : project.networks[netKey]!.name;
  const aliases = netKey === undefined ? [] : [service, ...s.networks[netKey]!.aliases];
  // A link's alias (`links: [db:database]`) is another name of its target.
  for (const [name, other] of Object.entries(project.services)) {
    for (const link of other.links) {
      const [target, alias] = link.split(":");
      if (target === service && alias !== undefined && alias !== "" && name !== service) {
        aliases.push(alias);
      }
    }
  }
  const labels: Record<string, string> = {
    ...s.labels,
    [LABELS.project]: project.name,
    [LABELS.service]: service,
    [LABELS.number]: String(o.number),
    [LABELS.hash]: o.hash,
    [LABELS.oneoff]: o.oneoff === true ? "True" : "False",
    [LABELS.workingDir]: project.working_dir,
  };
  const mounts = mountsOf(project, service, s, o.number);
  const limits = {
    ...(s.limits.memory !== undefined ? { memory: s.limits.memory } : {}),
    ...(s.limits.cpus !== undefined ? { cpus: s.limits.cpus } : {}),
    ...(s.limits.pids !== undefined ? { pidsLimit: s.limits.pids } : {}),
  };
  const h = s.healthcheck;
  const command = o.command !== undefined && o.command.length > 0 ? o.command : s.command ?? [];
  const req: CreateRequest = {
    id: o.id,
    bundle: null,
    rootfs: null,
    config: null,
    command,
    env: Object.entries(s.environment).map(([k, v]) => `${k}=${v}`),
    cwd: s.working_dir ?? null,
    labels,
    autoRemove: o.autoRemove === true,
    sandbox: null,
    restart: o.oneoff === true ? "no" : s.restart === "unless-stopped" ? "always" : s.restart,
    privileged: s.privileged,
    securityOpt: [],
    limits,
    network,
    publish: o.noPorts === true ? [] : publishOf(s),
    image: imageOf(project, service),
    // `up` pulled what it needs before (each image once).
    pull: s.pull_policy === "never" || s.pull_policy === "build" ? "never" : "missing",
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(s.user !== undefined ? { user: s.user } : {}),
    ...(s.hostname !== undefined ? { hostname: s.hostname } : {}),
    ...(s.read_only ? { readOnly: true } : {}),
    ...(s.cap_add.length > 0 ? { capAdd: canonicalCapabilities(s.cap_add, "cap_add") } : {}),
    ...(s.cap_drop.length > 0 ? { capDrop: canonicalCapabilities(s.cap_drop, "cap_drop") } : {}),
    ...(s.entrypoint !== undefined ? { entrypoint: s.entrypoint } : {}),
    ...(h !== undefined
      ? {
        healthcheck: {
          cmd: h.test,
          intervalMs: h.interval_ms ?? HEALTH_DEFAULTS.intervalMs,
          timeoutMs: h.timeout_ms ?? HEALTH_DEFAULTS.timeoutMs,
          retries: h.retries ?? HEALTH_DEFAULTS.retries,
          startPeriodMs: h.start_period_ms ?? HEALTH_DEFAULTS.startPeriodMs,
        },
      }
      : {}),
    // The names the resolver answers for it (`--network-alias`; lower case, as DNS).
    ...(aliases.length > 0
      ? { networkAlias: [...new Set(aliases.map((a) => a.toLowerCase()))] }
      : {}),
  };
  return req;
}
