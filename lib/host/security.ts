/**
 * berth's container security defaults, in one place: the default seccomp
 * profile, the capability sets, the default pids limit, the extra masked
 * paths, the cgroup namespace, and what `--privileged` and
 * `--security-opt seccomp=…` change. {@linkcode applySecurity} applies them
 * to any config at create time; an option that sets a value (`--pids-limit`)
 * sets it before, and a value already in the config is kept.
 *
 * @module
 */

import { InvalidArgument } from "./errors.ts";
import type { OciConfig } from "./spec.ts";

/** The default pids limit when none is given (podman's). `--pids-limit` overrides it. */
export const DEFAULT_PIDS_LIMIT = 2048;

/** runc's default capabilities (what `berth spec` and `--rootfs` containers get). */
export const RUNC_CAPABILITIES: readonly string[] = [
  "CAP_AUDIT_WRITE",
  "CAP_KILL",
  "CAP_NET_BIND_SERVICE",
];

/**
 * podman's default capabilities (containers.conf `default_capabilities`),
 * for `--image` containers: images that drop privileges (setuid/setgid,
 * chown of their files) need more than runc's three.
 */
export const PODMAN_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_NET_BIND_SERVICE",
  "CAP_SETFCAP",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETUID",
  "CAP_SYS_CHROOT",
];

/** Every capability, by number (`CAP_CHOWN` is 0), as of Linux 5.9. */
export const ALL_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/**
 * The capabilities in berth's own bounding set (`CapBnd` in
 * /proc/self/status): all a container can get (`--privileged`); asking
 * the runtime for more fails.
 */
export function hostCapabilities(status?: string): string[] {
  let text = status;
  try {
    text ??= Deno.readTextFileSync("/proc/self/status");
  } catch {
    return [...ALL_CAPABILITIES];
  }
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(text);
  if (m === null) return [...ALL_CAPABILITIES];
  const mask = BigInt(`0x${m[1]}`);
  return ALL_CAPABILITIES.filter((_, n) => ((mask >> BigInt(n)) & 1n) === 1n);
}

/** The capability sets of a process holding `caps`. */
export function capabilitySets(caps: readonly string[]): Record<string, string[]> {
  return {
    bounding: [...caps],
    effective: [...caps],
    permitted: [...caps],
    ambient: [...caps],
  };
}

/** Paths masked beyond runc's defaults (podman masks these too). */
export const EXTRA_MASKED_PATHS: readonly string[] = ["/sys/devices/virtual/powercap"];

/**
 * Syscalls berth's default profile refuses with EPERM: those Docker's
 * documentation lists as blocked by default (namespaces, mounts, kernel
 * keyring and modules, BPF, kexec, tracing other processes, clocks,
 * accounting, quotas, swap, reboot and obsolete calls), and those Docker's
 * allow-list leaves out: `io_uring_*` (a large attack surface, and its
 * operations escape the seccomp filter) and `memfd_secret`.
 */
export const BLOCKED_SYSCALLS: readonly string[] = [
  "acct",
  "add_key",
  "bpf",
  "clock_adjtime",
  "clock_settime",
  "create_module",
  "delete_module",
  "finit_module",
  "fsconfig",
  "fsmount",
  "fsopen",
  "fspick",
  "get_kernel_syms",
  "init_module",
  "io_uring_enter",
  "io_uring_register",
  "io_uring_setup",
  "ioperm",
  "iopl",
  "kcmp",
  "kexec_file_load",
  "kexec_load",
  "keyctl",
  "lookup_dcookie",
  "memfd_secret",
  "mount",
  "mount_setattr",
  "move_mount",
  "name_to_handle_at",
  "nfsservctl",
  "open_by_handle_at",
  "open_tree",
  "perf_event_open",
  "pivot_root",
  "process_vm_readv",
  "process_vm_writev",
  "ptrace",
  "query_module",
  "quotactl",
  "quotactl_fd",
  "reboot",
  "request_key",
  "setns",
  "settimeofday",
  "stime",
  "swapoff",
  "swapon",
  "sysfs",
  "_sysctl",
  "umount",
  "umount2",
  "unshare",
  "uselib",
  "userfaultfd",
  "ustat",
  "vm86",
  "vm86old",
];

/** The namespace flags `clone` may not carry under the default profile. */
const CLONE_NAMESPACE_FLAGS = {
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
} as const;

