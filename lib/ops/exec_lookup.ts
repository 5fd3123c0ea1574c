/**
 * `exec`'s command looked up before the runtime is asked, as the runtime's
 * init would look it up (Go's `exec.LookPath` with the process's PATH), in
 * the running container's own root (`/proc/PID/root`, every path resolved
 * inside it: see `host/scoped_path.ts`). A command that is certainly not
 * there (or not executable) is refused in one line, with the runtime's
 * words, so `exec` exits 127/126 without the runtime printing its own copy
 * of the error on the stderr it shares with the process. Whatever is not
 * certain (a relative PATH entry, a path relative to the working
 * directory, an error on the way) is left to the runtime.
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";
import {
  closeFd,
  ENOENT,
  errnoOf,
  kindOf,
  O_DIRECTORY,
  O_PATH,
  openAt,
  statFd,
} from "../host/at_file.ts";
import { startTimeOf } from "../host/proc.ts";
import { resolveInRoot } from "../host/scoped_path.ts";

/** What a path in the container is, for a command: runnable, missing, or not runnable. */
type Verdict = "runnable" | "missing" | "not-runnable" | "unknown";

function verdictOf(rootFd: number, path: string): Verdict {
  let r;
  try {
    r = resolveInRoot({ fd: rootFd, mounts: [], readOnly: false }, path);
  } catch (err) {
    const errno = errnoOf(err);
    return errno === ENOENT ? "missing" : "unknown";
  }
  if (r.kind === "missing") {
    closeFd(r.parentFd);
    return "missing";
  }
  try {
    const st = statFd(r.fd);
    const kind = kindOf(st.mode);
    if (kind === "dir") return "not-runnable";
    if (kind !== "file") return "unknown";
    return (st.mode & 0o111) !== 0 ? "runnable" : "not-runnable";
  } catch {
    return "unknown";
  } finally {
    closeFd(r.fd);
    if (r.parentFd !== null) closeFd(r.parentFd);
  }
}

/** The root of the live init `pid` (started at `startTime`), or null. */
function openRoot(pid: number, startTime: number | null): number | null {
  let procFd: number;
  try {
    procFd = openAt(-100, `/proc/${pid}`, O_PATH | O_DIRECTORY);
  } catch {
    return null;
  }
  try {
    if (startTime !== null && startTimeOf(pid) !== startTime) return null;
    return openAt(procFd, "root", O_PATH | O_DIRECTORY);
  } catch {
    return null;
  } finally {
    closeFd(procFd);
  }
}

/**
 * Throws the runtime's error (`exec: "X": executable file not found in
 * $PATH`, `exec: "X": permission denied`) when `args[0]` is certainly not
 * runnable in the container whose init is `pid`; returns otherwise.
 */
export function checkExecCommand(
  id: string,
  pid: number,
  startTime: number | null,
  args: readonly string[],
  env: readonly string[],
): void {
  const cmd = args[0];
  if (cmd === undefined || cmd === "") return;
  const rootFd = openRoot(pid, startTime);
  if (rootFd === null) return;
  try {
    let verdict: Verdict;
    if (cmd.includes("/")) {
      if (!cmd.startsWith("/")) return; // relative to its working directory: the runtime's
      verdict = verdictOf(rootFd, cmd);
    } else {
      const path = env.findLast((e) => e.startsWith("PATH="))?.slice(5);
      if (path === undefined) return;
      const dirs = path.split(":");
      if (dirs.some((d) => !d.startsWith("/"))) return; // "." and relative entries: the runtime's
      verdict = "missing";
      for (const dir of dirs) {
        const v = verdictOf(rootFd, `${dir}/${cmd}`);
        if (v === "runnable" || v === "unknown") return;
      }
    }
    const where = `exec in "${id}"`;
    if (verdict === "missing") {
      const what = cmd.includes("/")
        ? `stat ${cmd}: no such file or directory`
        : "executable file not found in $PATH";
      throw new RuntimeError(`${where}: exec: "${cmd}": ${what}`);
    }
    if (verdict === "not-runnable") {
      throw new RuntimeError(`${where}: exec: "${cmd}": permission denied`);
    }
  } finally {
    closeFd(rootFd);
  }
}
