// The runtime client's error mapping and bounded calls, with a scripted runner.
import { tempDir } from "./temp_dir.ts";
import { assertEquals, assertRejects } from "./assert.ts";
import { Exists, NotFound, RuntimeError, WrongState } from "../lib/host/errors.ts";
import { denoRunner, type ExecRequest, type ProcessRunner } from "../lib/host/process.ts";
import {
  lastLogError,
  mapRuntimeError,
  OciRuntime,
  resolveRuntimeOnUse,
} from "../lib/host/runtime.ts";

Deno.test("lastLogError takes the last error line of a JSON log", () => {
  const log = [
    `{"level":"info","msg":"hello"}`,
    `{"level":"error","msg":"first"}`,
    `{"level":"warning","msg":"w"}`,
    `{"level":"error","msg":"container does not exist"}`,
    "",
  ].join("\n");
  assertEquals(lastLogError(log), "container does not exist");
  assertEquals(lastLogError(`{"level":"info","msg":"x"}`), null);
});

Deno.test("runtime messages map to domain errors carrying the message", () => {
  const nf = mapRuntimeError("start", "a", "container does not exist");
  assertEquals(nf instanceof NotFound, true);
  assertEquals(nf.message, `start "a": runtime: container does not exist`);
  assertEquals(
    mapRuntimeError("create", "a", "container with id exists: already exists") instanceof Exists,
    true,
  );
  assertEquals(mapRuntimeError("pause", "a", "container not running") instanceof WrongState, true);
  assertEquals(
    mapRuntimeError("start", "a", "cannot start a container that has stopped") instanceof
      WrongState,
    true,
  );
  assertEquals(mapRuntimeError("x", "a", "permission denied") instanceof RuntimeError, true);
});

Deno.test("a failing runtime call throws the error from its JSON log", async () => {
  await using tmpDir = await tempDir();
  const dir = tmpDir.path;
  const logFile = `${dir}/log.json`;
  const runner: ProcessRunner = {
    async exec(req: ExecRequest) {
      const at = req.argv.indexOf("--log");
      await Deno.writeTextFile(
        req.argv[at + 1]!,
        `{"level":"error","msg":"container does not exist"}\n`,
        {
          append: true,
        },
      );
      return { code: 1, stdout: "", stderr: "ignored", timedOut: false };
    },
  };
  const rt = new OciRuntime("runc", runner);
  await assertRejects(() => rt.start({ root: dir, id: "a", logFile }), NotFound, "does not exist");
  // delete treats a container the runtime does not know as done.
  await rt.delete({ root: dir, id: "a", logFile }, true);
});

Deno.test("a runtime that hangs is killed after the timeout", async () => {
  await using tmpDir = await tempDir();
  const dir = tmpDir.path;
  const script = `${dir}/hang`;
  await Deno.writeTextFile(script, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
  const rt = new OciRuntime(script, denoRunner, { timeoutMs: 200 });
  const t0 = performance.now();
  await assertRejects(
    () => rt.pause({ root: dir, id: "a", logFile: `${dir}/l` }),
    RuntimeError,
    "did not answer",
  );
  assertEquals(performance.now() - t0 < 5000, true);
});

Deno.test({
  name: "a missing runtime binary is a clear error",
  sanitizeResources: false, // create spawns through libc, which stays open
}, async () => {
  const rt = new OciRuntime("/nonexistent/runc", denoRunner);
  await assertRejects(() => rt.version(), RuntimeError, "not found");
  await assertRejects(
    () =>
      rt.create({ root: "/tmp", id: "a", logFile: "/dev/null" }, "/tmp", "/tmp/p", {
        stdout: "/dev/null",
        stderr: "/dev/null",
      }),
    RuntimeError,
    "not found",
  );
});

Deno.test("resolveRuntimeOnUse: the PATH is searched on the first read only, an unknown name stays", async () => {
  await using dir = await tempDir();
  const bin = `${dir.path}/bin`;
  Deno.mkdirSync(bin);
  const o = { runtime: "fakerunc" };
  resolveRuntimeOnUse(o, `/nonexistent:${bin}`);
  // Not looked up yet: a binary that appears only now is found at the first read.
  Deno.writeTextFileSync(`${bin}/fakerunc`, "#!/bin/sh\n");
  Deno.chmodSync(`${bin}/fakerunc`, 0o755);
  assertEquals(o.runtime, `${bin}/fakerunc`);
  Deno.removeSync(`${bin}/fakerunc`);
  assertEquals(o.runtime, `${bin}/fakerunc`, "kept after the first read");
  o.runtime = "/other/runc";
  assertEquals(o.runtime, "/other/runc");
  const missing = { runtime: "no-such-runtime" };
  resolveRuntimeOnUse(missing, bin);
  assertEquals(missing.runtime, "no-such-runtime");
  const rt = new OciRuntime(() => o.runtime, denoRunner);
  assertEquals(rt.binary, "/other/runc");
});
