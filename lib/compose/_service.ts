/**
 * One service of a file, normalised to the model's long syntax: only the
 * keys the file gives (so files merge key by key, see merge.ts). Short and
 * long syntax of ports and volumes, `environment`/`labels` as a mapping or
 * a list, `env_file` lists read into the environment, `depends_on` as a
 * list or with conditions, `deploy.resources.limits`, durations and sizes.
 *
 * @module
 */

import { normalize, resolve } from "../_std/path.ts";
import { parseDuration } from "../limits/mod.ts";
import { parseSize } from "../host/size.ts";
import { BerthError } from "../host/errors.ts";
import type { Lookup } from "./_interpolate.ts";
import { parseDotEnv } from "./_interpolate.ts";
import type {
  BuildSpec,
  Dependency,
  Healthcheck,
  PortSpec,
  Service,
  VolumeMount,
} from "./_model.ts";
import {
  bool,
  command,
  fail,
  int,
  isMap,
  map,
  mapOrList,
  type Reader,
  shown,
  str,
  strList,
  warnUnknown,
} from "./_read.ts";

/** The keys of a service berth reads (others: a warning). */
const SERVICE_KEYS = new Set([
  "image",
  "build",
  "command",
  "entrypoint",
  "environment",
  "env_file",
  "ports",
  "expose",
  "volumes",
  "tmpfs",
  "networks",
  "depends_on",
  "links",
  "healthcheck",
  "restart",
  "user",
  "working_dir",
  "hostname",
  "labels",
  "container_name",
  "deploy",
  "scale",
  "profiles",
  "pull_policy",
  "read_only",
  "cap_add",
  "cap_drop",
  "privileged",
  "stop_grace_period",
  "extends",
]);

/** A service as one file gives it: the model's fields it sets. */
export type PartialService = Partial<Service>;

/** What normalising needs besides the file. */
export interface ServiceContext extends Reader {
  /** The project directory: relative paths are resolved from it. */
  dir: string;
  /** The interpolation environment (for `environment: [NAME]` and env files). */
  env: Lookup;
}

/** A host path of the file: `~` is $HOME, relative ones are from the project directory. */
function hostPath(c: ServiceContext, p: string): string {
  if (p === "~" || p.startsWith("~/")) return normalize((c.env("HOME") ?? "/root") + p.slice(1));
  return p.startsWith("/") ? normalize(p) : resolve(c.dir, p);
}

/** True when a short-syntax volume source is a path (else a volume name). */
function isPathSource(s: string): boolean {
  return s.startsWith("/") || s.startsWith(".") || s.startsWith("~");
}

/** A container path: absolute, not `/`. */
function containerPath(c: ServiceContext, v: unknown, path: string): string {
  const p = str(c, v, path);
  if (!p.startsWith("/")) fail(c, path, `container path "${p}" must be absolute`);
  const n = normalize(p);
  if (n === "/") fail(c, path, `cannot mount over "/"`);
  return n;
}

function size(c: ServiceContext, v: unknown, path: string): number {
  const text = str(c, v, path).toLowerCase().replace(/i?b$/, "").replace(/i$/, "");
  try {
    return parseSize(text, path);
  } catch {
    fail(c, path, `${shown(v)} is not a size like 64m or 1g`);
  }
}

function duration(c: ServiceContext, v: unknown, path: string): number {
  try {
    return parseDuration(str(c, v, path), path);
  } catch {
    fail(c, path, `${shown(v)} is not a duration like 500ms, 30s or 1m30s`);
  }
}

function portNumber(c: ServiceContext, text: string, path: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    fail(c, path, `"${text}" is not a port (1 to 65535)`);
  }
  return Number(text);
}

