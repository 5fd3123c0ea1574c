// Locks between real OS processes.
import { tempDir } from "./temp_dir.ts";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { Locked } from "../lib/host/errors.ts";
import { FileLock } from "../lib/host/lock.ts";
import { Paths } from "../lib/container/paths.ts";
import { StateStore } from "../lib/container/state_file.ts";
import { sampleState } from "./fixtures/worker.ts";

const WORKER = fromFileUrl(new URL("./fixtures/worker.ts", import.meta.url));

function worker(args: string[], stdout: "piped" | "null" = "piped"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", WORKER, ...args],
    stdout,
    stderr: "piped",
  }).spawn();
}

/** Resolves once the child printed `line`. */
async function waitForLine(child: Deno.ChildProcess, line: string): Promise<void> {
  const reader = child.stdout.getReader();
  let text = "";
  const dec = new TextDecoder();
  try {
    while (!text.includes(line)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`child ended before printing ${line}: ${text}`);
      text += dec.decode(value);
    }
  } finally {
    reader.releaseLock();
  }
}

Deno.test("N processes incrementing one state file under the lock lose no update", async () => {
  await using tmpRoot = await tempDir();
  const root = tmpRoot.path;
  const store = new StateStore(new Paths(root, root));
  await Deno.mkdir(join(root, "ns/default/containers/c"), { recursive: true });
  await store.save(sampleState(root, 0));
  const procs = 6, each = 25;
  const children = Array.from(
    { length: procs },
    () => worker(["increment", root, String(each)], "null"),
  );
  const results = await Promise.all(children.map(async (c) => {
    const out = await c.output();
    return out.code;
  }));
  assertEquals(results, Array(procs).fill(0));
  const s = await store.load("default", "c");
  assertEquals(s.labels.counter, String(procs * each));
});

Deno.test("a held lock blocks another process, whose bounded wait fails with Locked", async (t) => {
  await using tmpDir = await tempDir();
  const dir = tmpDir.path;
  const path = join(dir, "c.lock");
  const holder = worker(["hold", path, "1500"]);
  await waitForLine(holder, "locked");
  await t.step("the waiter times out with the locked error (exit 1)", async () => {
    const t0 = performance.now();
    const out = await worker(["try", path, "300"]).output();
    const took = performance.now() - t0;
    assertEquals(out.code, 1);
    assertTrue(new TextDecoder().decode(out.stdout).includes(`container "c" is locked`));
    assertTrue(took >= 300, `gave up after ${took} ms`);
  });
  await t.step("a waiter with a longer wait gets it once the holder lets go", async () => {
    const out = await worker(["try", path, "10000"]).output();
    assertEquals(new TextDecoder().decode(out.stdout).trim(), "acquired");
  });
  await holder.output();
});

Deno.test("a process SIGKILLed while holding the lock releases it", async () => {
  await using tmpDir = await tempDir();
  const dir = tmpDir.path;
  const path = join(dir, "c.lock");
  const holder = worker(["hold", path]);
  await waitForLine(holder, "locked");
  assertEquals(await FileLock.tryAcquire(path), null);
  holder.kill("SIGKILL");
  await holder.output();
  const lock = await FileLock.acquire(path, "c", { timeoutMs: 2000 });
  lock.release();
});

Deno.test("removing a lock file under the lock never lets two holders in", async () => {
  await using tmpDir = await tempDir();
  const dir = tmpDir.path;
  const path = join(dir, "c.lock");
  const first = await FileLock.acquire(path, "c");
  // A waiter opens the current inode and polls.
  const waiting = FileLock.acquire(path, "c", { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 30));
  await first.releaseAndRemove();
  // Someone else takes the lock on the path's new file meanwhile.
  const third = await FileLock.tryAcquire(path);
  const second = await Promise.race([
    waiting,
    new Promise<null>((r) => setTimeout(() => r(null), 300)),
  ]);
  // The waiter must not hold the old inode's lock while `third` holds the new one.
  if (third !== null) {
    assertEquals(second, null, "two holders at once");
    third.release();
  }
  const w = await waiting;
  assertTrue(w.held);
  w.release();
});

Deno.test("locks of different containers are independent", async () => {
  await using tmpDir = await tempDir();
  const dir = tmpDir.path;
  const a = await FileLock.acquire(join(dir, "a.lock"), "a");
  const b = await FileLock.acquire(join(dir, "b.lock"), "b", { timeoutMs: 100 });
  await assertRejects(() => FileLock.acquire(join(dir, "a.lock"), "a", { timeoutMs: 50 }), Locked);
  a.release();
  b.release();
});

Deno.test("acquireExisting never creates the lock file, nor recreates one its holder removed", async () => {
  await using tmpDir = await tempDir();
  const path = join(tmpDir.path, "c.lock");
  assertEquals(await FileLock.acquireExisting(path, "c"), null);
  await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
  const first = await FileLock.acquire(path, "c");
  // A waiter on the existing file, whose holder then removes it (a delete).
  const waiting = FileLock.acquireExisting(path, "c", { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 30));
  await first.releaseAndRemove();
  assertEquals(await waiting, null);
  await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
  // An existing, free file is locked as acquire does.
  const again = await FileLock.acquire(path, "c");
  again.release();
  const held = await FileLock.acquireExisting(path, "c");
  assertTrue(held !== null && held.held);
  assertEquals(await FileLock.tryAcquire(path), null);
  held!.release();
});