const EPERM = 1;
const ENOSYS = 38;

/** `AF_VSOCK`: vsock sockets are not namespaced (they reach the hypervisor). */
const AF_VSOCK = 40;

/**
 * The `personality` values Docker's profile allows (`PER_LINUX`,
 * `PER_LINUX32`, `UNAME26`, `UNAME26|PER_LINUX32`, and the query
 * `0xffffffff`); any other (e.g. `READ_IMPLIES_EXEC`, `ADDR_NO_RANDOMIZE`)
 * is EPERM.
 */
export const ALLOWED_PERSONALITIES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** The seccomp architectures for this host (native plus its 32-bit ABIs). */
function architectures(): string[] {
  return Deno.build.arch === "aarch64"
    ? ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    : ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
}

/** One seccomp comparison of a syscall argument. */
interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/**
 * The comparisons of `personality`'s argument that mean "not one of
 * {@linkcode ALLOWED_PERSONALITIES}", each its own rule (runc splits two
 * comparisons of one argument into two or-ed rules, so "≠ a and ≠ b" cannot
 * be written): any value over 32 bits, and each gap between the allowed
 * values cut into aligned power-of-two blocks, each matched by
 * `(arg & mask) == start`.
 */
export function personalityDenials(): SeccompArg[] {
  const out: SeccompArg[] = [{ index: 0, value: 0xffffffff, op: "SCMP_CMP_GT" }];
  const allowed = [...ALLOWED_PERSONALITIES].sort((a, b) => a - b);
  for (let i = 0; i + 1 < allowed.length; i++) {
    let lo = allowed[i]! + 1;
    const hi = allowed[i + 1]! - 1;
    while (lo <= hi) {
      let size = 1;
      while (lo % (size * 2) === 0 && lo + size * 2 - 1 <= hi) size *= 2;
      out.push({ index: 0, value: 0x100000000 - size, valueTwo: lo, op: "SCMP_CMP_MASKED_EQ" });
      lo += size;
    }
  }
  return out;
}

/**
 * berth's default seccomp profile (OCI `linux.seccomp`): allow by default;
 * EPERM for {@linkcode BLOCKED_SYSCALLS}, for `clone` with any namespace
 * flag, for `socket(AF_VSOCK, …)` and for `personality` with a value not in
 * {@linkcode ALLOWED_PERSONALITIES}; ENOSYS for `clone3`, whose flags a
 * filter cannot read (libc then falls back to `clone`, which is checked).
 */
