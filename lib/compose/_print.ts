/**
 * `compose config`: the resolved project as a Compose file (long syntax,
 * paths absolute, variables interpolated, env files read, `extends` and
 * the files merged, defaults written out), which loads back to the same
 * model (tests/compose_load_test.ts checks the round trip).
 *
 * @module
 */

import type { Project, Service } from "./_model.ts";
import { loadYaml } from "./_yaml.ts";

const ms = (n: number) => `${n}ms`;

/** One service in the Compose specification's long syntax. */
function specOf(s: Service): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v === undefined) return;
    if (Array.isArray(v) && v.length === 0) return;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) {
      return;
    }
    out[k] = v;
  };
  put("image", s.image);
  if (s.build !== undefined) {
    out.build = {
      context: s.build.context,
      ...(s.build.dockerfile !== undefined ? { dockerfile: s.build.dockerfile } : {}),
      ...(s.build.target !== undefined ? { target: s.build.target } : {}),
      ...(Object.keys(s.build.args).length > 0 ? { args: s.build.args } : {}),
    };
  }
  put("command", s.command);
  if (s.entrypoint !== undefined) out.entrypoint = s.entrypoint;
  put("container_name", s.container_name);
  put("hostname", s.hostname);
  put("user", s.user);
  put("working_dir", s.working_dir);
  put("environment", s.environment);
  put("labels", s.labels);
  put(
    "ports",
    s.ports.map((p) => ({
      target: p.target,
      ...(p.published !== undefined ? { published: String(p.published) } : {}),
      ...(p.host_ip !== undefined ? { host_ip: p.host_ip } : {}),
      protocol: p.protocol,
    })),
  );
  put("expose", s.expose);
  put(
    "volumes",
    s.volumes.map((v) => ({
      type: v.type,
      ...(v.source !== undefined ? { source: v.source } : {}),
      target: v.target,
      ...(v.read_only ? { read_only: true } : {}),
      ...(v.tmpfs_size !== undefined ? { tmpfs: { size: v.tmpfs_size } } : {}),
    })),
  );
  out.networks = Object.fromEntries(
    Object.entries(s.networks).map(([n, d]) => [n, d.aliases.length > 0 ? d : null]),
  );
  put("depends_on", s.depends_on);
  put("links", s.links);
  if (s.healthcheck !== undefined) {
    const h = s.healthcheck;
    out.healthcheck = {
      test: ["CMD-SHELL", h.test],
      ...(h.interval_ms !== undefined ? { interval: ms(h.interval_ms) } : {}),
      ...(h.timeout_ms !== undefined ? { timeout: ms(h.timeout_ms) } : {}),
      ...(h.retries !== undefined ? { retries: h.retries } : {}),
      ...(h.start_period_ms !== undefined ? { start_period: ms(h.start_period_ms) } : {}),
    };
  }
  out.restart = s.restart;
  const limits = {
    ...(s.limits.memory !== undefined ? { memory: s.limits.memory } : {}),
    ...(s.limits.cpus !== undefined ? { cpus: String(s.limits.cpus) } : {}),
    ...(s.limits.pids !== undefined ? { pids: s.limits.pids } : {}),
  };
  out.deploy = {
    replicas: s.replicas,
    ...(Object.keys(limits).length > 0 ? { resources: { limits } } : {}),
  };
  put("profiles", s.profiles);
  out.pull_policy = s.pull_policy;
  if (s.read_only) out.read_only = true;
  if (s.privileged) out.privileged = true;
  put("cap_add", s.cap_add);
  put("cap_drop", s.cap_drop);
  out.stop_grace_period = `${s.stop_grace_period_s}s`;
  return out;
}

/** `node` with every `$` of its strings written `$$`, so loading it back interpolates nothing. */
function escaped(node: unknown): unknown {
  if (typeof node === "string") return node.replaceAll("$", "$$$$");
  if (Array.isArray(node)) return node.map(escaped);
  if (node !== null && typeof node === "object") {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, escaped(v)]));
  }
  return node;
}

/** The project as a Compose file's text. */
export async function configYaml(project: Project): Promise<string> {
  const YAML = await loadYaml();
  const networks = Object.fromEntries(
    Object.entries(project.networks).map(([k, n]) => [k, {
      name: n.name,
      ...(n.external ? { external: true } : {}),
      ...(n.subnet !== undefined ? { ipam: { config: [{ subnet: n.subnet }] } } : {}),
      ...(n.internal ? { internal: true } : {}),
    }]),
  );
  const volumes = Object.fromEntries(
    Object.entries(project.volumes).map(([k, v]) => [k, {
      name: v.name,
      ...(v.external ? { external: true } : {}),
    }]),
  );
  return YAML.stringify(
    escaped({
      name: project.name,
      services: Object.fromEntries(
        Object.entries(project.services).map(([n, s]) => [n, specOf(s)]),
      ),
      ...(Object.keys(networks).length > 0 ? { networks } : {}),
      ...(Object.keys(volumes).length > 0 ? { volumes } : {}),
    }),
    // YAML 1.1 quoting ("no", "on"): what docker compose and older parsers read back as strings.
    { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" },
  );
}
