// lib/monitor/log_trimmer.ts on a real state store and real files: when the
// monitor looks at a container's logs, and that it keeps them under the cap.
import { assertEquals, assertTrue } from "./assert.ts";
import { createContext } from "../lib/container/context.ts";
import { parseGlobals } from "../lib/container/globals.ts";
import { logFiles } from "../lib/container/paths.ts";
import { LogTrimmer, TRIM_FIRST_POLL_MS, TRIM_POLL_MS } from "../lib/monitor/log_trimmer.ts";
import { sampleState } from "./fixtures/worker.ts";
import { tempDir } from "./temp_dir.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const size = (p: string) => Deno.statSync(p).size;

async function withTrimmer(
  maxSize: number,
  fn: (t: LogTrimmer, logs: { stdout: string; stderr: string }) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir("berth-trimmer-");
  const { globals } = parseGlobals(
    ["--root", `${dir.path}/run`, "--data-root", `${dir.path}/data`],
    () => undefined,
  );
  const ctx = createContext(globals);
  await Deno.mkdir(ctx.paths.bundleDir("default", "c"), { recursive: true });
  await ctx.store.save({ ...sampleState(`${dir.path}/run`, 0), logMaxSize: maxSize });
  const logs = logFiles(ctx.paths.workDir("default", "c"));
  await Deno.mkdir(ctx.paths.workDir("default", "c"), { recursive: true });
  Deno.writeFileSync(logs.stdout, new Uint8Array());
  Deno.writeFileSync(logs.stderr, new Uint8Array());
  const t = new LogTrimmer(ctx, () => {});
  try {
    await fn(t, logs);
  } finally {
    t.stop();
  }
}

// libc's file group is opened on the first trim and kept (like lib/host/libc.ts everywhere).
const OPTS = { sanitizeResources: false };

Deno.test(
  "a container that writes from its first instant is trimmed within tens of ms, not a slow round",
  OPTS,
  async () => {
    assertTrue(
      TRIM_FIRST_POLL_MS * 3 < TRIM_POLL_MS,
      "the first checks come well before a slow round",
    );
    await withTrimmer(64 * 1024, async (t, logs) => {
      t.add("default", "c");
      await sleep(5); // the cap is read from the state
      Deno.writeFileSync(logs.stdout, new Uint8Array(1 << 20).fill(0x61), { append: true });
      // Checked at 20 ms after add (then 40 later): trimmed long before 200 ms.
      await sleep(TRIM_FIRST_POLL_MS * 3 + 10);
      assertTrue(size(logs.stdout) <= 64 * 1024, `stdout ${size(logs.stdout)}`);
      assertEquals(size(logs.stderr), 0);
    });
  },
);

Deno.test(
  "a log growing fast is kept near its cap; a trim keeps its newest bytes",
  OPTS,
  async () => {
    await withTrimmer(256 * 1024, async (t, logs) => {
      t.add("default", "c");
      let peak = 0;
      const chunk = new Uint8Array(32 * 1024);
      for (let i = 0; i < 200; i++) {
        chunk.fill(0x30 + (i % 10));
        Deno.writeFileSync(logs.stdout, chunk, { append: true }); // 6.4 MB over 1 s
        peak = Math.max(peak, size(logs.stdout));
        await sleep(5);
      }
      assertTrue(peak < 4 * 256 * 1024, `peak ${peak}`);
      t.remove("default", "c"); // trims a last time
      const data = Deno.readFileSync(logs.stdout);
      assertTrue(data.length <= 256 * 1024 && data.length > 0, `final ${data.length}`);
      assertEquals(data[data.length - 1], 0x30 + (199 % 10), "the newest byte is kept");
    });
  },
);
