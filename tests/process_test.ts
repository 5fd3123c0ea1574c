// lib/host/process.ts and spawn.ts: the runner, and a child whose output is appended to files.
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { denoRunner } from "../lib/host/process.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { tempDir } from "./temp_dir.ts";

const link = (fd: number) => Deno.readLinkSync(`/proc/self/fd/${fd}`);

Deno.test({
  name: "outputFiles: a child's output is appended, and its children's after it returns",
  sanitizeResources: false, // libc stays open for the process
}, async () => {
  await using dir = await tempDir();
  const out = `${dir.path}/out.log`, err = `${dir.path}/err.log`;
  Deno.writeTextFileSync(out, "before\n");
  const [one, two] = [link(1), link(2)];
  const r = await denoRunner.exec({
    argv: [
      "sh",
      "-c",
      'echo out; echo "$EXTRA" >&2; readlink /proc/self/fd/0 >&2; (sleep 0.3; echo late) & exit 3',
    ],
    timeoutMs: 10_000,
    outputFiles: { stdout: out, stderr: err },
    env: { EXTRA: "err" },
  });
  // It returned when the shell exited, not when its background child did
  // (no pipe is held open): the late line comes afterwards, to the file.
  assertEquals([r.code, r.stdout, r.stderr, r.timedOut], [3, "", "", false]);
  assertEquals(Deno.readTextFileSync(err), "err\n/dev/null\n");
  assertEquals(Deno.readTextFileSync(out), "before\nout\n");
  for (let i = 0; i < 100 && !Deno.readTextFileSync(out).includes("late"); i++) {
    await new Promise((res) => setTimeout(res, 20));
  }
  assertEquals(Deno.readTextFileSync(out), "before\nout\nlate\n");
  assertEquals(Deno.statSync(err).mode! & 0o777, 0o644);
  // This process's own descriptors 1 and 2 are what they were.
  assertEquals([link(1), link(2)], [one, two]);
});

Deno.test({
  name: "a file that cannot be opened, or a missing program, is a RuntimeError; nothing runs",
  sanitizeResources: false,
}, async () => {
  await using dir = await tempDir();
  const [one, two] = [link(1), link(2)];
  const marker = `${dir.path}/ran`;
  await assertRejects(
    () =>
      denoRunner.exec({
        argv: ["/bin/sh", "-c", `touch ${marker}`],
        timeoutMs: 10_000,
        outputFiles: { stdout: `${dir.path}/out.log`, stderr: `${dir.path}/missing/err.log` },
      }),
    RuntimeError,
    "cannot open",
  );
  assertEquals([link(1), link(2)], [one, two]);
  let ran = true;
  try {
    Deno.statSync(marker);
  } catch {
    ran = false;
  }
  assertTrue(!ran, "the command did not run");
  await assertRejects(
    () =>
      denoRunner.exec({
        argv: ["/nonexistent/program"],
        timeoutMs: 10_000,
        outputFiles: { stdout: `${dir.path}/out.log`, stderr: `${dir.path}/err.log` },
      }),
    RuntimeError,
    "not found",
  );
});

Deno.test({
  name: "a child with output files that outlives its timeout is killed",
  sanitizeResources: false,
}, async () => {
  await using dir = await tempDir();
  const t0 = performance.now();
  const r = await denoRunner.exec({
    argv: ["sleep", "30"],
    timeoutMs: 200,
    outputFiles: { stdout: `${dir.path}/o`, stderr: `${dir.path}/e` },
  });
  assertEquals([r.code, r.timedOut], [137, true]);
  assertTrue(performance.now() - t0 < 10_000);
});

Deno.test({
  name:
    "detachWhen: exec resolves once the child's stderr says so, not at its exit; the child ends on its own; otherwise it is waited for",
  sanitizeResources: false, // the detached child is reaped in the background
  sanitizeOps: false,
}, async () => {
  await using dir = await tempDir();
  const flag = `${dir.path}/ended`;
  const r = await denoRunner.exec({
    argv: ["sh", "-c", `echo out; echo 'line 3 failed' >&2; sleep 1; touch ${flag}`],
    timeoutMs: 10_000,
    stdout: "null",
    detachWhen: (e) => e.includes("line 3 failed"),
  });
  assertEquals([r.code, r.stderr, r.detached], [0, "line 3 failed\n", true]);
  assertTrue(!exists(flag), "it returned while the child still ran");
  for (let i = 0; i < 150 && !exists(flag); i++) await new Promise((res) => setTimeout(res, 20));
  assertTrue(exists(flag), "the child ran to its end");
  // Never true: an ordinary exec, the exit status and stderr.
  const w = await denoRunner.exec({
    argv: ["sh", "-c", "echo nope >&2; exit 4"],
    timeoutMs: 10_000,
    detachWhen: () => false,
  });
  assertEquals([w.code, w.stderr, w.detached], [4, "nope\n", undefined]);
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
