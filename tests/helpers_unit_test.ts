// Pure helpers, without processes.
import { assertEquals, assertThrows } from "./assert.ts";
import { parseSince } from "../lib/commands/events.ts";
import { decodeWaitStatus } from "../lib/libc.ts";
import { restartDelay, shouldRestart } from "../lib/monitor.ts";
import { parseMountInfo } from "../lib/mounts.ts";
import { basename, dirname, join, normalize, resolve } from "../lib/path.ts";
import { parseSignal } from "../lib/signals.ts";
import { runArgs, systemdQuote } from "../lib/systemd.ts";
import { InvalidArgument } from "../lib/errors.ts";
import { sampleState } from "./fixtures/worker.ts";

Deno.test("wait statuses decode to exit codes, 128+N for signal N", () => {
  assertEquals(decodeWaitStatus(3 << 8), 3);
  assertEquals(decodeWaitStatus(0), 0);
  assertEquals(decodeWaitStatus(9), 137);
  assertEquals(decodeWaitStatus(15 | 0x80), 143); // core dumped
});

Deno.test("mountinfo paths are unescaped", () => {
  const text =
    "36 35 98:0 / /mnt/with\\040space rw - ext4 /dev/x rw\n37 35 0:1 / /run rw - tmpfs t rw\n";
  assertEquals(parseMountInfo(text), ["/mnt/with space", "/run"]);
});

Deno.test("path helpers agree with POSIX semantics", () => {
  assertEquals(join("/a/", "b", "../c", "./d"), "/a/c/d");
  assertEquals(join("a", ""), "a");
  assertEquals(normalize("/../x//y/"), "/x/y");
  assertEquals(normalize("../x"), "../x");
  assertEquals(resolve("/r", "x", "/abs", "y"), "/abs/y");
  assertEquals(resolve("/r", "../s"), "/s");
  assertEquals(dirname("/a/b/"), "/a");
  assertEquals(dirname("/a"), "/");
  assertEquals(dirname("a"), ".");
  assertEquals(basename("/a/b/"), "b");
});

Deno.test("signals parse by name, SIG name and number", () => {
  assertEquals(parseSignal("RTMIN+2"), 36);
  assertEquals(parseSignal("sigterm"), 15);
  assertThrows(() => parseSignal("SIGNOPE"), InvalidArgument);
});

Deno.test("systemd quoting escapes %, $, quotes and spaces", () => {
  assertEquals(systemdQuote("plain/path-1"), "plain/path-1");
  assertEquals(systemdQuote("a b"), '"a b"');
  assertEquals(systemdQuote("100%"), "100%%");
  assertEquals(systemdQuote("$HOME"), '"$$HOME"');
  assertEquals(systemdQuote('say "hi"'), '"say \\"hi\\""');
  assertEquals(systemdQuote(""), '""');
  assertEquals(
    runArgs("w", {
      bundle: null,
      rootfs: "/r",
      config: null,
      command: ["sh", "-c", "x"],
      env: ["A=1"],
      cwd: "/t",
      labels: { k: "v" },
      sandbox: "pod",
    }),
    [
      "run",
      "--rm",
      "--rootfs",
      "/r",
      "--env",
      "A=1",
      "--cwd",
      "/t",
      "--label",
      "k=v",
      "--sandbox",
      "pod",
      "w",
      "--",
      "sh",
      "-c",
      "x",
    ],
  );
});

Deno.test("--since takes durations and ISO times", () => {
  const now = Date.parse("2026-11-22T10:00:00Z");
  assertEquals(parseSince("5m", now), now - 300_000);
  assertEquals(parseSince("2h", now), now - 7_200_000);
  assertEquals(parseSince("2026-11-22T09:00:00Z", now), now - 3_600_000);
  assertThrows(() => parseSince("soon", now), InvalidArgument);
});

Deno.test("restart policy: back-off doubles to 10 s; who is restarted", () => {
  assertEquals([0, 1, 2, 3, 7, 20].map(restartDelay), [100, 200, 400, 800, 10_000, 10_000]);
  const s = { ...sampleState("/r", 0), status: "stopped" as const, exitCode: 1 };
  assertEquals(shouldRestart({ ...s, restart: "on-failure" }), true);
  assertEquals(shouldRestart({ ...s, restart: "on-failure", exitCode: 0 }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", exitCode: 0 }), true);
  assertEquals(shouldRestart({ ...s, restart: "no" }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", restartSuppressed: true }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", autoRemove: true }), false);
  assertEquals(shouldRestart({ ...s, restart: "always", status: "running" }), false);
});
