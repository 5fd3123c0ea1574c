import { join } from "../lib/_std/path.ts";
import { assertEquals, assertThrows, assertTrue } from "./assert.ts";
import { concat, tarOf } from "./image_fixture.ts";
import { ArchiveMembers, ArchiveSlimmer, SLIM_AT } from "../lib/image/_archive_members.ts";

function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

Deno.test("archive members: big regular members reach the unpacker empty and read back whole from the archive, through a hard link too; small ones and pax-named ones pass as they were", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-members-" });
  try {
    const big = noise(SLIM_AT + 1000);
    const big2 = noise(3 * SLIM_AT);
    const longName = `d/${"n".repeat(150)}.tar`;
    const archive = tarOf([
      { name: "d/", type: "dir" },
      { name: "d/small.json", data: '{"a":1}' },
      { name: "d/big.tar", data: big },
      { name: "d/link.tar", type: "hardlink", linkname: "d/big.tar" },
      { name: "d/short-header-name", data: big2, pax: { path: longName } },
      { name: "d/replaced", data: noise(SLIM_AT) },
      { name: "d/replaced", data: "now small" },
    ]);
    const file = join(dir, "a.tar");
    Deno.writeFileSync(file, archive);
    // Odd chunk sizes: headers and data split anywhere.
    const slim = new ArchiveSlimmer();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < archive.length; i += 777) {
      parts.push(...slim.write(archive.subarray(i, Math.min(archive.length, i + 777))));
    }
    const out = concat(parts);
    assertTrue(out.length < archive.length - big.length - big2.length, `${out.length}`);
    Deno.writeFileSync(join(dir, "slim.tar"), out);
    const x = join(dir, "x");
    Deno.mkdirSync(x);
    const r = await new Deno.Command("tar", { args: ["-xf", join(dir, "slim.tar"), "-C", x] })
      .output();
    assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
    assertEquals(Deno.statSync(join(x, "d/big.tar")).size, 0); // the placeholder
    const m = new ArchiveMembers(file, x, slim);
    assertEquals(m.read(join(x, "d/big.tar")), big);
    assertEquals(m.read(join(x, "d/link.tar")), big);
    assertEquals(m.size(join(x, longName)), big2.length);
    const streamed = new Uint8Array(await new Response(m.stream(join(x, longName))).arrayBuffer());
    assertEquals(streamed, big2);
    assertEquals(new TextDecoder().decode(m.read(join(x, "d/small.json"))), '{"a":1}');
    assertEquals(new TextDecoder().decode(m.read(join(x, "d/replaced"))), "now small");
    // A directory (no archive): files are read as they are.
    const plain = new ArchiveMembers(null, x, null);
    assertEquals(plain.read(join(x, "d/big.tar")).length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("archive members: an archive cut short inside a left-out member reads as malformed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-members-" });
  try {
    const archive = tarOf([{ name: "big", data: noise(2 * SLIM_AT) }]);
    const cut = archive.subarray(0, 512 + SLIM_AT);
    const file = join(dir, "a.tar");
    Deno.writeFileSync(file, cut);
    const slim = new ArchiveSlimmer();
    const out = concat(slim.write(cut));
    assertEquals(out.length, 512); // the header alone, size 0
    const x = join(dir, "x");
    Deno.mkdirSync(x);
    Deno.writeFileSync(join(x, "big"), new Uint8Array());
    const m = new ArchiveMembers(file, x, slim);
    let err: unknown = null;
    try {
      m.read(join(x, "big"));
    } catch (e) {
      err = e;
    }
    assertTrue(err instanceof Error && /cut short/.test(err.message), String(err));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("archive members: the data of a left-out member can be passed over unread (droppable, skipped), with the same output and ranges as reading it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-members-" });
  try {
    const big = noise(SLIM_AT + 1000);
    const big2 = noise(5 * SLIM_AT + 3);
    const archive = tarOf([
      { name: "d/", type: "dir" },
      { name: "d/a.json", data: '{"a":1}' },
      { name: "d/big.tar", data: big },
      { name: "d/long", data: big2, pax: { path: `d/${"n".repeat(150)}.tar` } },
      { name: "d/z.json", data: '{"z":2}' },
    ]);
    const file = join(dir, "a.tar");
    Deno.writeFileSync(file, archive);
    // Read whole, in chunks of 777 bytes.
    const whole = new ArchiveSlimmer();
    const wholeParts: Uint8Array[] = [];
    for (let i = 0; i < archive.length; i += 777) {
      wholeParts.push(...whole.write(archive.subarray(i, Math.min(archive.length, i + 777))));
    }
    // Read from the file, passing over what is droppable by seeking.
    const seek = new ArchiveSlimmer();
    const seekParts: Uint8Array[] = [];
    let read = 0, passed = 0;
    using f = Deno.openSync(file);
    while (true) {
      const skip = seek.droppable;
      if (skip > 0) {
        f.seekSync(skip, Deno.SeekMode.Current);
        seek.skipped(skip);
        passed += skip;
        continue;
      }
      const c = new Uint8Array(777);
      const n = f.readSync(c);
      if (n === null) break;
      read += n;
      seekParts.push(...seek.write(c.subarray(0, n)));
    }
    assertEquals(concat(seekParts), concat(wholeParts));
    assertEquals([...seek.last], [...whole.last]);
    assertEquals(read + passed, archive.length);
    // Most of both big members was never read (a chunk's worth of each is, at most).
    assertTrue(passed > big.length + big2.length - 2 * 777, `passed ${passed}`);
    assertThrows(() => seek.skipped(1), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
