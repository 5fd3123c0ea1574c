// The events log: concurrent writers, rotation, following.
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { assertEquals, assertTrue } from "../assert.ts";
import { berth, berthArgv, berthOk, withRoots } from "../helpers.ts";
import { appendEvent, eventsPaths } from "../../lib/container/events.ts";

const WORKER = fromFileUrl(new URL("../fixtures/worker.ts", import.meta.url));

async function writers(data: string, procs: number, each: number, max: number): Promise<void> {
  const children = [...Array(procs)].map((_, p) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", WORKER, "events", data, String(each), String(max), `w${p}`],
      stdout: "null",
      stderr: "inherit",
    }).output()
  );
  for (const r of await Promise.all(children)) assertEquals(r.code, 0);
}

/** Every line of a log file, each parsed (throws on a torn or interleaved line). */
async function lines(path: string): Promise<{ action: string }[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  assertTrue(text === "" || text.endsWith("\n"), `${path} ends mid-line`);
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("concurrent writers never tear or interleave event lines, and none is lost", async () => {
  const data = await Deno.makeTempDir();
  try {
    await writers(data, 6, 300, 1 << 30);
    const events = await lines(join(data, "events.log"));
    assertEquals(events.length, 6 * 300);
    for (let p = 0; p < 6; p++) {
      // Each writer's own events are all there, in order.
      const mine = events.filter((e) => e.action.startsWith(`w${p} `)).map((e) =>
        Number(e.action.split(" ")[1])
      );
      assertEquals(mine, [...Array(300).keys()]);
    }
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("the log is rotated under concurrent writers: bounded, two files, whole lines", async () => {
  const data = await Deno.makeTempDir();
  try {
    const max = 20_000;
    await writers(data, 6, 300, max);
    const current = await lines(join(data, "events.log"));
    const old = await lines(join(data, "events.log.1"));
    assertTrue(old.length > 0, "rotated at least once");
    const names = (await Array.fromAsync(Deno.readDir(data))).map((e) => e.name).sort();
    assertEquals(names.filter((n) => n.startsWith("events.log")), ["events.log", "events.log.1"]);
    // A writer appends, then rotates: at most one line per writer over the bound.
    for (const f of ["events.log", "events.log.1"]) {
      assertTrue((await Deno.stat(join(data, f))).size <= max + 6 * 400, `${f} too big`);
    }
    assertTrue(current.length + old.length > 0);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("a full log whose rotation cannot happen still takes the event (past the bound)", async () => {
  const data = await Deno.makeTempDir();
  try {
    const paths = eventsPaths(data);
    await Deno.writeTextFile(paths.log, `${JSON.stringify({ type: "create", n: 0 })}\n`.repeat(50));
    const full = (await Deno.stat(paths.log)).size;
    // Another process holds events.lock exclusively, as a stuck rotation would.
    const holder = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", WORKER, "hold", paths.lock, "10000"],
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.getReader();
    assertEquals(new TextDecoder().decode((await reader.read()).value).trim(), "locked");
    reader.releaseLock();
    const event = { time: "t", type: "gc" as const, namespace: null, id: "kept" };
    await appendEvent(data, event, { maxBytes: full - 10 });
    holder.kill("SIGKILL");
    await holder.output();
    const all = await lines(paths.log);
    assertEquals(all.length, 51, "appended, not rotated and not dropped");
    assertEquals((all.at(-1) as unknown as { id: string }).id, "kept");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("events -f follows new events until interrupted; --since filters", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "--rootfs", rootfs, "old", "--", "true"]);
    await new Promise((r) => setTimeout(r, 1100));
    const since = await berthOk(roots, ["events", "--format", "json", "--since", "1s"]);
    assertEquals(since, "");
    const [exe, ...pre] = berthArgv();
    const follower = new Deno.Command(exe!, {
      args: [...pre, "events", "-f", "--format", "json"],
      env: roots.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await new Promise((r) => setTimeout(r, 400));
    const r = await berth(roots, [
      "run",
      "--rm",
      "--rootfs",
      rootfs,
      "new",
      "--",
      "sh",
      "-c",
      "exit 4",
    ]);
    assertEquals(r.code, 4);
    await new Promise((r) => setTimeout(r, 400));
    follower.kill("SIGINT");
    const out = await follower.output();
    assertEquals(out.code, 0);
    const seen = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
    // History first, then what happened while following.
    assertEquals(seen.map((e) => `${e.type} ${e.id}`), [
      "create old",
      "start old",
      "exit old",
      "create new",
      "start new",
      "exit new",
      "delete new",
    ]);
    assertEquals(seen.find((e) => e.type === "exit" && e.id === "new").exitCode, 4);
  });
});
