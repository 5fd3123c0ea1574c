/**
 * Interactive containers end to end, on a real terminal (tmux) and the real
 * runtime: `run -it`, `exec -it`, `run -i`/`exec -i` with piped input,
 * `run -dt` + `attach` + Ctrl-P Ctrl-Q, window resizes, berth's terminal
 * back in cooked mode afterwards, and a `-t` container whose monitor is
 * killed (it gets SIGHUP; `gc` leaves nothing behind).
 */

import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthIn,
  berthOk,
  eventually,
  leftovers,
  listTree,
  monitorPids,
  type Roots,
  stateOf,
  withRoots,
} from "../helpers.ts";
import { haveTmux, shq, Tmux } from "./tmux.ts";

const decoder = new TextDecoder();
const TMUX = haveTmux();
if (!TMUX) console.log("terminal_test: tmux is not installed, the terminal tests are skipped");

/** The berth command line for a shell in a tmux pane. */
const B = berthArgv().map(shq).join(" ");

/** `stty -a` of a terminal device, as seen from outside. */
async function sttyOf(device: string): Promise<string> {
  const r = await new Deno.Command("stty", { args: ["-a", "-F", device] }).output();
  return decoder.decode(r.stdout);
}

/**
 * `cmd` typed in a pane: then its exit code, and whether the terminal's
 * termios afterwards are exactly those before (`stty -g`).
 */
function inPane(cmd: string): string {
  return `S0=$(stty -g); ${cmd}; echo "RC=$?"; ` +
    `[ "$(stty -g)" = "$S0" ] && echo TERMIOS=same || echo TERMIOS=changed`;
}

/** Raw mode (cfmakeraw) as `stty -a` shows it; a shell's line editor never clears isig or opost. */
function isRaw(stty: string): boolean {
  return /-isig/.test(stty) && /-icanon/.test(stty) && /-echo /.test(stty) && /-opost/.test(stty);
}

/** Runs `fn` with fresh roots and a tmux server. */
function withTerminal(fn: (roots: Roots, rootfs: string, t: Tmux) => Promise<void>) {
  return () =>
    withRoots(async (roots, rootfs) => {
      const t = new Tmux();
      try {
        await fn(roots, rootfs, t);
      } finally {
        await t.kill();
      }
    });
}

const opts = { ignore: !TMUX, sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "run -it: a prompt, answers, tty is /dev/pts/N, the shell's exit code, the terminal raw meanwhile and cooked after",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await t.start("a", roots.env);
    const pane = await t.paneTty("a");
    assertTrue(!isRaw(await sttyOf(pane)));
    await t.line("a", inPane(`${B} run -it --rm --rootfs ${rootfs} it1 -- sh`));
    await t.waitFor("a", /\/ # $/m);
    const raw = await sttyOf(pane);
    assertTrue(isRaw(raw), `raw during the session: ${raw}`);
    await t.line("a", "tty; echo size=$(stty size); echo answer=$((6*7))");
    const screen = await t.waitFor("a", /answer=42/);
    assertTrue(/size=30 100/.test(screen), `the window size at start: ${screen}`);
    assertTrue(/^\/dev\/pts\/\d+\s*$/m.test(screen), screen);
    await t.line("a", "exit 3");
    await t.waitFor("a", /RC=3\s+TERMIOS=same/);
    assertTrue(!isRaw(await sttyOf(pane)));
    // --rm: gone once it exited.
    await eventually(async () => (await berth(roots, ["state", "it1"])).code === 3);
  }),
);

/** Pids of berth processes (not monitors) whose command line has `word`. */
async function berthPids(word: string, roots: Roots): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "")).split("\0");
    if (
      cmd.includes(word) && !cmd.includes("__monitor") && cmd.some((c) => /main\.ts$|berth/.test(c))
    ) {
      // Only this test's berth (its roots in its environment): other tests and other users
      // of the host run `berth attach` too.
      const env = await Deno.readTextFile(`/proc/${e.name}/environ`).catch(() => "");
      if (env.split("\0").includes(`BERTH_ROOT=${roots.root}`)) out.push(Number(e.name));
    }
  }
  return out;
}

Deno.test(
  "run -it --rm, Ctrl-P Ctrl-Q: berth exits 0, the container runs on; attach later, exit: --rm removes it",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await t.start("a", roots.env);
    await t.line("a", inPane(`${B} run -it --rm --rootfs ${rootfs} fg -- sh`));
    await t.waitFor("a", /\/ # $/m);
    await t.keys("a", "C-p", "C-q");
    await t.waitFor("a", /RC=0\s+TERMIOS=same/);
    assertEquals((await stateOf(roots, "fg")).status, "running");
    await t.line("a", "clear");
    await t.line("a", inPane(`${B} attach fg`));
    await t.line("a", "echo back=$((40+2))");
    await t.waitFor("a", /back=42/);
    await t.line("a", "exit 5");
    await t.waitFor("a", /RC=5\s+TERMIOS=same/);
    await eventually(
      async () => (await berth(roots, ["state", "fg"])).code === 3,
      30_000,
      "removed",
    );
  }),
);

