import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import {
  applyLimits,
  humanSize,
  parseCpus,
  parseLimits,
  parseMemory,
  parsePidsLimit,
  updateFlags,
} from "../lib/limits/_parse.ts";
import { applySecurity, DEFAULT_PIDS_LIMIT, parseSecurityOpts } from "../lib/host/security.ts";
import { defaultSpec } from "../lib/host/spec.ts";

Deno.test("--memory has a minimum of 6m", () => {
  assertThrows(() => parseMemory("4m"), InvalidArgument, "minimum of 6m");
  assertEquals(parseMemory("6m"), 6 * 1024 ** 2);
});

Deno.test("cpus and pids limits", () => {
  assertEquals(parseCpus("1.5"), 1.5);
  assertEquals(parseCpus(".5"), 0.5);
  for (const bad of ["0", "0.001", "-1", "1e3", "two", "", "2000"]) {
    assertThrows(() => parseCpus(bad), InvalidArgument, "--cpus");
  }
  assertEquals(parsePidsLimit("-1"), -1);
  assertEquals(parsePidsLimit("100"), 100);
  for (const bad of ["0", "-2", "1.5", "ten", "", "01", "99999999"]) {
    assertThrows(() => parsePidsLimit(bad), InvalidArgument, "--pids-limit");
  }
  assertEquals(parseLimits({ memory: undefined, cpus: undefined, pidsLimit: undefined }), {});
});

Deno.test("applyLimits writes linux.resources; a given pids limit survives the security default", () => {
  const config = defaultSpec();
  applyLimits(config, { memory: 16 << 20, cpus: 0.25, pidsLimit: 7 }, { swapAccounting: true });
  applySecurity(config, parseSecurityOpts([], false), { cgroupV2: false });
  const r = config.linux!.resources as Record<string, Record<string, number>>;
  assertEquals(r.memory, { limit: 16 << 20, swap: 16 << 20 });
  assertEquals(r.cpu, { quota: 25000, period: 100000 });
  assertEquals(r.pids!.limit, 7);
  const plain = defaultSpec();
  applyLimits(plain, {}, { swapAccounting: true });
  applySecurity(plain, parseSecurityOpts([], false), { cgroupV2: false });
  const pr = plain.linux!.resources as Record<string, Record<string, number>>;
  assertEquals([pr.pids!.limit, pr.memory], [DEFAULT_PIDS_LIMIT, undefined]);
  const noSwap = defaultSpec();
  applyLimits(noSwap, { memory: 16 << 20 }, { swapAccounting: false });
  assertEquals((noSwap.linux!.resources as Record<string, unknown>).memory, { limit: 16 << 20 });
});

Deno.test("updateFlags: the runc update command line", () => {
  assertEquals(
    updateFlags({ memory: 1 << 30, cpus: 1.5, pidsLimit: -1 }, { swapAccounting: true }),
    [
      "--memory",
      String(1 << 30),
      "--memory-swap",
      String(1 << 30),
      "--cpu-period",
      "100000",
      "--cpu-quota",
      "150000",
      "--pids-limit",
      "-1",
    ],
  );
  assertEquals(updateFlags({ memory: 1 << 30 }, { swapAccounting: false }), [
    "--memory",
    String(1 << 30),
  ]);
  assertEquals(humanSize(16 << 20), "16.0MiB");
  assertEquals(humanSize(12), "12B");
});
