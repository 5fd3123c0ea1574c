// lib/image/_node.ts: where the node modules come from, and that they load.
import { assertEquals, assertTrue } from "./assert.ts";
import { besideThisModule, loadNode, nodeSync } from "../lib/image/_node.ts";

Deno.test("besideThisModule: the TypeScript entry in a checkout, its bundle beside a bundle", () => {
  assertEquals(
    besideThisModule("_node_entry.ts", "berth-node.js", "file:///src/berth/lib/image/_node.ts"),
    "file:///src/berth/lib/image/_node_entry.ts",
  );
  assertEquals(
    besideThisModule("node_entry.ts", "berth-node.js", "file:///opt/berth/dist/berth.js"),
    "file:///opt/berth/dist/berth-node.js",
  );
});

Deno.test("loadNode: node-tar, crypto and zlib load once, and nodeSync hands them out", async () => {
  const [a, b] = await Promise.all([loadNode(), loadNode()]);
  assertTrue(a === b, "one load for concurrent callers");
  assertTrue(nodeSync() === a);
  assertEquals(typeof a.tar.UnpackSync, "function");
  assertEquals(typeof a.zlib.createZstdDecompress, "function");
  assertEquals(typeof a.stream.Duplex.toWeb, "function");
  assertEquals(a.crypto.createHash("sha256").update("abc").digest("hex").slice(0, 8), "ba7816bf");
  assertEquals(a.Buffer.from("hi").toString("hex"), "6869");
});
