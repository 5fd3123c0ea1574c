// printable: text from outside made safe for a terminal.
import { assertEquals } from "./assert.ts";
import { printable } from "../lib/host/printable.ts";
import { table } from "../lib/cli/commands/format.ts";

Deno.test("every C0, DEL and C1 control character becomes \\xNN; the rest stays", () => {
  let all = "";
  for (let c = 0; c < 0x20; c++) all += String.fromCharCode(c);
  assertEquals(
    printable(all),
    [...Array(0x20).keys()].map((c) => `\\x${c.toString(16).padStart(2, "0")}`).join(""),
  );
  assertEquals(printable("\x7f\u0080\u009b\u009f"), "\\x7f\\x80\\x9b\\x9f");
  assertEquals(printable("plain ünïcode ✓ \u00a0"), "plain ünïcode ✓ \u00a0");
});

Deno.test("table cells are printable, and columns line up on what is printed", () => {
  assertEquals(table([["A", "B"], ["x\x1b[2J", "y\n"]]), "A         B\nx\\x1b[2J  y\\x0a\n");
});
