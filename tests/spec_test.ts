import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { applyOverrides, defaultSpec, validateConfig } from "../lib/host/spec.ts";

Deno.test("the default spec is a non-terminal runc-like config with a writable root", () => {
  const s = defaultSpec();
  assertEquals(s.process?.terminal, false);
  assertEquals(s.root, { path: "rootfs", readonly: false });
  const ns = (s.linux?.namespaces as { type: string }[]).map((n) => n.type);
  assertEquals(ns, ["pid", "network", "ipc", "uts", "mount"]);
  assertEquals(validateConfig(s, "default"), s);
});

Deno.test("overrides set args, env, cwd, hostname and cgroups path", () => {
  const c = applyOverrides(defaultSpec(), {
    args: ["echo", "hi"],
    env: ["TERM=dumb", "A=1"],
    cwd: "/tmp",
    hostname: "web1",
    cgroupsPath: "/berth/default/web1",
  });
  assertEquals(c.process?.args, ["echo", "hi"]);
  assertEquals(c.process?.env?.includes("TERM=dumb"), true);
  assertEquals(c.process?.env?.includes("TERM=xterm"), false);
  assertEquals(c.process?.env?.includes("A=1"), true);
  assertEquals(c.process?.cwd, "/tmp");
  assertEquals(c.hostname, "web1");
  assertEquals(c.linux?.cgroupsPath, "/berth/default/web1");
  // The base is not modified.
  assertEquals(defaultSpec().process?.args, ["sh"]);
});

Deno.test("malformed configs are InvalidArgument", () => {
  assertThrows(() => validateConfig([], "x"), InvalidArgument);
  assertThrows(() => validateConfig({ root: { path: "r" } }, "x"), InvalidArgument, "process");
  assertThrows(() => validateConfig({ process: {} }, "x"), InvalidArgument, "root.path");
  assertThrows(
    () => validateConfig({ process: { args: [1] }, root: { path: "r" } }, "x"),
    InvalidArgument,
  );
  assertThrows(
    () => validateConfig({ process: { terminal: true }, root: { path: "r" } }, "x"),
    InvalidArgument,
    "terminal",
  );
  const empty = defaultSpec();
  empty.process!.args = [];
  assertThrows(
    () => applyOverrides(empty, { args: [], env: [], cwd: null, hostname: "h", cgroupsPath: "/c" }),
    InvalidArgument,
    "no command",
  );
});
