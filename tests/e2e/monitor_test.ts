// The shared monitor: survives nothing it need not, and containers survive it.
import { assertEquals, assertTrue } from "../assert.ts";
import { berth, berthOk, eventually, monitorPids, stateOf, withRoots } from "../helpers.ts";

function alive(pid: number): boolean {
  try {
    const st = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) [ZX] /.test(st);
  } catch {
    return false;
  }
}

Deno.test("one monitor serves all containers and is gone once none runs", async () => {
  await withRoots(async (roots, rootfs) => {
    await Promise.all(
      ["m1", "m2", "m3"].map((id) =>
        berthOk(roots, ["run", "-d", "--rootfs", rootfs, id, "--", "sleep", "100"])
      ),
    );
    assertEquals((await monitorPids(roots)).length, 1);
    const mon = (await monitorPids(roots))[0]!;
    // Under `deno run` it neither reads nor writes Deno's code cache: one made
    // under its V8 flags would be rejected by every CLI process after it.
    const argv = Deno.readTextFileSync(`/proc/${mon}/cmdline`).split("\0");
    if (argv[1] === "run") assertTrue(argv.includes("--no-code-cache"), argv.join(" "));
    // The containers' inits are its children.
    for (const id of ["m1", "m2", "m3"]) {
      const pid = Number((await stateOf(roots, id)).pid);
      const ppid = Number(Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ")[1]);
      assertEquals(ppid, mon);
    }
    await berthOk(roots, ["delete", "-f", "m1", "m2", "m3"]);
    await eventually(async () => (await monitorPids(roots)).length === 0, 5000, "monitor exit");
    // The socket is gone with it; the next command starts a new one.
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "m4", "--", "sleep", "100"]);
    assertEquals((await monitorPids(roots)).length, 1);
  });
});

Deno.test("monitor killed with SIGKILL: containers survive, exits are still recorded", async (t) => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "survivor",
      "--",
      "sh",
      "-c",
      "trap 'exit 3' TERM; while true; do sleep 0.05; done",
    ]);
    const pid = Number((await stateOf(roots, "survivor")).pid);
    const [mon] = await monitorPids(roots);
    Deno.kill(mon!, "SIGKILL");
    await eventually(() => !alive(mon!), 5000, "monitor death");
    await t.step("the container keeps running", async () => {
      await new Promise((r) => setTimeout(r, 200));
      assertTrue(alive(pid));
      assertEquals((await stateOf(roots, "survivor")).status, "running");
    });
    await t.step("a new container still gets its exit code", async () => {
      const r = await berth(roots, [
        "run",
        "--rootfs",
        rootfs,
        "fresh",
        "--",
        "sh",
        "-c",
        "exit 9",
      ]);
      assertEquals(r.code, 9);
      assertEquals((await stateOf(roots, "fresh")).exitCode, 9);
      assertEquals((await monitorPids(roots)).length, 1);
    });
    await t.step("the survivor's exit, unobservable now, is recorded as 255", async () => {
      await berthOk(roots, ["kill", "survivor", "TERM"]);
      assertEquals((await berthOk(roots, ["wait", "survivor"])).trim(), "255");
      const s = await stateOf(roots, "survivor");
      assertEquals([s.status, s.exitCode], ["stopped", 255]);
    });
  });
});

Deno.test("no berth process is left once no container runs", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "--rm", "--rootfs", rootfs, "once", "--", "true"]);
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "quick", "--", "true"]);
    await berthOk(roots, ["wait", "quick"]);
    await eventually(async () => (await monitorPids(roots)).length === 0, 5000, "monitor exit");
    // A stopped container needs no monitor; reading it starts none.
    await berthOk(roots, ["state", "quick"]);
    await berthOk(roots, ["list"]);
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(await monitorPids(roots), []);
  });
});

Deno.test("a kill with deleteReply answers the kill, then the runtime's delete, on one connection", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "k1", "--", "sleep", "100"]);
    const state = JSON.parse(
      await Deno.readTextFile(`${roots.root}/ns/default/containers/k1/state.json`),
    );
    const conn = await Deno.connect({ transport: "unix", path: `${roots.root}/monitor.sock` });
    const request = {
      op: "kill",
      ns: "default",
      id: "k1",
      pid: state.pid,
      startTime: state.pidStartTime,
      thenDelete: true,
      deleteReply: true,
    };
    await conn.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    // Everything the monitor writes until it closes the connection.
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    const replies = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    assertEquals(replies.length, 2, text);
    assertEquals(replies[0].ok, true, text);
    assertEquals(replies[1], { ok: true });
    assertTrue(!alive(state.pid), "the init still runs");
    // The runtime forgot it: delete -f finds nothing left to kill.
    await berthOk(roots, ["delete", "-f", "k1"]);
  });
});
