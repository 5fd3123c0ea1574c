/** Health checks run by the monitor, against real runc. */

import { assertEquals, assertTrue as assert } from "../assert.ts";
import { berth, berthOk, eventually, type Roots, stateOf, withRoots } from "../helpers.ts";

async function healthEvents(roots: Roots, id: string): Promise<string[]> {
  const text = await berthOk(roots, ["events", "--format", "json"]);
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
    .filter((e) => e.type === "health_status" && e.id === id).map((e) => e.health);
}

const health = async (roots: Roots, id: string) => (await stateOf(roots, id)).health;

Deno.test("health turns unhealthy, then healthy, then unhealthy again, with events; state and list show it", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--health-cmd",
      "test -f /tmp/ok",
      "--health-interval",
      "200ms",
      "--health-retries",
      "2",
      "--health-timeout",
      "5s",
      "--rootfs",
      rootfs,
      "h1",
      "--",
      "sleep",
      "1000",
    ]);
    assertEquals(await health(roots, "h1"), "starting");
    await eventually(async () => (await health(roots, "h1")) === "unhealthy", 20_000, "unhealthy");
    await berthOk(roots, ["exec", "h1", "--", "touch", "/tmp/ok"]);
    await eventually(async () => (await health(roots, "h1")) === "healthy", 20_000, "healthy");
    const list = JSON.parse(await berthOk(roots, ["list", "--format", "json"]));
    assertEquals(list[0].health, "healthy");
    assert(/running \(healthy\)/.test(await berthOk(roots, ["list"])), "list table");
    await berthOk(roots, ["exec", "h1", "--", "rm", "/tmp/ok"]);
    await eventually(async () => (await health(roots, "h1")) === "unhealthy", 20_000, "unhealthy");
    assertEquals(await healthEvents(roots, "h1"), ["unhealthy", "healthy", "unhealthy"]);
    // A container without a health check has none.
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "plain", "--", "sleep", "1000"]);
    assertEquals(await health(roots, "plain"), null);
  });
});

Deno.test("failures within the start period do not count; a pass ends it", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--health-cmd",
      "test -f /tmp/ok",
      "--health-interval",
      "200ms",
      "--health-retries",
      "1",
      "--health-start-period",
      "60s",
      "--rootfs",
      rootfs,
      "sp",
      "--",
      "sleep",
      "1000",
    ]);
    await new Promise((r) => setTimeout(r, 1500)); // several failed checks
    assertEquals(await health(roots, "sp"), "starting");
    await berthOk(roots, ["exec", "sp", "--", "touch", "/tmp/ok"]);
    await eventually(async () => (await health(roots, "sp")) === "healthy", 20_000, "healthy");
    assertEquals(await healthEvents(roots, "sp"), ["healthy"]);
  });
});

Deno.test("a hanging check is killed at its timeout and fails; it never delays the exit's recording", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--health-cmd",
      "sleep 777",
      "--health-interval",
      "100ms",
      "--health-timeout",
      "500ms",
      "--health-retries",
      "1",
      "--rootfs",
      rootfs,
      "hang",
      "--",
      "sleep",
      "1000",
    ]);
    await eventually(
      async () => (await health(roots, "hang")) === "unhealthy",
      20_000,
      "unhealthy",
    );
    // Killed, not left behind: had the timeout only ended the runtime (its own backstop, 2 s
    // later), every check's `sleep 777` would live on in the container, one more each round.
    await new Promise((r) => setTimeout(r, 4000));
    const ps = JSON.parse(await berthOk(roots, ["ps", "--format", "json", "hang"]));
    const hung = ps.filter((p: { command: string }) => p.command.includes("sleep 777"));
    assert(hung.length <= 1, `hung checks: ${JSON.stringify(ps)}`);
    // A container whose check hangs for 30 s exits: recorded at once.
    await berthOk(roots, [
      "run",
      "-d",
      "--health-cmd",
      "sleep 888",
      "--health-interval",
      "100ms",
      "--health-timeout",
      "30s",
      "--rootfs",
      rootfs,
      "quit",
      "--",
      "sh",
      "-c",
      "sleep 1; exit 3",
    ]);
    const t0 = performance.now();
    assertEquals((await berthOk(roots, ["wait", "quit"])).trim(), "3");
    assert(performance.now() - t0 < 5000, `wait took ${performance.now() - t0} ms`);
    const s = await stateOf(roots, "quit");
    assertEquals([s.status, s.exitCode], ["stopped", 3]);
  });
});

Deno.test("malformed health options: exit 2, nothing on disk", async () => {
  await withRoots(async (roots, rootfs) => {
    for (
      const opt of [
        ["--health-cmd", ""],
        ["--health-cmd", "true", "--health-interval", "soon"],
        ["--health-cmd", "true", "--health-interval", "10ms"],
        ["--health-cmd", "true", "--health-timeout", "5"],
        ["--health-cmd", "true", "--health-retries", "0"],
        ["--health-cmd", "true", "--health-retries", "x"],
        ["--health-cmd", "true", "--health-start-period", "-1s"],
        ["--health-interval", "1s"],
      ]
    ) {
      const r = await berth(roots, ["run", "-d", ...opt, "--rootfs", rootfs, "b", "--", "true"]);
      assertEquals(r.code, 2, `${opt.join(" ")}: ${r.stderr}`);
      assertEquals(r.stderr.split("\n").length, 2, r.stderr);
    }
    const { listTree } = await import("../helpers.ts");
    assertEquals(await listTree(roots.root).catch(() => []), []);
  });
});
