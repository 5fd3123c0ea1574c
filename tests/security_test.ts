// berth's container security defaults (lib/host/security.ts): the default
// seccomp profile, pids limit, masked paths, cgroup namespace, capability
// sets, and what --privileged and --security-opt change.
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import {
  ALLOWED_PERSONALITIES,
  applySecurity,
  BLOCKED_SYSCALLS,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_SECURITY,
  defaultSeccomp,
  hostCapabilities,
  parseSecurityOpts,
  personalityDenials,
  PODMAN_CAPABILITIES,
  readSeccompFile,
} from "../lib/host/security.ts";
import { defaultSpec, type OciConfig } from "../lib/host/spec.ts";

type Rule = { names: string[]; action: string; errnoRet?: number; args?: unknown[] };

Deno.test("the default profile allows by default and refuses Docker's blocked syscalls", () => {
  const p = defaultSeccomp() as { defaultAction: string; syscalls: Rule[] };
  assertEquals(p.defaultAction, "SCMP_ACT_ALLOW");
  const eperm = p.syscalls.filter((r) => r.errnoRet === 1 && r.args === undefined)
    .flatMap((r) => r.names);
  for (
    const name of [
      "add_key",
      "keyctl",
      "bpf",
      "kexec_load",
      "init_module",
      "mount",
      "umount2",
      "pivot_root",
      "unshare",
      "setns",
      "ptrace",
      "process_vm_readv",
      "perf_event_open",
      "userfaultfd",
      "open_by_handle_at",
      "swapon",
      "reboot",
      "clock_settime",
      "acct",
      "quotactl",
    ]
  ) assertTrue(eperm.includes(name), name);
  assertEquals(eperm, [...BLOCKED_SYSCALLS]);
  // clone: one EPERM rule per namespace flag (mask == datum), clone3 ENOSYS.
  const clone = p.syscalls.filter((r) => r.names.includes("clone"));
  assertEquals(clone.length, 7);
  for (const r of clone) {
    const [a] = r.args as { index: number; value: number; valueTwo: number; op: string }[];
    assertEquals([a!.index, a!.op, a!.value === a!.valueTwo], [0, "SCMP_CMP_MASKED_EQ", true]);
  }
  assertTrue(clone.some((r) => (r.args![0] as { value: number }).value === 0x10000000));
  assertEquals(p.syscalls.find((r) => r.names.includes("clone3"))?.errnoRet, 38);
  // Docker's allow-list leaves these out.
  for (const name of ["io_uring_setup", "io_uring_enter", "io_uring_register", "memfd_secret"]) {
    assertTrue(eperm.includes(name), name);
  }
  const socket = p.syscalls.filter((r) => r.names.includes("socket"));
  assertEquals(socket, [{
    names: ["socket"],
    action: "SCMP_ACT_ERRNO",
    errnoRet: 1,
    args: [{ index: 0, value: 40, op: "SCMP_CMP_EQ" }],
  }]);
});

/** Whether the or-ed one-comparison rules of `personalityDenials` refuse `v` (a BigInt, 64 bits). */
function personalityDenied(v: bigint): boolean {
  return personalityDenials().some((a) =>
    a.op === "SCMP_CMP_GT"
      ? v > BigInt(a.value)
      : a.op === "SCMP_CMP_MASKED_EQ" && (v & BigInt(a.value)) === BigInt(a.valueTwo!)
  );
}

Deno.test("personality: only Docker's five values pass, each rule one comparison", () => {
  const p = defaultSeccomp() as { syscalls: Rule[] };
  const rules = p.syscalls.filter((r) => r.names.includes("personality"));
  assertEquals(rules.length, personalityDenials().length);
  for (const r of rules) assertEquals([r.args!.length, r.errnoRet], [1, 1]);
  for (const v of ALLOWED_PERSONALITIES) assertEquals(personalityDenied(BigInt(v)), false, `${v}`);
  const denied = [1, 7, 9, 0x40000, 0x400000, 0x20001, 0x20007, 0x20009, 0x1ffff, 0x20010];
  for (const v of [...denied, 0x0fffffff, 0x80000000, 0xfffffffe, 0x100000000, 2 ** 40]) {
    assertTrue(personalityDenied(BigInt(v)), v.toString(16));
  }
  // Every value around each allowed one (the blocks cover the gaps exactly).
  const allowed = new Set(ALLOWED_PERSONALITIES);
  const near = (lo: number, hi: number) => Array.from({ length: hi - lo }, (_, i) => lo + i);
  for (
    const v of [...near(0, 0x200), ...near(0x1ff00, 0x20200), ...near(0xffffff00, 0x100000010)]
  ) {
    assertEquals(personalityDenied(BigInt(v)), !allowed.has(v), v.toString(16));
  }
});

