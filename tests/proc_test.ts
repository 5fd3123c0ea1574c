// /proc helpers (lib/host/proc.ts): cgroup membership of a process, processes by environment.
import { assertEquals, assertTrue } from "./assert.ts";
import { inCgroup, pidsWithEnv } from "../lib/host/proc.ts";

Deno.test("inCgroup() matches the container's cgroup in v1 and v2 lines only", () => {
  const text = "8:pids:/berth/abc/default/c1\n0::/berth/abc/default/c1/sub\n";
  assertTrue(inCgroup(1, "/berth/abc/default/c1", text));
  assertTrue(!inCgroup(1, "/berth/abc/default/c", text));
  assertTrue(!inCgroup(1, "/berth/abc/default/c1", "0::/\n"));
  assertTrue(!inCgroup(Deno.pid, "/berth/abc/default/c1"));
});

Deno.test("pidsWithEnv finds a process by one exact entry of the environment it started with", async () => {
  const value = `v-${crypto.randomUUID()}`;
  const child = new Deno.Command("sleep", {
    args: ["30"],
    env: { BERTH_TEST_MARK: value, OTHER: "x" },
  }).spawn();
  try {
    assertEquals(pidsWithEnv("BERTH_TEST_MARK", value), [child.pid]);
    assertEquals(pidsWithEnv("BERTH_TEST_MARK", value.slice(0, -1)), []);
    assertEquals(pidsWithEnv("TEST_MARK", value), []);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  // A zombie or a process gone counts no more.
  assertEquals(pidsWithEnv("BERTH_TEST_MARK", value), []);
});