export function defaultSeccomp(): Record<string, unknown> {
  const syscalls: Record<string, unknown>[] = [
    { names: [...BLOCKED_SYSCALLS], action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
  ];
  // One rule per flag (rules are or-ed, a rule's args and-ed): EPERM when
  // arg 0 has that bit set. For MASKED_EQ, value is the mask, valueTwo the datum.
  for (const flag of Object.values(CLONE_NAMESPACE_FLAGS)) {
    syscalls.push({
      names: ["clone"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: EPERM,
      args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }],
    });
  }
  syscalls.push({
    names: ["socket"],
    action: "SCMP_ACT_ERRNO",
    errnoRet: EPERM,
    args: [{ index: 0, value: AF_VSOCK, op: "SCMP_CMP_EQ" }],
  });
  for (const arg of personalityDenials()) {
    syscalls.push({
      names: ["personality"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: EPERM,
      args: [arg],
    });
  }
  return { defaultAction: "SCMP_ACT_ALLOW", architectures: architectures(), syscalls };
}

/** What `--security-opt seccomp=…` asked for. */
export type SeccompChoice =
  | { kind: "default" }
  | { kind: "unconfined" }
  | { kind: "file"; path: string };

/** The security options of `create`/`run`. */
export interface SecurityOptions {
  /** `--privileged`. */
  privileged: boolean;
  /** `--security-opt seccomp=…`. */
  seccomp: SeccompChoice;
}

/** No `--privileged`, no `--security-opt`. */
export const DEFAULT_SECURITY: SecurityOptions = {
  privileged: false,
  seccomp: { kind: "default" },
};

/**
 * Parses the `--security-opt` values (`seccomp=unconfined` or
 * `seccomp=FILE`); anything else is InvalidArgument.
 */
export function parseSecurityOpts(values: readonly string[], privileged: boolean): SecurityOptions {
  let seccomp: SeccompChoice = { kind: "default" };
  for (const v of values) {
    const m = /^seccomp[=:](.+)$/.exec(v);
    if (m === null) {
      throw new InvalidArgument(
        `--security-opt "${v}" is not supported (use seccomp=unconfined or seccomp=FILE)`,
      );
    }
    seccomp = m[1] === "unconfined" ? { kind: "unconfined" } : { kind: "file", path: m[1]! };
  }
  return { privileged, seccomp };
}

/** Reads and checks a seccomp profile file (OCI `linux.seccomp` form). */
export async function readSeccompFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) throw new Error("not a regular file");
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new InvalidArgument(`cannot read seccomp profile ${path}: ${(err as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgument(`invalid seccomp profile ${path}: ${(err as Error).message}`);
  }
  if (
    typeof v !== "object" || v === null || Array.isArray(v) ||
    typeof (v as { defaultAction?: unknown }).defaultAction !== "string"
  ) {
    throw new InvalidArgument(`invalid seccomp profile ${path}: "defaultAction" is missing`);
  }
  const syscalls = (v as { syscalls?: unknown }).syscalls;
  if (syscalls !== undefined && !Array.isArray(syscalls)) {
    throw new InvalidArgument(`invalid seccomp profile ${path}: "syscalls" must be an array`);
  }
  return v as Record<string, unknown>;
}

/** True when /sys/fs/cgroup is the unified hierarchy (cgroup v2). */
export function isCgroupV2(): boolean {
  try {
    Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
    return true;
  } catch {
    return false;
  }
}

/** What {@linkcode applySecurity} needs besides the options. */
export interface SecurityHost {
  /** The host runs cgroup v2 (a private cgroup namespace is added). */
  cgroupV2: boolean;
  /** Capabilities a `--privileged` container gets (default: {@linkcode hostCapabilities}). */
  capabilities?: readonly string[];
  /** The profile of `--security-opt seccomp=FILE`, already read. */
  seccompProfile?: Record<string, unknown>;
}

/**
 * Applies berth's defaults and the security options to `c` (in place):
 * the default seccomp profile unless the config has one (a FILE replaces
 * it, `unconfined` removes it), the default pids limit unless one is set,
 * the extra masked paths, a private cgroup namespace on cgroup v2.
 * `--privileged`: no seccomp, every capability berth has, no masked or read-only
 * paths, every device allowed, writable /sys.
 */
export function applySecurity(c: OciConfig, o: SecurityOptions, host: SecurityHost): OciConfig {
  const linux = (c.linux ??= {});
  const resources = (linux.resources ??= {}) as Record<string, unknown>;
  const pids = (resources.pids ??= {}) as { limit?: number };
  if (typeof pids.limit !== "number") pids.limit = DEFAULT_PIDS_LIMIT;
  const namespaces = Array.isArray(linux.namespaces)
    ? linux.namespaces as { type: string; path?: string }[]
    : (linux.namespaces = []) as { type: string }[];
  if (host.cgroupV2 && !namespaces.some((n) => n.type === "cgroup")) {
    namespaces.push({ type: "cgroup" });
  }
  if (o.privileged) {
    delete linux.seccomp;
    c.process = c.process ?? {};
    c.process.capabilities = capabilitySets(host.capabilities ?? hostCapabilities());
    c.process.noNewPrivileges = false;
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
    resources.devices = [{ allow: true, access: "rwm" }];
    const mounts = Array.isArray(c.mounts)
      ? c.mounts as { destination: string; options?: string[] }[]
      : [];
    for (const m of mounts) {
      if (m.destination === "/sys" || m.destination === "/sys/fs/cgroup") {
        m.options = (m.options ?? []).filter((x) => x !== "ro").concat("rw");
      }
    }
    return c;
  }
  if (o.seccomp.kind === "unconfined") delete linux.seccomp;
  else if (o.seccomp.kind === "file") linux.seccomp = structuredClone(host.seccompProfile);
  else if (linux.seccomp === undefined) linux.seccomp = defaultSeccomp();
  if (Array.isArray(linux.maskedPaths)) {
    const masked = linux.maskedPaths as string[];
    for (const p of EXTRA_MASKED_PATHS) if (!masked.includes(p)) masked.push(p);
  } else {
    linux.maskedPaths = [...EXTRA_MASKED_PATHS];
  }
  return c;
}
