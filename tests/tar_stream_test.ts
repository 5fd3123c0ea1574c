// The tar writer and reader of `cp -` (host/tar_stream.ts): a round trip of
// a tree with long names and link targets (pax), and a broken stream failing.
import { join } from "node:path";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { tempDir } from "./temp_dir.ts";
import { closeFd, O_NOFOLLOW, O_PATH, openAt } from "../lib/host/at_file.ts";
import { readTar, writeTar } from "../lib/host/tar_stream.ts";

closeFd(-1); // loads the library before the tests (it stays loaded)

async function tarOf(path: string, name: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const fd = openAt(-100, path, O_PATH | O_NOFOLLOW);
  try {
    // deno-lint-ignore require-await
    await writeTar(fd, name, async (c) => void chunks.push(c.slice()));
  } finally {
    closeFd(fd);
  }
  return new Uint8Array(chunks.flatMap((c) => [...c]));
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (let i = 0; i < bytes.length; i += 700) c.enqueue(bytes.slice(i, i + 700));
      c.close();
    },
  });
}

async function entries(bytes: Uint8Array) {
  const out: { path: string; type: string; mode: number; link: string; text: string }[] = [];
  for await (const e of readTar(streamOf(bytes))) {
    const text = await new Response(e.data).text();
    out.push({ path: e.path, type: e.type, mode: e.stat.mode & 0o7777, link: e.linkname, text });
  }
  return out;
}

Deno.test("tar round trip: long names and link targets, modes, file bytes", async () => {
  await using dir = await tempDir();
  const long = "d".repeat(120);
  const root = join(dir.path, "t");
  await Deno.mkdir(join(root, long), { recursive: true });
  const big = "x".repeat(70_000);
  await Deno.writeTextFile(join(root, long, "f"), big);
  await Deno.chmod(join(root, long, "f"), 0o640);
  await Deno.symlink("/" + "l".repeat(150), join(root, "link"));
  const got = await entries(await tarOf(root, "t"));
  assertEquals(got.map((e) => [e.path, e.type]), [
    ["t", "dir"],
    [`t/${long}`, "dir"],
    [`t/${long}/f`, "file"],
    ["t/link", "symlink"],
  ]);
  assertEquals(got[2]!.text, big);
  assertEquals(got[2]!.mode, 0o640);
  assertEquals(got[3]!.link, "/" + "l".repeat(150));
  // An entry whose data is not read is skipped over.
  const paths: string[] = [];
  for await (const e of readTar(streamOf(await tarOf(root, "t")))) paths.push(e.path);
  assertEquals(paths.length, 4);
});

Deno.test("a cut stream or a bad checksum is an error", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "f"), "y".repeat(5000));
  const tar = await tarOf(join(dir.path, "f"), "f");
  const cut = tar.slice(0, 2048);
  const e1 = await assertRejects(() => entries(cut), Error);
  assertTrue(e1.message.includes("ends inside"), e1.message);
  const bad = tar.slice();
  bad[10] = bad[10]! ^ 1; // a byte of the first header's name
  const e2 = await assertRejects(() => entries(bad), Error);
  assertTrue(e2.message.includes("checksum"), e2.message);
});
