// The parser rule of lib/cli/args.ts: where options end (`anywhere` or the
// podman form's `first-positional`), `--` handling, booleans with `=`, and
// when help is asked for.
import { assertEquals, assertThrows } from "./assert.ts";
import {
  helpRequested,
  type OptionSpec,
  parseCommandArgs,
  runcFormGiven,
} from "../lib/cli/args.ts";
import { InvalidArgument } from "../lib/host/errors.ts";

const SPECS: OptionSpec[] = [
  { name: "rootfs", type: "string", runcForm: true, help: "" },
  { name: "hostname", short: "h", type: "string", help: "" },
  { name: "publish", short: "p", type: "string", multiple: true, help: "" },
  { name: "detach", short: "d", type: "boolean", help: "" },
  { name: "rm", type: "boolean", help: "" },
  { name: "tls-verify", type: "string", choices: ["true", "false"], flag: true, help: "" },
];

const first = (args: string[]) => parseCommandArgs("run", args, SPECS, "first-positional");

Deno.test("first-positional: options end at the first positional; the rest is the command", () => {
  assertEquals(first(["-d", "-p", "8080:80", "img", "httpd", "-f", "-p", "80", "-h", "/www"]), {
    values: { detach: true, publish: ["8080:80"] },
    positionals: ["img"],
    command: ["httpd", "-f", "-p", "80", "-h", "/www"],
    firstPositional: true,
  });
  assertEquals(first(["img"]).command, null);
  assertEquals(first(["img"]).positionals, ["img"]);
});

Deno.test("first-positional: a -- right after the positional is dropped, later ones are the command's", () => {
  assertEquals(first(["img", "--", "echo", "--", "x"]).command, ["echo", "--", "x"]);
  assertEquals(first(["img", "echo", "--", "x"]).command, ["echo", "--", "x"]);
  assertEquals(first(["img", "--"]).command, []);
  // A -- among the options ends them: the next word is the positional.
  assertEquals(first(["-d", "--", "-img", "ls"]), {
    values: { detach: true },
    positionals: ["-img"],
    command: ["ls"],
    firstPositional: true,
  });
});

Deno.test("first-positional falls back to anywhere when a runc-form option comes before --", () => {
  const p = first(["--rootfs", "/r", "id1", "-d", "--", "sh", "-c", "x"]);
  assertEquals(p, {
    values: { rootfs: "/r", detach: true },
    positionals: ["id1"],
    command: ["sh", "-c", "x"],
  });
  assertEquals(first(["id1", "--rootfs=/r"]).positionals, ["id1"]);
  // After the first --, --rootfs is the command's.
  assertEquals(first(["img", "--", "ls", "--rootfs"]).command, ["ls", "--rootfs"]);
  assertEquals(runcFormGiven(["img", "--", "--rootfs"], SPECS), false);
  assertEquals(runcFormGiven(["--rootfs=/x", "i"], SPECS), true);
});

Deno.test("booleans take a value only with =; a flag option alone means true in the podman form", () => {
  assertEquals(first(["--rm=false", "--detach=true", "img"]).values, { rm: false, detach: true });
  assertEquals(first(["--tls-verify", "busybox"]), {
    values: { "tls-verify": "true" },
    positionals: ["busybox"],
    command: null,
    firstPositional: true,
  });
  assertEquals(first(["--tls-verify=false", "busybox"]).values, { "tls-verify": "false" });
  // The runc form reads it as today: the next word is its value.
  assertEquals(
    parseCommandArgs("run", ["--tls-verify", "false", "x"], SPECS).values,
    { "tls-verify": "false" },
  );
  // Elsewhere alone it is true too, and the next word a positional (`pull --tls-verify busybox`).
  assertEquals(parseCommandArgs("pull", ["--tls-verify", "busybox"], SPECS), {
    values: { "tls-verify": "true" },
    positionals: ["busybox"],
    command: null,
  });
  const err = assertThrows(() => first(["--rm=yes", "img"]), InvalidArgument);
  assertEquals(err.message, 'run: --rm must be true or false, not "yes"');
});

Deno.test("first-positional errors: unknown options and missing values are one line", () => {
  assertEquals(
    assertThrows(() => first(["--bogus", "img"]), InvalidArgument).message,
    'run: unknown option "--bogus"',
  );
  assertEquals(
    assertThrows(() => first(["-p"]), InvalidArgument).message,
    'run: option "-p" needs a value',
  );
  assertEquals(first([]).positionals, []);
});

Deno.test("help: --help, or -h where the command has no -h, among the options only", () => {
  assertEquals(helpRequested(["--help"], SPECS, "first-positional"), true);
  assertEquals(helpRequested(["-h", "box", "img"], SPECS, "first-positional"), false);
  assertEquals(helpRequested(["img", "sh", "--help"], SPECS, "first-positional"), false);
  assertEquals(
    helpRequested(["-d", "img", "httpd", "-h", "/www"], SPECS, "first-positional"),
    false,
  );
  assertEquals(helpRequested(["-p", "--help", "img"], SPECS, "first-positional"), false);
  assertEquals(helpRequested(["--bogus", "--help"], SPECS, "first-positional"), true);
  // Commands without a -h of their own: -h is help, before the first --.
  assertEquals(helpRequested(["x", "-h"], []), true);
  assertEquals(helpRequested(["x", "--", "-h"], []), false);
  // The runc form reads options after the ID too.
  assertEquals(helpRequested(["--rootfs", "/r", "x", "--help"], SPECS, "first-positional"), true);
});
