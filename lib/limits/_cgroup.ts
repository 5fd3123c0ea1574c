/**
 * A container's cgroup on the host, v1 or v2 (detected at run time): where
 * its files are, and what they say (CPU time, memory, pids, block I/O, OOM
 * kills). berth gives runc an absolute cgroups path (`Paths.cgroupPath`),
 * which is under each v1 controller's mount or under the v2 root.
 *
 * @module
 */

/** Where the cgroup file system is mounted. */
export const CGROUP_ROOT = "/sys/fs/cgroup";

/** The hierarchy the host uses. */
export type CgroupVersion = 1 | 2;

let cachedVersion: CgroupVersion | undefined;

/** 2 when /sys/fs/cgroup is the unified hierarchy, else 1 (v1 or hybrid). */
export function cgroupVersion(root = CGROUP_ROOT): CgroupVersion {
  if (root === CGROUP_ROOT && cachedVersion !== undefined) return cachedVersion;
  let v: CgroupVersion = 1;
  try {
    Deno.statSync(`${root}/cgroup.controllers`);
    v = 2;
  } catch { /* v1 or hybrid */ }
  if (root === CGROUP_ROOT) cachedVersion = v;
  return v;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when the host accounts swap per cgroup (so a memory limit also
 * caps swap): v1 `memory.memsw.*`, v2 `memory.swap.max`.
 */
export function swapAccounting(root = CGROUP_ROOT): boolean {
  if (cgroupVersion(root) === 1) return exists(`${root}/memory/memory.memsw.limit_in_bytes`);
  for (const d of ["system.slice", "user.slice", "init.scope"]) {
    if (exists(`${root}/${d}/memory.swap.max`)) return true;
  }
  return false;
}

/** The file that holds `what` for cgroup `path` on this host (v1: under its controller). */
export function cgroupFile(
  path: string,
  what:
    | "memory.limit"
    | "memory.usage"
    | "memory.stat"
    | "memory.oom"
    | "cpu.usage"
    | "cpu.quota"
    | "pids.max"
    | "pids.current"
    | "io",
  root = CGROUP_ROOT,
): string {
  if (cgroupVersion(root) === 2) {
    const v2: Record<typeof what, string> = {
      "memory.limit": "memory.max",
      "memory.usage": "memory.current",
      "memory.stat": "memory.stat",
      "memory.oom": "memory.events",
      "cpu.usage": "cpu.stat",
      "cpu.quota": "cpu.max",
      "pids.max": "pids.max",
      "pids.current": "pids.current",
      "io": "io.stat",
    };
    return `${root}${path}/${v2[what]}`;
  }
  const v1: Record<typeof what, [string, string]> = {
    "memory.limit": ["memory", "memory.limit_in_bytes"],
    "memory.usage": ["memory", "memory.usage_in_bytes"],
    "memory.stat": ["memory", "memory.stat"],
    "memory.oom": ["memory", "memory.oom_control"],
    "cpu.usage": ["cpuacct", "cpuacct.usage"],
    "cpu.quota": ["cpu", "cpu.cfs_quota_us"],
    "pids.max": ["pids", "pids.max"],
    "pids.current": ["pids", "pids.current"],
    "io": ["blkio", "blkio.throttle.io_service_bytes"],
  };
  const [controller, file] = v1[what];
  return `${root}/${controller}${path}/${file}`;
}

function read(file: string): string | null {
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return null;
  }
}

