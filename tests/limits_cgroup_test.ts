/** The cgroup reader on made-up v1 and v2 trees (the layouts of each version's files). */

import { assertEquals } from "./assert.ts";
import {
  cgroupFile,
  cgroupFrozen,
  cgroupVersion,
  oomKills,
  sampleCgroup,
  setCgroupFrozen,
  swapAccounting,
} from "../lib/limits/_cgroup.ts";

function tree(files: Record<string, string>): string {
  const root = Deno.makeTempDirSync({ prefix: "berth-cgroup-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(full, text);
  }
  return root;
}

const P = "/berth/abc/default/c1";

Deno.test("cgroup v2: unified files", () => {
  const root = tree({
    "cgroup.controllers": "cpu memory pids io\n",
    "system.slice/memory.swap.max": "max\n",
    [`${P.slice(1)}/cpu.stat`]: "usage_usec 2500\nuser_usec 2000\n",
    [`${P.slice(1)}/memory.current`]: "10485760\n",
    [`${P.slice(1)}/memory.stat`]: "anon 100\ninactive_file 1048576\n",
    [`${P.slice(1)}/memory.max`]: "16777216\n",
    [`${P.slice(1)}/memory.events`]: "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    [`${P.slice(1)}/pids.current`]: "3\n",
    [`${P.slice(1)}/pids.max`]: "max\n",
    [`${P.slice(1)}/io.stat`]: "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n",
  });
  try {
    assertEquals(cgroupVersion(root), 2);
    assertEquals(swapAccounting(root), true);
    assertEquals(cgroupFile(P, "memory.limit", root), `${root}${P}/memory.max`);
    assertEquals(oomKills(P, root), 1);
    assertEquals(sampleCgroup(P, root), {
      cpuNs: 2_500_000,
      memoryUsage: 10485760 - 1048576,
      memoryLimit: 16777216,
      pids: 3,
      pidsLimit: null,
      blockRead: 101,
      blockWrite: 202,
    });
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("cgroup v1: one hierarchy per controller", () => {
  const root = tree({
    [`cpuacct${P}/cpuacct.usage`]: "123456789\n",
    [`memory${P}/memory.usage_in_bytes`]: "5000000\n",
    [`memory${P}/memory.stat`]: "cache 0\ntotal_inactive_file 1000000\n",
    [`memory${P}/memory.limit_in_bytes`]: "9223372036854771712\n",
    [`memory${P}/memory.oom_control`]: "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    [`pids${P}/pids.current`]: "5\n",
    [`pids${P}/pids.max`]: "2048\n",
    [`blkio${P}/blkio.throttle.io_service_bytes`]:
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n",
  });
  try {
    assertEquals(cgroupVersion(root), 1);
    assertEquals(swapAccounting(root), false);
    assertEquals(cgroupFile(P, "cpu.quota", root), `${root}/cpu${P}/cpu.cfs_quota_us`);
    assertEquals(oomKills(P, root), 2);
    assertEquals(sampleCgroup(P, root), {
      cpuNs: 123456789,
      memoryUsage: 4000000,
      memoryLimit: null,
      pids: 5,
      pidsLimit: 2048,
      blockRead: 4096,
      blockWrite: 8192,
    });
    // A cgroup that is gone reads as unknown, never throws.
    assertEquals(sampleCgroup("/nope", root).memoryUsage, null);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("the freezer: v1 freezer.state, v2 cgroup.freeze; a missing cgroup is null/false", () => {
  const v1 = tree({ [`freezer${P}/freezer.state`]: "THAWED\n" });
  const v2 = tree({ "cgroup.controllers": "cpu\n", [`${P.slice(1)}/cgroup.freeze`]: "0\n" });
  try {
    for (
      const [root, file, frozen] of [
        [v1, `${v1}/freezer${P}/freezer.state`, "FROZEN"],
        [v2, `${v2}${P}/cgroup.freeze`, "1"],
      ] as const
    ) {
      assertEquals(cgroupFrozen(P, root), false);
      assertEquals(setCgroupFrozen(P, true, root), true);
      assertEquals(Deno.readTextFileSync(file), frozen);
      assertEquals(cgroupFrozen(P, root), true);
      assertEquals(setCgroupFrozen(P, false, root), true);
      assertEquals(cgroupFrozen(P, root), false);
      assertEquals(cgroupFrozen("/berth/none", root), null);
      assertEquals(setCgroupFrozen("/berth/none", true, root), false);
    }
    Deno.writeTextFileSync(`${v1}/freezer${P}/freezer.state`, "FREEZING\n");
    assertEquals(cgroupFrozen(P, v1), true);
  } finally {
    Deno.removeSync(v1, { recursive: true });
    Deno.removeSync(v2, { recursive: true });
  }
});
