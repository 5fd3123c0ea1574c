/**
 * berth's long-lived helper processes (the monitor of a root, the host's
 * resolver): the same berth binary with a hidden command, detached into a
 * session of its own, with none of the starting CLI's environment but
 * berth's own settings and where Deno keeps its cache. One recipe for both,
 * so what a helper inherits is decided in one place.
 *
 * @module
 */

/** The PATH of a helper (and of what it runs), whoever started it. */
export const HELPER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * A helper's whole environment: it serves every user of the host or root,
 * so none of the caller's environment (its PATH, its secrets) reaches it,
 * only `BERTH_*`, `DENO_DIR` and `HOME`; its V8 flags come after the
 * caller's `DENO_V8_FLAGS`; one malloc arena (a helper is one busy thread).
 */
export function helperEnv(env: Record<string, string>, v8Flags: string): Record<string, string> {
  const out: Record<string, string> = { PATH: HELPER_PATH };
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("BERTH_") || k === "DENO_DIR" || k === "HOME") out[k] = v;
  }
  const inherited = env["DENO_V8_FLAGS"];
  out.DENO_V8_FLAGS = inherited ? `${inherited},${v8Flags}` : v8Flags;
  out.MALLOC_ARENA_MAX = "1";
  return out;
}

/**
 * A helper's command line: this berth's own (`self`), with Deno's V8 code
 * cache switched off when it runs under `deno run`. A helper runs with
 * other V8 flags, and V8 rejects a code cache made under other flags: one
 * a helper stored for the bundle was rejected by every CLI process after
 * it, each compiling the whole bundle again (about 6 ms of start-up).
 */
export function helperArgv(self: readonly string[]): string[] {
  const [exe, sub, ...rest] = self;
  if (sub !== "run") return [...self];
  return [exe!, sub, "--no-code-cache", ...rest];
}

/** Starts `self` with `args` as a detached helper; does not wait for it. */
export function spawnHelper(self: readonly string[], args: string[], v8Flags: string): void {
  const [exe, ...pre] = helperArgv(self);
  const child = new Deno.Command(exe!, {
    args: [...pre, ...args],
    clearEnv: true,
    env: helperEnv(Deno.env.toObject(), v8Flags),
    cwd: "/",
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  // The child handle is never awaited: the helper outlives this process.
  child.status.catch(() => {});
}
