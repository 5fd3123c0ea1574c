import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { globalsToArgs, parseGlobals } from "../lib/container/globals.ts";

const noEnv = () => undefined;

Deno.test("global defaults follow the contract", () => {
  const { globals, rest } = parseGlobals(["list"], noEnv);
  assertEquals(globals, {
    root: "/run/berth",
    dataRoot: "/var/lib/berth",
    namespace: "default",
    runtime: "runc",
    networkDir: "/etc/berth/networks",
    debug: false,
  });
  assertEquals(rest, ["list"]);
});

Deno.test("environment variables apply and flags win over them", () => {
  const env: Record<string, string> = {
    BERTH_ROOT: "/e/root",
    BERTH_DATA_ROOT: "/e/data",
    BERTH_NAMESPACE: "envns",
    BERTH_RUNTIME: "crun",
    BERTH_DEBUG: "1",
  };
  const g1 = parseGlobals(["ps", "x"], (k) => env[k]).globals;
  assertEquals([g1.root, g1.dataRoot, g1.namespace, g1.runtime, g1.debug], [
    "/e/root",
    "/e/data",
    "envns",
    "crun",
    true,
  ]);
  const g2 = parseGlobals(
    ["--root", "/f", "--data-root=/g", "-n", "flagns", "--runtime", "/bin/runc", "list"],
    (k) => env[k],
  ).globals;
  assertEquals([g2.root, g2.dataRoot, g2.namespace, g2.runtime], [
    "/f",
    "/g",
    "flagns",
    "/bin/runc",
  ]);
});

Deno.test("--network-dir and BERTH_NETWORK_DIR move the host-wide networks (flag wins, made absolute)", () => {
  const env = (k: string) => k === "BERTH_NETWORK_DIR" ? "/e/nets" : undefined;
  assertEquals(parseGlobals(["ls"], env).globals.networkDir, "/e/nets");
  assertEquals(parseGlobals(["--network-dir", "/f/nets", "ls"], env).globals.networkDir, "/f/nets");
  assertEquals(
    parseGlobals(["--network-dir=rel", "ls"], noEnv).globals.networkDir,
    `${Deno.cwd()}/rel`,
  );
  const { globals } = parseGlobals(["--network-dir", "/f/nets", "ls"], noEnv);
  assertEquals(globalsToArgs(globals).slice(-2), ["--network-dir", "/f/nets"]);
  assertThrows(() => parseGlobals(["--network-dir="], noEnv), InvalidArgument, "must not be empty");
});

Deno.test("bad global options are usage errors", () => {
  assertThrows(() => parseGlobals(["--bogus", "list"], noEnv), InvalidArgument, "unknown global");
  assertThrows(() => parseGlobals(["--root"], noEnv), InvalidArgument, "needs a value");
  assertThrows(() => parseGlobals(["-n", "../x", "list"], noEnv), InvalidArgument, "namespace");
});

Deno.test("options after the command are left to the command", () => {
  const { rest, help } = parseGlobals(["--debug", "kill", "-a", "x"], noEnv);
  assertEquals(rest, ["kill", "-a", "x"]);
  assertEquals(help, false);
  assertEquals(parseGlobals(["--help"], noEnv).help, true);
});
