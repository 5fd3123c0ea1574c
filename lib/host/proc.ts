/**
 * Process liveness from /proc, guarded against pid reuse by the process's
 * start time (field 22 of /proc/PID/stat).
 *
 * @module
 */

/** What /proc says of a process. */
export interface ProcInfo {
  /** One-letter state: R, S, D, Z, T, … */
  state: string;
  ppid: number;
  /** Start time in clock ticks after boot. */
  startTime: number;
}

/** Reads /proc/PID/stat; null when there is no such process. */
export function procInfo(pid: number): ProcInfo | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: split after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = rest[0] ?? "?";
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  return { state, ppid, startTime };
}

/** The start time of `pid`, or null when it does not exist. */
export function startTimeOf(pid: number): number | null {
  return procInfo(pid)?.startTime ?? null;
}

/** Liveness of a recorded process. */
export type Liveness = "alive" | "zombie" | "gone";

/**
 * Whether the process `pid` that started at `startTime` still exists. A
 * different process with the same pid counts as gone.
 */
export function liveness(pid: number, startTime: number | null): Liveness {
  const info = procInfo(pid);
  if (info === null) return "gone";
  if (startTime !== null && info.startTime !== startTime) return "gone";
  return info.state === "Z" || info.state === "X" ? "zombie" : "alive";
}

/** The command line of `pid`, or "" when unknown. */
export function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((s) => s !== "")
      .join(" ");
  } catch {
    return "";
  }
}

/**
 * True when `pid` is in cgroup `path` (or below it) in any hierarchy of
 * /proc/PID/cgroup (v1 and v2): how berth tells a container's process from
 * any other process whose pid someone wrote into a file.
 */
export function inCgroup(pid: number, path: string, text?: string): boolean {
  let lines = text;
  try {
    lines ??= Deno.readTextFileSync(`/proc/${pid}/cgroup`);
  } catch {
    return false;
  }
  for (const line of lines.split("\n")) {
    const p = line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
    if (p === path || p.startsWith(path + "/")) return true;
  }
  return false;
}

/**
 * The live processes (zombies excluded) whose environment, as they were
 * started with it (`/proc/PID/environ`), holds `NAME=VALUE` exactly. How
 * berth finds a runtime's or a CNI plugin's processes working for one
 * container after the berth that started them was killed: they carry the
 * container in their environment (`_LIBCONTAINER_STATEDIR`,
 * `CNI_CONTAINERID`), and so do the processes they start.
 */
export function pidsWithEnv(name: string, value: string): number[] {
  const want = new TextEncoder().encode(`${name}=${value}\0`);
  const out: number[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc")];
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    let env: Uint8Array;
    try {
      env = Deno.readFileSync(`/proc/${e.name}/environ`);
    } catch {
      continue; // gone, or a kernel thread
    }
    if (!holds(env, want)) continue;
    const pid = Number(e.name);
    const state = procInfo(pid)?.state;
    if (state !== undefined && state !== "Z" && state !== "X") out.push(pid);
  }
  return out;
}

/** True when `env` (NUL-separated entries) holds the entry `want` (ending in NUL). */
function holds(env: Uint8Array, want: Uint8Array): boolean {
  outer: for (let i = 0; i + want.length <= env.length; i++) {
    if (i > 0 && env[i - 1] !== 0) continue;
    for (let j = 0; j < want.length; j++) if (env[i + j] !== want[j]) continue outer;
    return true;
  }
  // The last entry may lack its NUL.
  const tail = want.subarray(0, want.length - 1);
  const start = env.length - tail.length;
  if (start < 0 || (start > 0 && env[start - 1] !== 0)) return false;
  return tail.every((b, j) => env[start + j] === b);
}
