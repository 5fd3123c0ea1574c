// lib/host/atomic_file.ts: writeBeside and the journal gc reads.
import { join } from "../lib/_std/path.ts";
import { assertEquals, assertRejects } from "./assert.ts";
import { removeAbandonedTemps, writeBeside, writeFileAtomic } from "../lib/host/atomic_file.ts";
import { RuntimeError } from "../lib/host/errors.ts";

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const p = new Deno.Command("true").spawn();
  await p.status;
  return p.pid;
}

Deno.test("writeBeside: the file appears whole; a failed write leaves neither temp nor record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const journal = join(dir, "journal");
    const out = join(dir, "out.tar");
    await writeBeside(out, "out.tar", async (f) => {
      await f.write(new TextEncoder().encode("data"));
    }, { journal });
    assertEquals(Deno.readTextFileSync(out), "data");
    assertEquals([names(dir), names(journal)], [["journal", "out.tar"], []]);
    const e = await assertRejects(
      () =>
        writeBeside(join(dir, "bad.tar"), "bad.tar", () => Promise.reject(new Error("full")), {
          journal,
        }),
      RuntimeError,
    );
    assertEquals(e.message, "cannot write bad.tar: full");
    assertEquals([names(dir), names(journal)], [["journal", "out.tar"], []]);
    // A missing directory is refused before the journal is even made.
    const fresh = join(dir, "fresh-journal");
    await assertRejects(
      () =>
        writeBeside(join(dir, "no/x.tar"), "no/x.tar", () => Promise.resolve(), { journal: fresh }),
      RuntimeError,
      "cannot write no/x.tar: ",
    );
    assertEquals(names(dir), ["journal", "out.tar"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("removeAbandonedTemps removes the recorded temp of a dead writer only, never another name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const journal = join(dir, "journal");
    Deno.mkdirSync(journal);
    const dead = await deadPid();
    const record = (pid: number, rand: string, temp: string) =>
      Deno.writeTextFileSync(
        join(journal, `${pid}-${rand}`),
        JSON.stringify({ temp, pid, pidStartTime: null }),
      );
    const temp = join(dir, `.x.tar.tmp-${dead}-0000aaaa`);
    Deno.writeTextFileSync(temp, "partial");
    record(dead, "0000aaaa", temp);
    // A record naming a path that is not its own temp: the path is kept.
    Deno.writeTextFileSync(join(dir, "precious"), "p");
    record(dead, "0000bbbb", join(dir, "precious"));
    // A live writer's temp is its own business.
    const live = join(dir, `.y.tar.tmp-${Deno.pid}-0000cccc`);
    Deno.writeTextFileSync(live, "writing");
    record(Deno.pid, "0000cccc", live);
    assertEquals(removeAbandonedTemps(journal, true), [temp]);
    assertEquals(names(dir).length, 4);
    assertEquals(removeAbandonedTemps(journal, false), [temp]);
    assertEquals(names(dir), [`.y.tar.tmp-${Deno.pid}-0000cccc`, "journal", "precious"]);
    assertEquals(names(journal), [`${Deno.pid}-0000cccc`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic: durable: false writes and renames without the fsyncs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "rec.json");
    const steps: string[] = [];
    await writeFileAtomic(path, "one", { onStep: (s) => steps.push(s) });
    assertEquals(steps, ["written", "synced", "renamed"]);
    steps.length = 0;
    await writeFileAtomic(path, "two", { durable: false, onStep: (s) => steps.push(s) });
    assertEquals(steps, ["written", "renamed"]);
    assertEquals(Deno.readTextFileSync(path), "two");
    assertEquals(names(dir), ["rec.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
