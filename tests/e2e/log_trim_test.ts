/** Bounded logs (--log-max-size), trimmed by the monitor while the container writes. */

import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  eventually,
  listTree,
  monitorPids,
  type Roots,
  stateOf,
  withRoots,
} from "../helpers.ts";

const LINE = "x".repeat(90);

/** A writer of about `lines` × 100 bytes, then LAST. */
function writer(lines: number): string[] {
  return [
    "sh",
    "-c",
    `i=0; while [ $i -lt ${lines} ]; do echo "line $i ${LINE}"; i=$((i+1)); done; echo LAST`,
  ];
}

function stdoutLog(roots: Roots, id: string): string {
  return `${roots.dataRoot}/ns/default/${id}/stdout.log`;
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

Deno.test("30 MB written under --log-max-size 1m: the log stays bounded, keeps its last line, and logs -f sees the end", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--log-max-size",
      "1m",
      "--rootfs",
      rootfs,
      "w1",
      "--",
      ...writer(300_000),
    ]);
    const [exe, ...pre] = berthArgv();
    const follower = new Deno.Command(exe!, {
      args: [...pre, "logs", "-f", "w1"],
      env: roots.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const followed = follower.output();
    let peak = 0;
    const path = stdoutLog(roots, "w1");
    while ((await stateOf(roots, "w1")).status !== "stopped") {
      peak = Math.max(peak, sizeOf(path));
      await new Promise((r) => setTimeout(r, 20));
    }
    const out = await followed;
    assertEquals(out.code, 0);
    const text = new TextDecoder().decode(out.stdout);
    assert(text.endsWith("line 299999 " + LINE + "\nLAST\n"), text.slice(-300));
    // What the follower printed is in order: whole lines only ever go up.
    let last = -1;
    for (const l of text.split("\n")) {
      const m = /^line (\d+) x{90}$/.exec(l);
      if (m === null) continue;
      assert(Number(m[1]) > last, `line ${m[1]} after ${last}`);
      last = Number(m[1]);
    }
    // Bounded while it wrote (the monitor re-checks within a few ms while a log grows fast;
    // 8 MiB leaves room for a monitor descheduled on a loaded host), at most the cap after.
    assert(peak <= 8 * 1024 * 1024, `peak ${peak}`);
    const final = sizeOf(path);
    assert(final <= 1024 * 1024 && final > 100_000, `final ${final}`);
    const logs = await berthOk(roots, ["logs", "w1"]);
    assert(logs.endsWith("\nLAST\n"), logs.slice(-200));
    assert(!logs.includes("line 0 "), "the oldest output is gone");
    assertEquals(logs.length, final);
  });
});

Deno.test("without a monitor nothing trims; the next one (started by any command) trims at once", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--log-max-size",
      "64k",
      "--rootfs",
      rootfs,
      "w2",
      "--",
      "sh",
      "-c",
      `sleep 1; i=0; while [ $i -lt 5000 ]; do echo "line $i ${LINE}"; i=$((i+1)); done; exec sleep 1000`,
    ]);
    for (const pid of await monitorPids(roots)) Deno.kill(pid, "SIGKILL");
    const path = stdoutLog(roots, "w2");
    await eventually(() => sizeOf(path) >= 5000 * 100, 20_000, "the writes");
    await new Promise((r) => setTimeout(r, 300));
    assert(sizeOf(path) >= 5000 * 100, "trimmed without a monitor?");
    await berthOk(roots, ["list"]); // starts a monitor, which re-adopts w2
    await eventually(() => sizeOf(path) <= 64 * 1024, 20_000, "the trim");
    assert((await berthOk(roots, ["logs", "w2"])).endsWith(`line 4999 ${LINE}\n`));
  });
});

Deno.test("malformed --log-max-size: exit 2, nothing on disk", async () => {
  await withRoots(async (roots, rootfs) => {
    for (const v of ["", "big", "1k", "-1m", "10x", "1.5m"]) {
      const r = await berth(roots, [
        "run",
        "--log-max-size",
        v,
        "--rootfs",
        rootfs,
        "b",
        "--",
        "true",
      ]);
      assertEquals(r.code, 2, `${v}: ${r.stderr}`);
    }
    assertEquals(await listTree(roots.root).catch(() => []), []);
  });
});
