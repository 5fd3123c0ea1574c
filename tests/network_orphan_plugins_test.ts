// CNI plugins that outlive their berth (lib/network/_orphan_plugins.ts): a
// tear-down waits for the processes carrying its CNI container ID.
import { assertEquals } from "./assert.ts";
import { waitForOrphanPlugins } from "../lib/network/_orphan_plugins.ts";

Deno.test("waitForOrphanPlugins waits for the processes of a CNI container ID to end", async () => {
  const id = `berth-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const child = new Deno.Command("sleep", { args: ["0.5"], env: { CNI_CONTAINERID: id } })
    .spawn();
  const t0 = performance.now();
  assertEquals(await waitForOrphanPlugins(id, 50), false);
  assertEquals(await waitForOrphanPlugins(id), true);
  assertEquals(performance.now() - t0 >= 400, true);
  await child.status;
});