Deno.test(
  "run -it: SIGTERM to berth goes to the container; berth exits with its code and the terminal restored",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await t.start("a", roots.env);
    const pane = await t.paneTty("a");
    await t.line(
      "a",
      inPane(
        `${B} run -it --rm --rootfs ${rootfs} sig1 -- sh -c ` +
          `'trap "exit 143" TERM; echo ready; while :; do sleep 0.1; done'`,
      ),
    );
    await t.waitFor("a", /^ready/m);
    assertTrue(isRaw(await sttyOf(pane)));
    const [pid] = await berthPids("sig1", roots);
    assertTrue(pid !== undefined, "berth runs");
    Deno.kill(pid!, "SIGTERM");
    await t.waitFor("a", /RC=143\s+TERMIOS=same/);
  }),
);

Deno.test(
  "attach ended by SIGTERM (exit 143) or by the monitor dying: the terminal restored each time",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await berthOk(roots, ["run", "-dt", "--rootfs", rootfs, "at", "--", "sh"]);
    await t.start("a", roots.env);
    const pane = await t.paneTty("a");
    await t.line("a", inPane(`${B} attach at`));
    await eventually(async () => isRaw(await sttyOf(pane)), 30_000, "attach in raw mode");
    const [pid] = await berthPids("attach", roots);
    assertTrue(pid !== undefined, "berth attach runs");
    Deno.kill(pid!, "SIGTERM");
    await t.waitFor("a", /RC=143\s+TERMIOS=same/);
    assertEquals((await stateOf(roots, "at")).status, "running");
    await t.line("a", "clear");
    await t.line("a", inPane(`${B} attach at`));
    await eventually(async () => isRaw(await sttyOf(pane)), 30_000, "attach in raw mode");
    const [monitor] = await monitorPids(roots);
    Deno.kill(monitor!, "SIGKILL");
    // Its terminal hung up, the shell exits; its code cannot be observed any more.
    await t.waitFor("a", /RC=255\s+TERMIOS=same/);
  }),
);

Deno.test(
  "run -dt --restart on-failure: the restarted container has a new terminal that attach reaches",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await berthOk(roots, [
      "run",
      "-dt",
      "--restart",
      "on-failure",
      "--rootfs",
      rootfs,
      "rs",
      "--",
      "sh",
      "-c",
      "read x; echo got=$x; exit 1",
    ]);
    await t.start("a", roots.env);
    // Typed before attach reads it, a line waits in the terminal's input buffer.
    await t.line("a", inPane(`${B} attach rs`));
    await t.line("a", "one");
    await t.waitFor("a", /got=one[\s\S]*RC=1\s+TERMIOS=same/);
    await eventually(
      async () => {
        const s = await stateOf(roots, "rs");
        return s.status === "running";
      },
      30_000,
      "restarted",
    );
    await t.line("a", inPane(`${B} attach rs`));
    await t.line("a", "two");
    await t.waitFor("a", /got=two/);
    assertTrue(/got=one[\s\S]*got=two/.test(await berthOk(roots, ["logs", "rs"])));
    await berthOk(roots, ["delete", "-f", "rs"]);
  }),
);

Deno.test(
  "berth restart of a -t container: the new process has a new terminal that attach reaches",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await berthOk(roots, ["run", "-dt", "--rootfs", rootfs, "rt", "--", "sh"]);
    const before = (await stateOf(roots, "rt")).pid;
    await berthOk(roots, ["restart", "rt"]);
    const after = await stateOf(roots, "rt");
    assertTrue(after.status === "running" && after.pid !== before, JSON.stringify(after));
    await t.start("a", roots.env);
    await t.line("a", inPane(`${B} attach rt`));
    await t.line("a", "echo again=$((3*3))");
    await t.waitFor("a", /again=9/);
    await t.keys("a", "C-p", "C-q");
    await t.waitFor("a", /RC=0\s+TERMIOS=same/);
  }),
);

