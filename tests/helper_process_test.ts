// lib/host/helper_process.ts: what a long-lived helper (monitor, resolver) inherits.
import { assertEquals } from "./assert.ts";
import { HELPER_PATH, helperArgv, helperEnv } from "../lib/host/helper_process.ts";

Deno.test("helperEnv: only BERTH_*, DENO_DIR and HOME pass; the helper's V8 flags follow the caller's", () => {
  const env = helperEnv({
    PATH: "/home/u/bin",
    SECRET: "x",
    BERTH_ROOT: "/r",
    DENO_DIR: "/d",
    HOME: "/root",
    DENO_V8_FLAGS: "--a",
  }, "--b,--c");
  assertEquals(env, {
    PATH: HELPER_PATH,
    BERTH_ROOT: "/r",
    DENO_DIR: "/d",
    HOME: "/root",
    DENO_V8_FLAGS: "--a,--b,--c",
    MALLOC_ARENA_MAX: "1",
  });
  assertEquals(helperEnv({}, "--z").DENO_V8_FLAGS, "--z");
});

Deno.test("helperArgv: no code cache under deno run; a compiled binary as it is", () => {
  assertEquals(helperArgv(["/usr/bin/deno", "run", "-A", "/b/main.ts"]), [
    "/usr/bin/deno",
    "run",
    "--no-code-cache",
    "-A",
    "/b/main.ts",
  ]);
  assertEquals(helperArgv(["/usr/local/bin/berth"]), ["/usr/local/bin/berth"]);
});
