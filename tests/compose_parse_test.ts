// `berth compose` argument parsing (lib/cli/commands/compose.ts): the
// project options before the verb, each verb's own flags, options of exec
// and run ending at SERVICE, and one-line usage errors.
import { parseCompose } from "../lib/cli/commands/compose.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { assertEquals, assertThrows } from "./assert.ts";

Deno.test("compose: project options, then the verb and its flags", () => {
  const o = parseCompose([
    "-f",
    "a.yaml",
    "--file=b.yaml",
    "-p",
    "shop",
    "--profile",
    "dbg",
    "up",
    "-d",
    "--build",
    "web",
    "db",
  ]);
  assertEquals([o.files, o.projectName, o.profiles, o.verb], [
    ["a.yaml", "b.yaml"],
    "shop",
    ["dbg"],
    "up",
  ]);
  assertEquals(o.flags, { detach: true, build: true });
  assertEquals(o.args, ["web", "db"]);
  const down = parseCompose(["down", "-v", "--rmi", "local", "-t", "3"]);
  assertEquals(down.flags, { volumes: true, rmi: "local", timeout: "3" });
  assertEquals(parseCompose(["logs", "-f", "--tail=5", "web"]).flags, { follow: true, tail: "5" });
});

Deno.test("compose exec/run: options end at SERVICE; what follows is the command", () => {
  const e = parseCompose(["exec", "-T", "-e", "A=1", "web", "sh", "-c", "echo -d -t"]);
  assertEquals([e.args, e.command, e.flags], [["web"], ["sh", "-c", "echo -d -t"], {
    "no-TTY": true,
    env: ["A=1"],
  }]);
  const r = parseCompose(["run", "--rm", "web", "--", "ls", "-l"]);
  assertEquals([r.args, r.command, r.flags], [["web"], ["ls", "-l"], { rm: true }]);
  assertEquals(parseCompose(["run", "web"]).command, []);
});

Deno.test("compose: bad usage is one line (exit 2)", () => {
  for (
    const [args, msg] of [
      [["up", "--bogus"], "compose up: unknown option --bogus"],
      [["down", "-d"], "compose down: unknown option -d"],
      [["nope"], 'unknown verb "nope"'],
      [[], "missing VERB"],
      [["down", "--rmi", "some"], "--rmi must be local or all"],
      [["exec", "web"], "give the command after SERVICE"],
      [["logs", "--tail", "x"], "--tail takes a whole number"],
      [["-f"], "-f needs a value"],
      [["--bad", "up"], "unknown option --bad"],
      [["port", "web"], "give SERVICE PORT"],
    ] as [string[], string][]
  ) {
    const err = assertThrows(() => parseCompose(args), InvalidArgument, msg);
    assertEquals(err.message.includes("\n"), false);
  }
  assertEquals(parseCompose(["up", "--help"]).verb, "help");
  assertEquals(parseCompose(["--help"]).verb, "help");
});