function num(text: string | null): number | null {
  if (text === null) return null;
  const t = text.trim();
  if (t === "max") return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** `KEY VALUE` lines (memory.stat, cpu.stat, memory.events, oom_control). */
export function keyValues(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && v !== undefined && /^[0-9]+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** OOM kills the kernel counted in cgroup `path` (v1 `oom_kill`, v2 `oom_kill`); 0 if unknown. */
export function oomKills(path: string, root = CGROUP_ROOT): number {
  return keyValues(read(cgroupFile(path, "memory.oom", root))).get("oom_kill") ?? 0;
}

/** One reading of a container's cgroup. */
export interface CgroupSample {
  /** CPU time used so far, in nanoseconds (null: unknown). */
  cpuNs: number | null;
  /** Memory in use less the inactive file cache, in bytes. */
  memoryUsage: number | null;
  /** The memory limit in bytes; null when unlimited. */
  memoryLimit: number | null;
  pids: number | null;
  /** The pids limit; null when unlimited. */
  pidsLimit: number | null;
  blockRead: number | null;
  blockWrite: number | null;
}

/** v1 reports "no limit" as a huge page-aligned number. */
const V1_UNLIMITED = 2 ** 62;

/** Reads the cgroup of `path` (see `Paths.cgroupPath`). */
export function sampleCgroup(path: string, root = CGROUP_ROOT): CgroupSample {
  const v2 = cgroupVersion(root) === 2;
  const f = (w: Parameters<typeof cgroupFile>[1]) => cgroupFile(path, w, root);
  let cpuNs: number | null;
  if (v2) {
    const usec = keyValues(read(f("cpu.usage"))).get("usage_usec");
    cpuNs = usec === undefined ? null : usec * 1000;
  } else cpuNs = num(read(f("cpu.usage")));
  const stat = keyValues(read(f("memory.stat")));
  const inactive = (v2 ? stat.get("inactive_file") : stat.get("total_inactive_file")) ?? 0;
  const usage = num(read(f("memory.usage")));
  let memoryLimit = num(read(f("memory.limit")));
  if (memoryLimit !== null && memoryLimit >= V1_UNLIMITED) memoryLimit = null;
  let blockRead: number | null = null;
  let blockWrite: number | null = null;
  const io = read(f("io"));
  if (io !== null) {
    blockRead = 0;
    blockWrite = 0;
    for (const line of io.split("\n")) {
      if (v2) {
        blockRead += Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
        blockWrite += Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
      } else {
        const m = /^\d+:\d+ (Read|Write) (\d+)$/.exec(line.trim());
        if (m?.[1] === "Read") blockRead += Number(m[2]);
        if (m?.[1] === "Write") blockWrite += Number(m[2]);
      }
    }
  }
  return {
    cpuNs,
    memoryUsage: usage === null ? null : Math.max(0, usage - inactive),
    memoryLimit,
    pids: num(read(f("pids.current"))),
    pidsLimit: num(read(f("pids.max"))),
    blockRead,
    blockWrite,
  };
}

/** Bytes received and sent on the network interfaces (not `lo`) that `pid` sees; null if unknown. */
export function netIo(pid: number | null): { rx: number; tx: number } | null {
  if (pid === null) return null;
  const text = read(`/proc/${pid}/net/dev`);
  if (text === null) return null;
  let rx = 0;
  let tx = 0;
  for (const line of text.split("\n").slice(2)) {
    const [name, rest] = line.split(":");
    if (rest === undefined || name!.trim() === "lo") continue;
    const cols = rest.trim().split(/\s+/).map(Number);
    rx += cols[0] ?? 0;
    tx += cols[8] ?? 0;
  }
  return { rx, tx };
}

/** The freezer file of cgroup `path`: v1 `freezer.state`, v2 `cgroup.freeze`. */
function freezerFile(path: string, root: string): string {
  return cgroupVersion(root) === 2
    ? `${root}${path}/cgroup.freeze`
    : `${root}/freezer${path}/freezer.state`;
}

/**
 * Whether cgroup `path` is frozen or being frozen (v1 `FREEZING`/`FROZEN`,
 * v2 `cgroup.freeze` 1); null when it has no freezer file (no such cgroup).
 */
export function cgroupFrozen(path: string, root = CGROUP_ROOT): boolean | null {
  const text = read(freezerFile(path, root));
  if (text === null) return null;
  const t = text.trim();
  return t === "1" || t === "FROZEN" || t === "FREEZING";
}

/**
 * Freezes (`frozen`) or thaws cgroup `path`, as the runtime's pause and
 * resume do (the runtime then reports the container paused while it is
 * frozen); false when the cgroup or its freezer is not there.
 */
export function setCgroupFrozen(path: string, frozen: boolean, root = CGROUP_ROOT): boolean {
  const v2 = cgroupVersion(root) === 2;
  try {
    Deno.writeTextFileSync(
      freezerFile(path, root),
      v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED"),
      { create: false },
    );
    return true;
  } catch {
    return false;
  }
}