/** A range `A-B` or one port: the ports it covers. */
function portRange(c: ServiceContext, text: string, path: string): number[] {
  const [a, b] = text.split("-");
  const lo = portNumber(c, a!, path);
  if (b === undefined) return [lo];
  const hi = portNumber(c, b, path);
  if (hi < lo || hi - lo > 1000) fail(c, path, `"${text}" is not a port range`);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** `ports`: short (`[IP:][HOST:]CONTAINER[/PROTO]`, ranges) and long syntax. */
function ports(c: ServiceContext, v: unknown, path: string): PortSpec[] {
  if (!Array.isArray(v)) fail(c, path, `must be a list, not ${shown(v)}`);
  return v.flatMap((item, i): PortSpec[] => {
    const at = `${path}[${i}]`;
    if (isMap(item)) {
      warnUnknown(
        c,
        item,
        new Set(["target", "published", "host_ip", "protocol", "mode", "name"]),
        at,
      );
      if (item.target === undefined) fail(c, at, "needs target");
      const protocol = item.protocol === undefined
        ? "tcp"
        : str(c, item.protocol, `${at}.protocol`);
      if (protocol !== "tcp" && protocol !== "udp") fail(c, `${at}.protocol`, `must be tcp or udp`);
      const p: PortSpec = { target: int(c, item.target, `${at}.target`, 1, 65535), protocol };
      if (item.published !== undefined && item.published !== null && item.published !== "") {
        p.published = portNumber(c, str(c, item.published, `${at}.published`), `${at}.published`);
      }
      if (item.host_ip !== undefined) p.host_ip = str(c, item.host_ip, `${at}.host_ip`);
      return [p];
    }
    let text = str(c, item, at);
    let protocol: "tcp" | "udp" = "tcp";
    const slash = text.lastIndexOf("/");
    if (slash >= 0) {
      const proto = text.slice(slash + 1);
      if (proto !== "tcp" && proto !== "udp") fail(c, at, `protocol "${proto}" must be tcp or udp`);
      protocol = proto;
      text = text.slice(0, slash);
    }
    const parts = text.split(":");
    if (parts.length > 3) fail(c, at, `"${text}" is not [IP:][HOST:]CONTAINER`);
    const target = portRange(c, parts.pop()!, at);
    const host = parts.length > 0 ? parts.pop()! : "";
    const ip = parts.length > 0 ? parts.pop()! : "";
    if (ip !== "" && !/^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(ip)) {
      fail(c, at, `host address "${ip}" must be an IPv4 address`);
    }
    const published = host === "" ? null : portRange(c, host, at);
    if (published !== null && published.length !== target.length) {
      fail(c, at, `"${text}": host and container ranges differ in length`);
    }
    return target.map((t, k) => ({
      target: t,
      ...(published === null ? {} : { published: published[k]! }),
      ...(ip === "" || ip === "0.0.0.0" ? {} : { host_ip: ip }),
      protocol,
    }));
  });
}

/** `volumes`: short (`SRC:DST[:ro]`, `DST`) and long syntax. */
function volumes(c: ServiceContext, v: unknown, path: string): VolumeMount[] {
  if (!Array.isArray(v)) fail(c, path, `must be a list, not ${shown(v)}`);
  return v.map((item, i): VolumeMount => {
    const at = `${path}[${i}]`;
    if (isMap(item)) {
      warnUnknown(
        c,
        item,
        new Set([
          "type",
          "source",
          "target",
          "read_only",
          "bind",
          "volume",
          "tmpfs",
          "consistency",
        ]),
        at,
      );
      const type = str(c, item.type ?? "volume", `${at}.type`);
      if (type !== "bind" && type !== "volume" && type !== "tmpfs") {
        fail(c, `${at}.type`, `must be bind, volume or tmpfs, not ${shown(type)}`);
      }
      const m: VolumeMount = {
        type,
        target: containerPath(c, item.target, `${at}.target`),
        read_only: item.read_only === undefined
          ? false
          : bool(c, item.read_only, `${at}.read_only`),
      };
      if (type === "tmpfs") {
        const t = map(c, item.tmpfs, `${at}.tmpfs`);
        if (t.size !== undefined) m.tmpfs_size = size(c, t.size, `${at}.tmpfs.size`);
        return m;
      }
      if (item.source !== undefined && item.source !== null && item.source !== "") {
        const src = str(c, item.source, `${at}.source`);
        m.source = type === "bind" ? hostPath(c, src) : src;
      } else if (type === "bind") fail(c, at, "a bind mount needs source");
      return m;
    }
    const text = str(c, item, at);
    const parts = text.split(":");
    if (parts.length > 3) fail(c, at, `"${text}" is not SRC:DST[:MODE]`);
    if (parts.length === 1) {
      return { type: "volume", target: containerPath(c, parts[0], at), read_only: false };
    }
    const [src, dst, mode = "rw"] = parts as [string, string, string?];
    const modes = mode.split(",");
    for (const m of modes) {
      if (!["ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"].includes(m)) {
        fail(c, at, `unknown mode "${m}" (ro or rw)`);
      }
    }
    const path_ = isPathSource(src);
    return {
      type: path_ ? "bind" : "volume",
      source: path_ ? hostPath(c, src) : src,
      target: containerPath(c, dst, at),
      read_only: modes.includes("ro"),
    };
  });
}

/** `tmpfs`: a path or list of `PATH[:size=N]` entries. */
function tmpfs(c: ServiceContext, v: unknown, path: string): VolumeMount[] {
  return strList(c, v, path).map((entry, i) => {
    const [dst, opts = ""] = entry.split(/:(.*)/s) as [string, string?];
    const m: VolumeMount = {
      type: "tmpfs",
      target: containerPath(c, dst, `${path}[${i}]`),
      read_only: false,
    };
    for (const o of opts.split(",").filter((o) => o !== "")) {
      if (o.startsWith("size=")) m.tmpfs_size = size(c, o.slice(5), `${path}[${i}]`);
    }
    return m;
  });
}

/** `healthcheck`: `test` as a string, `[CMD, …]`, `[CMD-SHELL, cmd]` or `[NONE]`; `disable`. */
function healthcheck(c: ServiceContext, v: unknown, path: string): Healthcheck | null {
  const h = map(c, v, path);
  warnUnknown(
    c,
    h,
    new Set([
      "test",
      "interval",
      "timeout",
      "retries",
      "start_period",
      "start_interval",
      "disable",
    ]),
    path,
  );
  if (h.disable !== undefined && bool(c, h.disable, `${path}.disable`)) return null;
  if (h.test === undefined) fail(c, path, "needs test");
  let test: string;
  if (typeof h.test === "string") test = h.test;
  else {
    const words = strList(c, h.test, `${path}.test`);
    const [kind, ...rest] = words;
    if (kind === "NONE") return null;
    if (kind === "CMD-SHELL") test = rest.join(" ");
    else if (kind === "CMD") test = rest.map(shellQuote).join(" ");
    else fail(c, `${path}.test`, `must start with CMD, CMD-SHELL or NONE, not ${shown(kind)}`);
  }
  if (test.trim() === "") fail(c, `${path}.test`, "is empty");
  return {
    test,
    ...(h.interval !== undefined
      ? { interval_ms: duration(c, h.interval, `${path}.interval`) }
      : {}),
    ...(h.timeout !== undefined ? { timeout_ms: duration(c, h.timeout, `${path}.timeout`) } : {}),
    ...(h.retries !== undefined ? { retries: int(c, h.retries, `${path}.retries`, 1, 1000) } : {}),
    ...(h.start_period !== undefined
      ? { start_period_ms: duration(c, h.start_period, `${path}.start_period`) }
      : {}),
  };
}

/** A word quoted for `sh -c` (only when it needs quoting). */
export function shellQuote(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`;
}

const CONDITIONS = ["service_started", "service_healthy", "service_completed_successfully"];

function dependsOn(c: ServiceContext, v: unknown, path: string): Record<string, Dependency> {
  const out: Record<string, Dependency> = {};
  if (Array.isArray(v) || typeof v === "string") {
    for (const name of strList(c, v, path)) {
      out[name] = { condition: "service_started", required: true };
    }
    return out;
  }
  for (const [name, d] of Object.entries(map(c, v, path))) {
    const m = map(c, d, `${path}.${name}`);
    warnUnknown(c, m, new Set(["condition", "required", "restart"]), `${path}.${name}`);
    const condition = str(c, m.condition ?? "service_started", `${path}.${name}.condition`);
    if (!CONDITIONS.includes(condition)) {
      fail(
        c,
        `${path}.${name}.condition`,
        `must be ${CONDITIONS.join(", ")}; not ${shown(condition)}`,
      );
    }
    out[name] = {
      condition: condition as Dependency["condition"],
      required: m.required === undefined ? true : bool(c, m.required, `${path}.${name}.required`),
    };
  }
  return out;
}

function networks(
  c: ServiceContext,
  v: unknown,
  path: string,
): Record<string, { aliases: string[] }> {
  const out: Record<string, { aliases: string[] }> = {};
  if (Array.isArray(v)) {
    for (const n of strList(c, v, path)) out[n] = { aliases: [] };
    return out;
  }
  for (const [n, d] of Object.entries(map(c, v, path))) {
    const m = map(c, d, `${path}.${n}`);
    warnUnknown(c, m, new Set(["aliases", "ipv4_address", "priority"]), `${path}.${n}`);
    out[n] = { aliases: strList(c, m.aliases, `${path}.${n}.aliases`) };
  }
  return out;
}

function restart(c: ServiceContext, v: unknown, path: string): Service["restart"] {
  const s = str(c, v, path);
  if (s === "no" || s === "always" || s === "unless-stopped") return s;
  if (/^on-failure(:[0-9]+)?$/.test(s)) return "on-failure";
  fail(c, path, `must be no, always, on-failure[:N] or unless-stopped, not ${shown(s)}`);
}

/** `deploy`: replicas, resources.limits (memory, cpus, pids), restart_policy. */
function deploy(c: ServiceContext, v: unknown, path: string, out: PartialService): void {
  const d = map(c, v, path);
  warnUnknown(c, d, new Set(["replicas", "resources", "restart_policy", "mode", "labels"]), path);
  if (d.replicas !== undefined) out.replicas = int(c, d.replicas, `${path}.replicas`, 0, 100);
  const res = map(c, d.resources, `${path}.resources`);
  warnUnknown(c, res, new Set(["limits", "reservations"]), `${path}.resources`);
  const lim = map(c, res.limits, `${path}.resources.limits`);
  warnUnknown(c, lim, new Set(["memory", "cpus", "pids"]), `${path}.resources.limits`);
  const limits: Service["limits"] = {};
  const at = `${path}.resources.limits`;
  if (lim.memory !== undefined) {
    limits.memory = size(c, lim.memory, `${at}.memory`);
    if (limits.memory < 6 * 1024 * 1024) fail(c, `${at}.memory`, "is below the minimum of 6m");
  }
  if (lim.cpus !== undefined) {
    const n = Number(str(c, lim.cpus, `${at}.cpus`));
    if (!(n >= 0.01 && n <= 1024)) fail(c, `${at}.cpus`, `must be a number from 0.01 to 1024`);
    limits.cpus = n;
  }
  if (lim.pids !== undefined) limits.pids = int(c, lim.pids, `${at}.pids`, -1, 4194304);
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (d.restart_policy !== undefined) {
    const rp = map(c, d.restart_policy, `${path}.restart_policy`);
    const cond = rp.condition === undefined
      ? "any"
      : str(c, rp.condition, `${path}.restart_policy.condition`);
    if (cond === "none") out.restart = "no";
    else if (cond === "on-failure") out.restart = "on-failure";
    else if (cond === "any") out.restart = "always";
    else fail(c, `${path}.restart_policy.condition`, `must be none, on-failure or any`);
  }
}

/** Reads env files (in order) into one mapping; a missing file is an error unless `required: false`. */
function envFiles(c: ServiceContext, v: unknown, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const items = Array.isArray(v) ? v : [v];
  items.forEach((item, i) => {
    const at = Array.isArray(v) ? `${path}[${i}]` : path;
    let file: string;
    let required = true;
    if (isMap(item)) {
      file = str(c, item.path, `${at}.path`);
      if (item.required !== undefined) required = bool(c, item.required, `${at}.required`);
    } else file = str(c, item, at);
    const full = hostPath(c, file);
    let text: string;
    try {
      text = Deno.readTextFileSync(full);
    } catch (err) {
      if (!required) return;
      fail(c, at, `cannot read ${full}: ${(err as Error).message}`);
    }
    try {
      Object.assign(out, parseDotEnv(text, full, c.env));
    } catch (err) {
      if (err instanceof BerthError) fail(c, at, err.message);
      throw err;
    }
  });
  return out;
}

/** `build`: a context path, or a mapping with context, dockerfile and args. */
function build(c: ServiceContext, v: unknown, path: string): BuildSpec {
  if (typeof v === "string") return { context: hostPath(c, v), args: {} };
  const b = map(c, v, path);
  warnUnknown(c, b, new Set(["context", "dockerfile", "args", "target", "labels"]), path);
  const args: Record<string, string> = {};
  for (const [k, x] of Object.entries(mapOrList(c, b.args, `${path}.args`))) {
    const val = x ?? c.env(k);
    if (val !== undefined) args[k] = val;
  }
  return {
    context: hostPath(c, b.context === undefined ? "." : str(c, b.context, `${path}.context`)),
    ...(b.dockerfile !== undefined
      ? { dockerfile: str(c, b.dockerfile, `${path}.dockerfile`) }
      : {}),
    args,
  };
}

/**
 * Normalises service `name` of a file (`raw` after interpolation): the
 * fields it sets. `extends` is left to the loader (load.ts).
 */
export function normalizeService(c: ServiceContext, name: string, raw: unknown): PartialService {
  const path = `services.${name}`;
  const s = map(c, raw, path);
  warnUnknown(c, s, SERVICE_KEYS, path);
  const out: PartialService = {};
  const at = (k: string) => `${path}.${k}`;
  if (s.image !== undefined) out.image = str(c, s.image, at("image"));
  if (s.build !== undefined) out.build = build(c, s.build, at("build"));
  if (s.command !== undefined && s.command !== null) {
    out.command = command(c, s.command, at("command"));
  }
  if (s.entrypoint !== undefined && s.entrypoint !== null) {
    out.entrypoint = command(c, s.entrypoint, at("entrypoint"));
  }
  if (s.env_file !== undefined || s.environment !== undefined) {
    const env: Record<string, string> = s.env_file === undefined
      ? {}
      : envFiles(c, s.env_file, at("env_file"));
    for (const [k, v] of Object.entries(mapOrList(c, s.environment, at("environment")))) {
      const val = v ?? c.env(k);
      if (val !== undefined) env[k] = val;
    }
    out.environment = env;
  }
  if (s.ports !== undefined) out.ports = ports(c, s.ports, at("ports"));
  if (s.expose !== undefined) out.expose = strList(c, s.expose, at("expose"));
  const mounts = [
    ...(s.volumes !== undefined ? volumes(c, s.volumes, at("volumes")) : []),
    ...(s.tmpfs !== undefined ? tmpfs(c, s.tmpfs, at("tmpfs")) : []),
  ];
  if (s.volumes !== undefined || s.tmpfs !== undefined) out.volumes = mounts;
  if (s.networks !== undefined) out.networks = networks(c, s.networks, at("networks"));
  if (s.depends_on !== undefined) out.depends_on = dependsOn(c, s.depends_on, at("depends_on"));
  if (s.links !== undefined) out.links = strList(c, s.links, at("links"));
  if (s.healthcheck !== undefined) {
    const h = healthcheck(c, s.healthcheck, at("healthcheck"));
    out.healthcheck = h ?? { test: "" }; // "" = disabled; dropped after merging
  }
  if (s.restart !== undefined) out.restart = restart(c, s.restart, at("restart"));
  if (s.user !== undefined) out.user = str(c, s.user, at("user"));
  if (s.working_dir !== undefined) {
    out.working_dir = str(c, s.working_dir, at("working_dir"));
    if (!out.working_dir.startsWith("/")) fail(c, at("working_dir"), "must be an absolute path");
  }
  if (s.hostname !== undefined) out.hostname = str(c, s.hostname, at("hostname"));
  if (s.labels !== undefined) {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(mapOrList(c, s.labels, at("labels")))) labels[k] = v ?? "";
    out.labels = labels;
  }
  if (s.container_name !== undefined) {
    out.container_name = str(c, s.container_name, at("container_name"));
  }
  if (s.scale !== undefined) out.replicas = int(c, s.scale, at("scale"), 0, 100);
  if (s.deploy !== undefined) deploy(c, s.deploy, at("deploy"), out);
  if (s.profiles !== undefined) out.profiles = strList(c, s.profiles, at("profiles"));
  if (s.pull_policy !== undefined) {
    const p = str(c, s.pull_policy, at("pull_policy"));
    const known = {
      missing: "missing",
      if_not_present: "missing",
      always: "always",
      never: "never",
      build: "build",
    } as const;
    if (!Object.hasOwn(known, p)) {
      fail(c, at("pull_policy"), `must be missing, always, never or build`);
    }
    out.pull_policy = known[p as keyof typeof known];
  }
  if (s.read_only !== undefined) out.read_only = bool(c, s.read_only, at("read_only"));
  if (s.privileged !== undefined) out.privileged = bool(c, s.privileged, at("privileged"));
  if (s.cap_add !== undefined) out.cap_add = strList(c, s.cap_add, at("cap_add"));
  if (s.cap_drop !== undefined) out.cap_drop = strList(c, s.cap_drop, at("cap_drop"));
  if (s.stop_grace_period !== undefined) {
    out.stop_grace_period_s = Math.ceil(
      duration(c, s.stop_grace_period, at("stop_grace_period")) / 1000,
    );
  }
  return out;
}

/** The service's `extends`: the base service's name, or null. */
export function extendsOf(c: Reader, name: string, raw: unknown): string | null {
  if (!isMap(raw) || raw.extends === undefined) return null;
  const path = `services.${name}.extends`;
  if (typeof raw.extends === "string") return raw.extends;
  const e = map(c, raw.extends, path);
  if (e.file !== undefined) fail(c, `${path}.file`, "extends from another file is not supported");
  return str(c, e.service, `${path}.service`);
}
