/**
 * The default OCI runtime config (what `berth spec` prints and what
 * `create --rootfs` starts from), and the adjustments `create` makes to any
 * config: process args, env, cwd, hostname, cgroups path, root path.
 *
 * The default follows `runc spec` with `terminal: false` (berth connects
 * stdout/stderr to log files, never a terminal) and a writable root (the
 * root is a copy-on-write view; the source directory is never written).
 *
 * @module
 */

import { InvalidArgument } from "./errors.ts";
import { applySecurity, capabilitySets, DEFAULT_SECURITY, RUNC_CAPABILITIES } from "./security.ts";

/** A loosely typed OCI config: berth touches only a few fields. */
export type OciConfig = Record<string, unknown> & {
  ociVersion?: string;
  process?: Record<string, unknown> & { args?: string[]; env?: string[]; cwd?: string };
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  linux?: Record<string, unknown>;
};

/**
 * A fresh copy of the default config, with berth's security defaults
 * (see host/security.ts; the cgroup namespace is added at create time).
 */
export function defaultSpec(): OciConfig {
  return applySecurity(runcSpec(), DEFAULT_SECURITY, { cgroupV2: false });
}

/** runc's default config, adjusted as the module doc says. */
function runcSpec(): OciConfig {
  return {
    ociVersion: "1.0.2-dev",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: capabilitySets(RUNC_CAPABILITIES),
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: false },
    hostname: "berth",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
      ],
    },
  };
}

/**
 * Checks the parts of a user-supplied config berth relies on. A terminal
 * is asked for with `-t`, never by the config (`ownBundle`: a bundle berth
 * made, which may have one).
 */
export function validateConfig(value: unknown, where: string, ownBundle = false): OciConfig {
  const bad = (why: string) => new InvalidArgument(`invalid config ${where}: ${why}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("not a JSON object");
  }
  const c = value as OciConfig;
  if (typeof c.process !== "object" || c.process === null) throw bad(`"process" is missing`);
  const args = c.process.args;
  if (args !== undefined && (!Array.isArray(args) || args.some((a) => typeof a !== "string"))) {
    throw bad(`"process.args" must be an array of strings`);
  }
  if (typeof c.root !== "object" || c.root === null || typeof c.root.path !== "string") {
    throw bad(`"root.path" is missing`);
  }
  if (c.process.terminal === true && !ownBundle) {
    throw bad(`"process.terminal" must be false: give -t for a terminal`);
  }
  return c;
}

/** Reads and validates a config file (`ownBundle`: see {@linkcode validateConfig}). */
export async function readConfig(path: string, ownBundle = false): Promise<OciConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new InvalidArgument(`cannot read config ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgument(`invalid config ${path}: ${(err as Error).message}`);
  }
  return validateConfig(value, path, ownBundle);
}

/** What `create` changes in a config. */
export interface ConfigOverrides {
  /** Replaces `process.args` when non-empty. */
  args: string[];
  /** `K=V` entries added to (or replacing in) `process.env`. */
  env: string[];
  /** Replaces `process.cwd` when set. */
  cwd: string | null;
  hostname: string;
  cgroupsPath: string;
}

/** Returns a copy of `base` with the overrides applied and root at `rootfs`. */
export function applyOverrides(base: OciConfig, o: ConfigOverrides): OciConfig {
  const c: OciConfig = structuredClone(base);
  const process = c.process ?? {};
  c.process = process;
  if (o.args.length > 0) process.args = [...o.args];
  if (!Array.isArray(process.args) || process.args.length === 0) {
    throw new InvalidArgument("no command: give one after -- or in the config's process.args");
  }
  const env = [...(process.env ?? [])];
  for (const kv of o.env) {
    const key = kv.slice(0, kv.indexOf("="));
    const at = env.findIndex((e) => e.startsWith(key + "="));
    if (at >= 0) env[at] = kv;
    else env.push(kv);
  }
  process.env = env;
  if (o.cwd !== null) process.cwd = o.cwd;
  c.root = { ...(c.root ?? { path: "rootfs" }), path: "rootfs" };
  if (c.hostname === undefined || c.hostname === "berth") c.hostname = o.hostname;
  c.linux = { ...(c.linux ?? {}), cgroupsPath: o.cgroupsPath };
  return c;
}