Deno.test("defaults: seccomp, pids 2048, powercap masked; what is given is kept", () => {
  const spec = defaultSpec();
  assertTrue(spec.linux?.seccomp !== undefined);
  assertEquals((spec.linux?.resources as { pids: { limit: number } }).pids.limit, 2048);
  assertTrue((spec.linux?.maskedPaths as string[]).includes("/sys/devices/virtual/powercap"));
  assertTrue((spec.linux?.maskedPaths as string[]).includes("/proc/kcore"));
  // A pids limit already set (--pids-limit, or the user's config) wins.
  const mine: OciConfig = { process: {}, root: { path: "rootfs" } };
  mine.linux = { resources: { pids: { limit: 10 } }, seccomp: { defaultAction: "SCMP_ACT_LOG" } };
  applySecurity(mine, DEFAULT_SECURITY, { cgroupV2: false });
  assertEquals((mine.linux.resources as { pids: { limit: number } }).pids.limit, 10);
  assertEquals(mine.linux.seccomp, { defaultAction: "SCMP_ACT_LOG" });
  const bare: OciConfig = { process: {}, root: { path: "rootfs" } };
  applySecurity(bare, DEFAULT_SECURITY, { cgroupV2: false });
  assertEquals(
    (bare.linux?.resources as { pids: { limit: number } }).pids.limit,
    DEFAULT_PIDS_LIMIT,
  );
  assertEquals(bare.linux?.seccomp, defaultSeccomp());
});

Deno.test("cgroup v2 adds a private cgroup namespace; v1 does not", () => {
  const types = (c: OciConfig) => (c.linux?.namespaces as { type: string }[]).map((n) => n.type);
  const v2 = applySecurity(defaultSpec(), DEFAULT_SECURITY, { cgroupV2: true });
  assertEquals(types(v2), ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
  const v1 = applySecurity(defaultSpec(), DEFAULT_SECURITY, { cgroupV2: false });
  assertEquals(types(v1), ["pid", "network", "ipc", "uts", "mount"]);
});

Deno.test("--privileged and --security-opt change exactly what the README says", () => {
  const p = applySecurity(defaultSpec(), parseSecurityOpts([], true), {
    cgroupV2: false,
    capabilities: ["CAP_SYS_ADMIN", "CAP_KILL"],
  });
  assertEquals(p.linux?.seccomp, undefined);
  assertEquals((p.process?.capabilities as { bounding: string[] }).bounding, [
    "CAP_SYS_ADMIN",
    "CAP_KILL",
  ]);
  assertEquals(p.linux?.maskedPaths, []);
  assertEquals(p.linux?.readonlyPaths, []);
  assertEquals((p.linux?.resources as { devices: unknown }).devices, [{
    allow: true,
    access: "rwm",
  }]);
  const u = applySecurity(defaultSpec(), parseSecurityOpts(["seccomp=unconfined"], false), {
    cgroupV2: false,
  });
  assertEquals(u.linux?.seccomp, undefined);
  assertTrue((u.linux?.maskedPaths as string[]).length > 0);
  const f = applySecurity(defaultSpec(), parseSecurityOpts(["seccomp=/p.json"], false), {
    cgroupV2: false,
    seccompProfile: { defaultAction: "SCMP_ACT_ERRNO" },
  });
  assertEquals(f.linux?.seccomp, { defaultAction: "SCMP_ACT_ERRNO" });
  assertThrows(() => parseSecurityOpts(["label=disable"], false), InvalidArgument, "not supported");
  assertThrows(() => parseSecurityOpts(["seccomp="], false), InvalidArgument);
});

Deno.test("a seccomp profile file must be an object with defaultAction", async () => {
  const dir = await Deno.makeTempDir();
  const write = (body: string) => Deno.writeTextFile(`${dir}/p.json`, body);
  await write("[]");
  await assertRejects(() => readSeccompFile(`${dir}/p.json`), InvalidArgument, "defaultAction");
  await write("{nope");
  await assertRejects(() => readSeccompFile(`${dir}/p.json`), InvalidArgument, "invalid");
  await assertRejects(() => readSeccompFile(dir), InvalidArgument, "not a regular file");
  await write('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}');
  assertEquals((await readSeccompFile(`${dir}/p.json`)).defaultAction, "SCMP_ACT_ALLOW");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("capabilities: podman's list for images; --privileged gets the bounding set", () => {
  assertEquals(PODMAN_CAPABILITIES.length, 11);
  assertTrue(
    PODMAN_CAPABILITIES.includes("CAP_SETUID") && PODMAN_CAPABILITIES.includes("CAP_CHOWN"),
  );
  // CapBnd without bit 24 (CAP_SYS_RESOURCE), as in a container.
  const caps = hostCapabilities("Name:\tx\nCapBnd:\t000001fffeffffff\n");
  assertEquals(caps.length, 40);
  assertTrue(!caps.includes("CAP_SYS_RESOURCE") && caps.includes("CAP_SYS_ADMIN"));
  assertEquals(hostCapabilities("CapBnd:\t0000000000000021\n"), ["CAP_CHOWN", "CAP_KILL"]);
});
