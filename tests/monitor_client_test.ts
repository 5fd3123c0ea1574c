// The monitor's command line and environment, as the client starts it.
import { assertEquals } from "./assert.ts";
import { MONITOR_PATH, MONITOR_V8_FLAGS, monitorArgv, monitorEnv } from "../lib/monitor/client.ts";

Deno.test("monitorArgv: under deno run the code cache is off; a compiled binary is left as it is", () => {
  const self = ["/usr/bin/deno", "run", "-A", "--quiet", "--no-prompt", "/opt/berth/dist/berth.js"];
  assertEquals(monitorArgv(self), [
    "/usr/bin/deno",
    "run",
    "--no-code-cache",
    "-A",
    "--quiet",
    "--no-prompt",
    "/opt/berth/dist/berth.js",
  ]);
  assertEquals(self.length, 6, "the caller's argv is not changed");
  assertEquals(monitorArgv(["/usr/local/bin/berth"]), ["/usr/local/bin/berth"]);
});

Deno.test("monitorEnv: only BERTH_*, DENO_DIR and HOME pass; the monitor's V8 flags come after the caller's", () => {
  const env = monitorEnv({
    PATH: "/home/u/bin:/usr/bin",
    BERTH_ROOT: "/run/x",
    DENO_DIR: "/cache",
    HOME: "/root",
    SECRET: "s",
    DENO_V8_FLAGS: "--max-old-space-size=64",
  });
  assertEquals(env, {
    PATH: MONITOR_PATH,
    BERTH_ROOT: "/run/x",
    DENO_DIR: "/cache",
    HOME: "/root",
    DENO_V8_FLAGS: `--max-old-space-size=64,${MONITOR_V8_FLAGS}`,
    MALLOC_ARENA_MAX: "1",
  });
  assertEquals(monitorEnv({}).DENO_V8_FLAGS, MONITOR_V8_FLAGS);
});
