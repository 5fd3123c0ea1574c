/**
 * `berth doctor`: checks the host and says what is missing. Each check
 * yields ok, warn or fail with a hint; a failed check that `run` needs
 * makes doctor exit 1.
 *
 * @module
 */

import { dirname, join } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import { messageOf } from "../host/errors.ts";
import { globalsToArgs } from "../container/globals.ts";
import { requireRuntimeBinary } from "../host/runtime.ts";
import { missingForNetworks } from "../network/mod.ts";

/** One check's outcome. */
export interface CheckResult {
  name: string;
  level: "ok" | "warn" | "fail";
  message: string;
  hint?: string;
  /** A failure here means containers cannot run. */
  neededForRun: boolean;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The filesystem type of the mount holding `path` (its nearest existing ancestor). */
export async function fsTypeOf(path: string): Promise<string> {
  let p = path;
  while (!(await exists(p)) && p !== "/") p = dirname(p);
  const real = await Deno.realPath(p);
  let best = "";
  let type = "unknown";
  for (const line of (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")) {
    const f = line.split(" ");
    const mp = (f[4] ?? "").replace(/\\040/g, " ");
    const sep = f.indexOf("-");
    if (sep < 0) continue;
    if (
      (real === mp || real.startsWith(mp.endsWith("/") ? mp : mp + "/")) && mp.length >= best.length
    ) {
      best = mp;
      type = f[sep + 1] ?? "unknown";
    }
  }
  return type;
}

function checkUser(): CheckResult {
  const uid = Deno.uid();
  return uid === 0
    ? { name: "user", level: "ok", message: "running as root", neededForRun: true }
    : {
      name: "user",
      level: "fail",
      message: `running as uid ${uid}`,
      hint: "berth mounts root filesystems and drives runc: run it as root",
      neededForRun: true,
    };
}

async function checkRuntime(ctx: Context): Promise<CheckResult> {
  try {
    const path = requireRuntimeBinary(ctx.globals.runtime);
    const version = (await ctx.runtime.version()).split(",")[0];
    return { name: "runtime", level: "ok", message: `${version} (${path})`, neededForRun: true };
  } catch (err) {
    return {
      name: "runtime",
      level: "fail",
      message: messageOf(err),
      hint: "apt-get install runc (or dnf install runc), or pass --runtime PATH",
      neededForRun: true,
    };
  }
}

async function checkCgroups(): Promise<CheckResult[]> {
  const v2 = await exists("/sys/fs/cgroup/cgroup.controllers");
  const v1 = await exists("/sys/fs/cgroup/memory") || await exists("/sys/fs/cgroup/cpu");
  const hybrid = v1 && await exists("/sys/fs/cgroup/unified");
  const mode = v2 ? "v2 (unified)" : hybrid ? "v1 (hybrid)" : v1 ? "v1" : null;
  const cgroups: CheckResult = mode === null
    ? {
      name: "cgroups",
      level: "fail",
      message: "no cgroup hierarchy under /sys/fs/cgroup",
      hint: "mount cgroup2 on /sys/fs/cgroup",
      neededForRun: true,
    }
    : { name: "cgroups", level: "ok", message: mode, neededForRun: true };
  const freezer = v2 || await exists("/sys/fs/cgroup/freezer");
  return [cgroups, {
    name: "freezer",
    level: freezer ? "ok" : "warn",
    message: freezer
      ? `${v2 ? "cgroup.freeze" : "/sys/fs/cgroup/freezer"}: pause and resume work`
      : "no freezer cgroup",
    ...(freezer ? {} : { hint: "pause/resume need the freezer controller" }),
    neededForRun: false,
  }];
}

async function checkOverlay(ctx: Context): Promise<CheckResult[]> {
  const fs = await Deno.readTextFile("/proc/filesystems").catch(() => "");
  const ok = /\toverlay$/m.test(fs);
  const dataFs = await fsTypeOf(ctx.globals.dataRoot);
  const results: CheckResult[] = [
    ok ? { name: "overlay", level: "ok", message: "overlayfs is available", neededForRun: true } : {
      name: "overlay",
      level: "fail",
      message: "overlayfs is not available",
      hint: "modprobe overlay",
      neededForRun: true,
    },
  ];
  if (dataFs === "overlay") {
    results.push({
      name: "overlay-upper",
      level: "fail",
      message:
        `--data-root ${ctx.globals.dataRoot} is on overlayfs, which cannot hold upper layers`,
      hint: "put --data-root on ext4, xfs, btrfs or tmpfs",
      neededForRun: true,
    });
  }
  return results;
}

async function checkCriu(ctx: Context): Promise<CheckResult> {
  try {
    const r = await ctx.runner.exec({ argv: ["criu", "check"], timeoutMs: 20_000 });
    if (r.code === 0) {
      return { name: "criu", level: "ok", message: "criu check passed", neededForRun: false };
    }
    return {
      name: "criu",
      level: "warn",
      message: `criu check failed: ${(r.stderr || r.stdout).trim().split("\n").pop() ?? ""}`,
      hint: "checkpoint/restore will not work on this kernel",
      neededForRun: false,
    };
  } catch {
    return {
      name: "criu",
      level: "warn",
      message: "criu is not installed",
      hint: "apt-get install criu for checkpoint/restore",
      neededForRun: false,
    };
  }
}

/** The CNI plugins and iptables that bridge networks (the default) need. */
async function checkNetworking(ctx: Context): Promise<CheckResult> {
  const missing = await missingForNetworks(ctx);
  if (missing.length === 0) {
    return {
      name: "networks",
      level: "ok",
      message: "CNI plugins (bridge, host-local, portmap, firewall, loopback) and iptables present",
      neededForRun: false,
    };
  }
  return {
    name: "networks",
    level: "warn",
    message: `bridge networks cannot work: missing ${missing.join(", ")}`,
    hint: "apt-get install containernetworking-plugins iptables (or run with --network none)",
    neededForRun: false,
  };
}

async function checkRoot(name: string, path: string, wantTmpfs: boolean): Promise<CheckResult> {
  const fs = await fsTypeOf(path);
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch {
    return {
      name,
      level: "ok",
      message: `${path} does not exist yet (created 0700 on first use, on ${fs})`,
      neededForRun: true,
    };
  }
  const mode = (st.mode ?? 0) & 0o7777;
  if (st.uid !== 0 || (mode & 0o022) !== 0) {
    return {
      name,
      level: "fail",
      message: `${path} is owned by uid ${st.uid} with mode ${mode.toString(8).padStart(4, "0")}`,
      hint: `chown root:root ${path} && chmod 0700 ${path}`,
      neededForRun: true,
    };
  }
  const msg = `${path} on ${fs}, mode ${mode.toString(8).padStart(4, "0")}, owner root`;
  if (wantTmpfs && fs !== "tmpfs") {
    return {
      name,
      level: "warn",
      message: msg,
      hint: "not tmpfs: state outlives a reboot; run berth gc at boot",
      neededForRun: false,
    };
  }
  return { name, level: "ok", message: msg, neededForRun: true };
}

/** Runs a throwaway container through berth itself, in temporary roots. */
async function checkContainer(ctx: Context): Promise<CheckResult> {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (busybox === undefined) {
    return {
      name: "container",
      level: "warn",
      message: "skipped: no busybox to build a probe root filesystem",
      hint: "apt-get install busybox-static",
      neededForRun: false,
    };
  }
  const tmp = await Deno.makeTempDir({ prefix: "berth-doctor-" });
  try {
    await Deno.mkdir(join(tmp, "rootfs/bin"), { recursive: true });
    await Deno.copyFile(busybox, join(tmp, "rootfs/bin/busybox"));
    await Deno.chmod(join(tmp, "rootfs/bin/busybox"), 0o755);
    const globals = globalsToArgs({
      ...ctx.globals,
      root: join(tmp, "run"),
      dataRoot: join(tmp, "data"),
    });
    const t0 = performance.now();
    const r = await ctx.runner.exec({
      argv: [
        ...ctx.self,
        ...globals,
        "run",
        "--rm",
        "--network",
        "none",
        "--rootfs",
        join(tmp, "rootfs"),
        "doctor-probe",
        "--",
        "/bin/busybox",
        "echo",
        "probe-ok",
      ],
      timeoutMs: 60_000,
      env: { BERTH_MONITOR_IDLE_MS: "100" },
    });
    const ms = Math.round(performance.now() - t0);
    if (r.code === 0 && r.stdout === "probe-ok\n") {
      return {
        name: "container",
        level: "ok",
        message: `a throwaway container ran (${ms} ms)`,
        neededForRun: true,
      };
    }
    return {
      name: "container",
      level: "fail",
      message: `a throwaway container failed: ${
        r.stderr.trim().split("\n").pop() || `exit ${r.code}`
      }`,
      hint: "see berth --debug run … for the runtime's command lines",
      neededForRun: true,
    };
  } finally {
    // Give the probe's monitor its moment to go, then remove everything.
    await ctx.clock.sleep(300);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** All checks, in the order they are printed. */
export async function runChecks(ctx: Context): Promise<CheckResult[]> {
  const out: CheckResult[] = [checkUser()];
  const runtime = await checkRuntime(ctx);
  out.push(runtime);
  out.push(...await checkCgroups());
  out.push(...await checkOverlay(ctx));
  out.push(await checkRoot("root", ctx.globals.root, true));
  out.push(await checkRoot("data-root", ctx.globals.dataRoot, false));
  out.push(await checkCriu(ctx));
  out.push(await checkNetworking(ctx));
  if (runtime.level === "ok") out.push(await checkContainer(ctx));
  return out;
}
