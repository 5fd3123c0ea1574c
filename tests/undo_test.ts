import { assertEquals, assertRejects } from "./assert.ts";
import { Undo } from "../lib/container/undo.ts";

Deno.test("Undo runs what was registered in reverse, each once, and rethrows the step's error", async () => {
  const done: string[] = [];
  const undo = new Undo();
  await assertRejects(
    () =>
      undo.run(async (u) => {
        u.push("a", () => done.push("a"));
        u.push("b", async () => {
          await Promise.resolve();
          done.push("b");
        });
        u.push("c", () => {
          throw new Error("c cannot be undone");
        });
        u.push("d", () => done.push("d"));
        await Promise.resolve();
        throw new Error("step e failed");
      }),
    Error,
    "step e failed",
  );
  assertEquals(done, ["d", "b", "a"]);
  assertEquals(undo.failures.map((f) => f.name), ["c"]);
  assertEquals(undo.names, []);
  await undo.rollBack(); // nothing runs twice
  assertEquals(done, ["d", "b", "a"]);
});

Deno.test("Undo commits on success: nothing is undone", async () => {
  const done: string[] = [];
  const undo = new Undo();
  assertEquals(
    await undo.run((u) => {
      u.push("a", () => done.push("a"));
      return Promise.resolve(42);
    }),
    42,
  );
  await undo.rollBack();
  assertEquals(done, []);
});
