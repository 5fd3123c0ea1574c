// /proc helpers (lib/host/proc.ts): cgroup membership of a process.
import { assertTrue } from "./assert.ts";
import { inCgroup } from "../lib/host/proc.ts";

Deno.test("inCgroup() matches the container's cgroup in v1 and v2 lines only", () => {
  const text = "8:pids:/berth/abc/default/c1\n0::/berth/abc/default/c1/sub\n";
  assertTrue(inCgroup(1, "/berth/abc/default/c1", text));
  assertTrue(!inCgroup(1, "/berth/abc/default/c", text));
  assertTrue(!inCgroup(1, "/berth/abc/default/c1", "0::/\n"));
  assertTrue(!inCgroup(Deno.pid, "/berth/abc/default/c1"));
});
