/** host/log_trim.ts on real files: collapse (ext4 here), the copy fallback, and readers across trims. */

import { assertEquals, assertTrue as assert } from "./assert.ts";
import { EOPNOTSUPP, ErrnoError, type Libc, libc } from "../lib/host/libc.ts";
import { droppedFile, readDropped, readLogFrom, trimLog } from "../lib/host/log_trim.ts";
import { drain, openLog } from "../lib/host/log_follow.ts";

const noCollapse = {
  ...libc,
  collapseRange: () => {
    throw new ErrnoError("fallocate", EOPNOTSUPP);
  },
} as Libc;

function lines(from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += `line ${String(i).padStart(6, "0")}\n`;
  return s;
}

for (const [name, lib] of [["collapse", libc], ["copy", noCollapse]] as const) {
  Deno.test({
    name:
      `trim (${name}): drops the oldest down to about half the cap, keeps the newest, counts what went`,
    // The real libc's FFI library stays open for the process (see libc.ts).
    sanitizeResources: false,
  }, () => {
    const dir = Deno.makeTempDirSync({ prefix: "berth-logtrim-" });
    try {
      const log = `${dir}/stdout.log`;
      const all = lines(0, 20_000); // 240 000 bytes
      Deno.writeTextFileSync(log, all);
      assertEquals(trimLog(log, 300_000, lib), null); // under the cap: nothing
      const r = trimLog(log, 100_000, lib)!;
      const fsSupportsCollapse = r.method === "collapse";
      if (name === "copy") assertEquals(r.method, "copy");
      // ext4 (here and in CI; `stat -f` names it ext2/ext3) collapses.
      const fsType = new TextDecoder().decode(
        new Deno.Command("stat", { args: ["-f", "-c", "%T", dir] }).outputSync().stdout,
      ).trim();
      if (name === "collapse" && fsType === "ext2/ext3") assertEquals(r.method, "collapse");
      const kept = Deno.readTextFileSync(log);
      // Half the cap, plus less than a block where the cut is block-aligned.
      assert(kept.length <= 50_000 + 4096 && kept.length >= 50_000, `kept ${kept.length}`);
      assertEquals(all.slice(all.length - kept.length), kept); // exactly the newest bytes
      assertEquals(readDropped(log), all.length - kept.length);
      assertEquals(r.dropped, all.length - kept.length);
      if (fsSupportsCollapse) assertEquals(r.dropped % 4096, 0);
      // Appending goes on at the end; a second trim adds to the count.
      Deno.writeTextFileSync(log, lines(20_000, 30_000), { append: true });
      const r2 = trimLog(log, 100_000, lib)!;
      assertEquals(readDropped(log), r.dropped + r2.dropped);
      const now = Deno.readTextFileSync(log);
      assert(now.endsWith(lines(29_999, 30_000)), "newest kept");
      assertEquals(Deno.readTextFileSync(droppedFile(log)).trim(), String(readDropped(log)));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("a reader by logical offset carries on across a trim: to the end, from the oldest byte left", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "berth-logtrim-" });
  try {
    const log = `${dir}/stdout.log`;
    Deno.writeTextFileSync(log, lines(0, 1000));
    const file = (await openLog(log))!;
    let got = "";
    const write = (b: Uint8Array) => (got += new TextDecoder().decode(b));
    await drain(file, write);
    // More output, a trim of what was read and some of what was not, more output.
    Deno.writeTextFileSync(log, lines(1000, 30_000), { append: true });
    const buf = new Uint8Array(1000);
    const partial = readLogFrom(file, log, got.length, buf); // read a little
    got += new TextDecoder().decode(buf.subarray(0, partial.n));
    trimLog(log, 50_000, libc);
    Deno.writeTextFileSync(log, lines(30_000, 30_100), { append: true });
    // drain's own offset is behind: it resumes where it was, or at the oldest byte still there.
    const rest = readLogFrom(file, log, partial.next, new Uint8Array(1 << 20));
    const all = lines(0, 30_100);
    const dropped = readDropped(log);
    assert(dropped > partial.next, "the trim dropped unread output");
    assertEquals(rest.next, all.length); // read to the end
    assertEquals(rest.n, all.length - dropped); // from the oldest byte still there
    // A reader that was not behind the trim misses nothing: drain from where `got` ends.
    assertEquals(got, all.slice(0, got.length));
    file.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