Deno.test(
  "exec -it in a running container: a prompt, tty, window resizes reach it, the exit code",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "ex1", "--", "sleep", "1000"]);
    await t.start("a", roots.env, 100, 30);
    const pane = await t.paneTty("a");
    await t.line("a", inPane(`${B} exec -it ex1 -- sh`));
    await t.waitFor("a", /\/ # $/m);
    assertTrue(isRaw(await sttyOf(pane)));
    await t.line("a", "tty; echo size=$(stty size)");
    const screen = await t.waitFor("a", /size=30 100/);
    assertTrue(/^\/dev\/pts\/\d+\s*$/m.test(screen), screen);
    await t.resize("a", 90, 25);
    await t.line("a", "echo size=$(stty size)");
    await t.waitFor("a", /size=25 90/);
    await t.line("a", "exit 4");
    await t.waitFor("a", /RC=4\s+TERMIOS=same/);
    assertEquals((await stateOf(roots, "ex1")).status, "running");
  }),
);

Deno.test(
  "run -dt, two attach sessions see the same output, Ctrl-P Ctrl-Q detaches and leaves it running, logs has it",
  opts,
  withTerminal(async (roots, rootfs, t) => {
    await berthOk(roots, ["run", "-dt", "--rootfs", rootfs, "box", "--", "sh"]);
    assertEquals((await stateOf(roots, "box")).status, "running");
    // logs -f follows what the container writes to its terminal, until it exits.
    const [exe, ...pre] = berthArgv();
    const follower = new Deno.Command(exe!, {
      args: [...pre, "logs", "-f", "box"],
      env: roots.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await t.start("a", roots.env, 100, 30);
    await t.start("b", roots.env, 100, 30);
    await t.line("a", inPane(`${B} attach box`));
    await t.line("b", inPane(`${B} attach box`));
    // Both are attached once a line typed in one shows in the other.
    await eventually(
      async () => {
        await t.line("a", "echo sum=$((20+22))");
        await new Promise((r) => setTimeout(r, 300));
        return /sum=42/.test(await t.capture("b"));
      },
      30_000,
      "both sessions attached",
    );
    await t.waitFor("a", /sum=42/);
    await t.keys("a", "C-p", "C-q");
    await t.waitFor("a", /RC=0\s+TERMIOS=same/);
    assertEquals((await stateOf(roots, "box")).status, "running");
    // The other session still works, and sees window resizes.
    await t.resize("b", 80, 20);
    await t.line("b", "echo size=$(stty size)");
    await t.waitFor("b", /size=20 80/);
    assertTrue(/sum=42/.test(await berthOk(roots, ["logs", "box"])), "logs has the output");
    // Ctrl-P then another key is passed on (cat -v shows it), not a detach.
    await t.line("b", "cat -v");
    // Only once cat reads the terminal: before, the shell's line editor would take Ctrl-P.
    await eventually(
      async () => /cat -v/.test(await berthOk(roots, ["ps", "box"])),
      30_000,
      "cat -v running",
    );
    await t.keys("b", "C-p", "x", "Enter");
    await t.waitFor("b", /\^Px/);
    await t.keys("b", "C-d");
    await t.line("b", "exit 7");
    await t.waitFor("b", /RC=7\s+TERMIOS=same/);
    const s = await stateOf(roots, "box");
    assertEquals([s.status, s.exitCode], ["stopped", 7]);
    const followed = await follower.output();
    assertEquals(followed.code, 0);
    assertTrue(/sum=42[\s\S]*size=20 80/.test(decoder.decode(followed.stdout)));
  }),
);

Deno.test(
  "run -i and exec -i pass piped stdin (EOF ends it); without -i stdin is /dev/null",
  { sanitizeOps: false, sanitizeResources: false },
  () =>
    withRoots(async (roots, rootfs) => {
      const r = await berthIn(
        roots,
        ["run", "-i", "--rm", "--rootfs", rootfs, "p1", "--", "wc", "-l"],
        "a\nb\n",
      );
      assertEquals([r.code, r.stdout.trim(), r.stderr], [0, "2", ""]);
      const n = await berthIn(
        roots,
        ["run", "--rm", "--rootfs", rootfs, "p2", "--", "sh", "-c", "cat; echo end"],
        "ignored\n",
      );
      assertEquals([n.code, n.stdout], [0, "end\n"]);
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "p3", "--", "sleep", "1000"]);
      const e = await berthIn(
        roots,
        ["exec", "-i", "p3", "--", "sh", "-c", "wc -l; exit 6"],
        "x\ny\nz\n",
      );
      assertEquals([e.code, e.stdout.trim()], [6, "3"]);
      const en = await berthIn(roots, ["exec", "p3", "--", "wc", "-l"], "x\ny\n");
      assertEquals([en.code, en.stdout.trim()], [0, "0"]);
    }),
);

