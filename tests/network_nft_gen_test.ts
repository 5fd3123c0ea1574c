// lib/network/_nft_gen.ts: nf_tables' generation ID and the marks that spare a listing.
import { assertEquals, assertTrue } from "./assert.ts";
import { loadNetworkFfi } from "../lib/network/_ffi.ts";
import {
  advanceMarks,
  markCurrent,
  nftGeneration,
  readMark,
  removeAllMarks,
  writeMark,
} from "../lib/network/_nft_gen.ts";

// The generation is read through FFI: the library is opened here, not in a test.
loadNetworkFfi();

Deno.test("marks: current only at their generation; advanced by exactly berth's commits, payload kept; pruned when old; removeAllMarks keeps other namespaces'", () => {
  const dir = Deno.makeTempDirSync();
  try {
    writeMark("bth-a", 5, dir);
    writeMark(".ports", 5, dir, '{"x":1}');
    assertTrue(markCurrent("bth-a", 5, dir));
    assertTrue(!markCurrent("bth-a", 6, dir) && !markCurrent("bth-a", null, dir));
    assertEquals(readMark(".ports", 5, dir), '{"x":1}');
    // Two commits of berth's: 5 → 7.
    advanceMarks(5, 7, 2, dir);
    assertTrue(markCurrent("bth-a", 7, dir) && !markCurrent("bth-a", 5, dir));
    assertEquals(readMark(".ports", 7, dir), '{"x":1}');
    // An edit of the payload goes with the advance (a delete's freed ports), by mark name.
    advanceMarks(7, 8, 1, dir, (name, p) => name === ".ports" ? p.replace("1", "2") : p);
    assertEquals(readMark(".ports", 8, dir), '{"x":2}');
    assertTrue(markCurrent("bth-a", 8, dir));
    // Another program's commit among them: not advanced.
    advanceMarks(8, 11, 2, dir, () => "edited");
    assertEquals(readMark(".ports", 8, dir), '{"x":2}');
    advanceMarks(8, 7, 1, dir);
    assertTrue(markCurrent("bth-a", 8, dir));
    advanceMarks(7, 10, 2, dir);
    assertTrue(markCurrent("bth-a", 8, dir) && !markCurrent("bth-a", 10, dir));
    // Another namespace's mark stays with removeAllMarks; an old one goes at the next write.
    Deno.writeTextFileSync(`${dir}/bth-other`, "0:1 8\n");
    Deno.writeTextFileSync(`${dir}/bth-old`, "0:2 3\n");
    const old = new Date(Date.now() - 2 * 3600_000);
    Deno.utimeSync(`${dir}/bth-old`, old, old);
    writeMark("bth-b", 8, dir);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      ".ports",
      "bth-a",
      "bth-b",
      "bth-other",
    ]);
    removeAllMarks(dir);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["bth-other"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "nftGeneration: moves with an iptables change (nf_tables variant)",
  ignore: Deno.uid() !== 0 || nftGeneration() === null,
  fn: async () => {
    const before = nftGeneration()!;
    const chain = `BERTH-GEN-${Deno.pid}`;
    const ipt = (args: string[]) => new Deno.Command("iptables", { args, stderr: "null" }).output();
    assertEquals((await ipt(["-t", "nat", "-N", chain])).code, 0);
    try {
      const after = nftGeneration()!;
      assertTrue(after !== before, `${before} → ${after}`);
    } finally {
      await ipt(["-t", "nat", "-X", chain]);
    }
  },
});