Deno.test(
  "run -i streams: each line the container answers shows while stdin is still open; EOF then ends it",
  { sanitizeOps: false, sanitizeResources: false },
  () =>
    withRoots(async (roots, rootfs) => {
      const [exe, ...pre] = berthArgv();
      const child = new Deno.Command(exe!, {
        args: [
          ...pre,
          "run",
          "-i",
          "--rm",
          "--rootfs",
          rootfs,
          "echo1",
          "--",
          "sh",
          "-c",
          'while read l; do echo "got $l"; done; exit 9',
        ],
        env: roots.env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      const r = child.stdout.getReader();
      let out = "";
      for (const word of ["one", "two"]) {
        await w.write(new TextEncoder().encode(`${word}\n`));
        while (!out.includes(`got ${word}\n`)) {
          const { value, done } = await r.read();
          if (done) throw new Error(`stdout ended early: ${out}`);
          out += decoder.decode(value);
        }
      }
      await w.close();
      for (;;) {
        const { value, done } = await r.read();
        if (done) break;
        out += decoder.decode(value);
      }
      const status = await child.status;
      await child.stderr.cancel();
      assertEquals([status.code, out], [9, "got one\ngot two\n"]);
    }),
);

Deno.test(
  "-it without a terminal on stdin: one-line error, exit 2, nothing created; -t alone works non-interactively",
  { sanitizeOps: false, sanitizeResources: false },
  () =>
    withRoots(async (roots, rootfs) => {
      for (const args of [["run", "-it", "--rootfs", rootfs, "n1", "--", "sh"]]) {
        const r = await berthIn(roots, args, "echo hi\n");
        assertEquals(r.code, 2);
        assertEquals(r.stderr.trim().split("\n").length, 1);
        assertTrue(r.stderr.startsWith("berth: run: -it needs a terminal"), r.stderr);
      }
      assertEquals(await leftovers(roots), []);
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "n2", "--", "sleep", "1000"]);
      const ex = await berthIn(roots, ["exec", "-it", "n2", "--", "sh"], "");
      assertEquals([ex.code, ex.stderr.startsWith("berth: exec: -it needs a terminal")], [2, true]);
      const t = await berth(roots, [
        "run",
        "-t",
        "--rm",
        "--rootfs",
        rootfs,
        "n3",
        "--",
        "sh",
        "-c",
        "tty; exit 5",
      ]);
      assertEquals(t.code, 5);
      assertTrue(/^\/dev\/pts\/\d+\r?$/m.test(t.stdout), t.stdout);
      const et = await berth(roots, ["exec", "-t", "n2", "--", "tty"]);
      assertEquals(et.code, 0);
      assertTrue(/^\/dev\/pts\/\d+\r?$/m.test(et.stdout), et.stdout);
    }),
);

Deno.test(
  "attach: to a container without a terminal exit 5 with a hint to use logs -f; unknown exit 3",
  { sanitizeOps: false, sanitizeResources: false },
  () =>
    withRoots(async (roots, rootfs) => {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "plain", "--", "sleep", "1000"]);
      const r = await berth(roots, ["attach", "plain"]);
      assertEquals(r.code, 5);
      assertTrue(r.stderr.includes("logs -f plain"), r.stderr);
      assertEquals((await berth(roots, ["attach", "nosuch"])).code, 3);
    }),
);

Deno.test(
  "monitor killed: a -t shell gets SIGHUP and stops; one ignoring SIGHUP runs on without a terminal; gc leaves nothing",
  { sanitizeOps: false, sanitizeResources: false },
  () =>
    withRoots(async (roots, rootfs) => {
      await berthOk(roots, ["run", "-dt", "--rootfs", rootfs, "hup", "--", "sh"]);
      await berthOk(roots, [
        "run",
        "-dt",
        "--rootfs",
        rootfs,
        "nohup",
        "--",
        "sh",
        "-c",
        "trap '' HUP; exec sleep 1000",
      ]);
      const [monitor] = await monitorPids(roots);
      assertTrue(monitor !== undefined, "a monitor runs");
      Deno.kill(monitor!, "SIGKILL");
      await eventually(
        async () => (await stateOf(roots, "hup")).status === "stopped",
        30_000,
        "the shell stopped",
      );
      assertEquals((await stateOf(roots, "nohup")).status, "running");
      const a = await berth(roots, ["attach", "nohup"]);
      assertEquals(a.code, 5);
      assertTrue(a.stderr.includes("terminal"), a.stderr);
      await berthOk(roots, ["delete", "-f", "hup", "nohup"]);
      await berthOk(roots, ["gc"]);
      assertEquals(await leftovers(roots), []);
      assertEquals(await listTree(`${roots.root}/console`), []);
    }),
);
