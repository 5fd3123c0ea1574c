// Argument parsing of every command, without processes.
import { assertEquals, assertThrows, assertTrue } from "./assert.ts";
import { loadCommands } from "../lib/cli/commands/mod.ts";
import { InvalidArgument } from "../lib/host/errors.ts";

const loaded = new Map(
  (await loadCommands()).flatMap((c) => [c.name, ...(c.aliases ?? [])].map((n) => [n, c])),
);

function parse(name: string, args: string[]): unknown {
  const c = loaded.get(name);
  if (c === undefined) throw new Error(`no command ${name}`);
  return c.parse(args);
}

Deno.test("create parses its options and the command after --", () => {
  assertEquals(
    parse("create", [
      "--rootfs",
      "/r",
      "-e",
      "A=1",
      "--env",
      "B=x=y",
      "--cwd",
      "/tmp",
      "--label",
      "app=web",
      "web1",
      "--",
      "sh",
      "-c",
      "echo --not-an-option",
    ]),
    {
      id: "web1",
      bundle: null,
      rootfs: "/r",
      config: null,
      command: ["sh", "-c", "echo --not-an-option"],
      env: ["A=1", "B=x=y"],
      cwd: "/tmp",
      labels: { app: "web" },
      autoRemove: false,
      sandbox: null,
      restart: "no",
      privileged: false,
      securityOpt: [],
      limits: {},
      network: null,
      publish: [],
    },
  );
  const net = parse("run", [
    "--network",
    "backend",
    "-p",
    "127.0.0.1:8080:80",
    "--publish",
    "53:53/udp",
    "--rootfs",
    "/r",
    "w",
  ]) as { create: { network: string; publish: string[] } };
  assertEquals([net.create.network, net.create.publish], ["backend", [
    "127.0.0.1:8080:80",
    "53:53/udp",
  ]]);
});

Deno.test("create parses the run options (mounts, env file, user, workdir, caps)", () => {
  const o = parse("create", [
    "--rootfs",
    "/r",
    "-v",
    "/srv/www:/www:ro",
    "-v",
    "data:/data",
    "--mount",
    "type=tmpfs,dst=/run,size=1m",
    "--tmpfs",
    "/tmp:size=2k",
    "--env-file",
    "/e.env",
    "-e",
    "HOME",
    "-u",
    "app:staff",
    "-w",
    "/srv",
    "--hostname",
    "web.local",
    "--read-only",
    "--cap-add",
    "net_admin",
    "--cap-drop",
    "all",
    "web1",
  ]) as Record<string, unknown>;
  assertEquals(o.mounts, [
    { type: "bind", source: "/srv/www", destination: "/www", readOnly: true },
    { type: "volume", source: "data", destination: "/data", readOnly: false },
    { type: "tmpfs", source: null, destination: "/run", readOnly: false, size: 1048576 },
    { type: "tmpfs", source: null, destination: "/tmp", readOnly: false, size: 2048 },
  ]);
  assertEquals(o.envFiles, ["/e.env"]);
  assertEquals(o.env, ["HOME"]);
  assertEquals([o.user, o.cwd, o.hostname, o.readOnly], ["app:staff", "/srv", "web.local", true]);
  assertEquals([o.capAdd, o.capDrop], [["CAP_NET_ADMIN"], ["ALL"]]);
  assertThrows(() => parse("create", ["-v", "a:b:c:d", "x"]), InvalidArgument, "SRC:DST");
  assertThrows(() => parse("create", ["--tmpfs", "/t:size=1x", "x"]), InvalidArgument, "bad size");
  assertThrows(() => parse("create", ["--cap-add", "FLY", "x"]), InvalidArgument, "capability");
});

Deno.test("create rejects bad IDs, env, labels and extra arguments", () => {
  assertThrows(() => parse("create", ["--rootfs", "/r", "../x"]), InvalidArgument);
  assertThrows(
    () => parse("create", ["--rootfs", "/r", "-e", "=NOKEY", "a"]),
    InvalidArgument,
    "KEY=VALUE",
  );
  assertThrows(() => parse("create", ["--label", "=v", "a"]), InvalidArgument);
  // (The runc form; `create a b` is the podman form: image a, command b.)
  assertThrows(
    () => parse("create", ["--rootfs", "/r", "a", "b"]),
    InvalidArgument,
    "unexpected argument",
  );
  assertThrows(() => parse("create", ["--rootfs", "/r"]), InvalidArgument, "missing ID");
  assertThrows(() => parse("create", []), InvalidArgument, "create: missing IMAGE");
  assertThrows(
    () => parse("create", ["--bogus", "a"]),
    InvalidArgument,
    `unknown option "--bogus"`,
  );
  assertThrows(() => parse("create", ["--rootfs"]), InvalidArgument, "needs a value");
});

Deno.test("run parses --restart, which needs -d and excludes --rm", () => {
  const o = parse("run", ["-d", "--restart", "on-failure", "--rootfs", "/r", "x"]) as {
    create: { restart: string };
  };
  assertEquals(o.create.restart, "on-failure");
  assertThrows(
    () => parse("run", ["--restart", "always", "--rootfs", "/r", "x"]),
    InvalidArgument,
    "needs -d",
  );
  assertThrows(
    () => parse("run", ["-d", "--rm", "--restart", "always", "x"]),
    InvalidArgument,
    "exclude",
  );
  assertThrows(
    () => parse("run", ["-d", "--restart", "often", "x"]),
    InvalidArgument,
    "on-failure",
  );
});

Deno.test("generate, completion, events, gc, checkpoint and restore parse their arguments", () => {
  assertEquals(parse("generate", ["systemd", "--berth", "/b", "--restart-sec", "5", "w"]), {
    ref: "w",
    berth: "/b",
    restartSec: 5,
  });
  assertThrows(
    () => parse("generate", ["systemd", "--berth", "rel", "w"]),
    InvalidArgument,
    "absolute",
  );
  assertThrows(() => parse("generate", ["openrc", "w"]), InvalidArgument, "systemd");
  assertEquals(parse("completion", ["fish"]), { shell: "fish" });
  assertThrows(() => parse("completion", ["csh"]), InvalidArgument);
  assertEquals(parse("gc", ["--dry-run"]), { dryRun: true });
  assertEquals(parse("events", ["-f", "--format", "json"]), {
    follow: true,
    json: true,
    since: null,
  });
  assertThrows(() => parse("events", ["--since", "yesterday"]), InvalidArgument, "duration");
  assertEquals(parse("checkpoint", ["--image-path", "/i", "--leave-running", "c"]), {
    ref: "c",
    imagePath: "/i",
    leaveRunning: true,
  });
  assertThrows(() => parse("checkpoint", ["c"]), InvalidArgument, "--image-path");
  assertEquals(parse("restore", ["-d", "--image-path", "/i", "c"]), {
    ref: "c",
    imagePath: "/i",
    detach: true,
  });
  assertEquals(parse("doctor", []), {});
});

Deno.test("run parses -d and --rm", () => {
  const o = parse("run", ["-d", "--rm", "--bundle", "/b", "x"]) as {
    detach: boolean;
    rm: boolean;
    create: { autoRemove: boolean; bundle: string };
  };
  assertEquals([o.detach, o.rm, o.create.autoRemove, o.create.bundle], [true, true, true, "/b"]);
  assertThrows(() => parse("run", ["--rootfs", "/r", "x", "--"]), InvalidArgument, "nothing after");
});

Deno.test("state takes exactly one ID; start, pause, resume/unpause and wait take several", () => {
  assertEquals(parse("state", ["web"]), { ref: "web" });
  assertThrows(() => parse("state", []), InvalidArgument, "missing ID");
  assertThrows(() => parse("state", ["a", "b"]), InvalidArgument, "unexpected");
  assertThrows(() => parse("state", ["a", "--", "x"]), InvalidArgument, "takes no command");
  for (const name of ["start", "pause", "resume", "wait"]) {
    assertEquals(parse(name, ["web"]), { refs: ["web"] });
    assertEquals(parse(name, ["a", "b"]), { refs: ["a", "b"] });
    assertThrows(() => parse(name, []), InvalidArgument, `${name}: missing ID`);
    assertThrows(() => parse(name, ["a", "--", "x"]), InvalidArgument, "takes no command");
  }
  // The podman names print podman's output (each name as given).
  assertEquals(parse("unpause", ["a", "b"]), { refs: ["a", "b"], podman: true });
  assertEquals(parse("rm", ["-f", "-v", "a"]), { refs: ["a"], force: true, podman: true });
  assertThrows(() => parse("unpause", []), InvalidArgument, "unpause: missing ID");
});

Deno.test("list parses -q, --format and --all-namespaces; ls is an alias", () => {
  assertEquals(parse("list", []), {
    quiet: false,
    format: "table",
    allNamespaces: false,
    sandbox: null,
  });
  assertEquals(parse("ls", ["-q", "--format", "json", "-A", "--sandbox", "pod"]), {
    quiet: true,
    format: "json",
    allNamespaces: true,
    sandbox: "pod",
  });
  assertThrows(() => parse("list", ["--format", "yaml"]), InvalidArgument, "table or json");
  assertThrows(() => parse("list", ["x"]), InvalidArgument);
});

Deno.test("ps parses --format", () => {
  assertEquals(parse("ps", ["a", "--format", "json"]), { ref: "a", format: "json" });
});

Deno.test("kill: SIGKILL by default; a second argument is a signal only when it names one", () => {
  assertEquals(parse("kill", ["a"]), { refs: ["a"], signal: 9, all: false });
  assertEquals(parse("kill", ["a", "TERM"]), { refs: ["a"], signal: 15, all: false });
  assertEquals(parse("kill", ["--all", "a", "SIGHUP"]), { refs: ["a"], signal: 1, all: true });
  assertEquals(parse("kill", ["a", "9"]), { refs: ["a"], signal: 9, all: false });
  assertEquals(parse("kill", ["a", "sigusr1"]), { refs: ["a"], signal: 10, all: false });
  assertEquals(parse("kill", ["-s", "TERM", "a", "b"]), {
    refs: ["a", "b"],
    signal: 15,
    all: false,
  });
  // Not a signal: two containers. Three: all containers. With -s: all containers.
  assertEquals(parse("kill", ["a", "web"]), { refs: ["a", "web"], signal: 9, all: false });
  assertEquals(parse("kill", ["a", "b", "TERM"]), {
    refs: ["a", "b", "TERM"],
    signal: 9,
    all: false,
  });
  assertEquals(parse("kill", ["-s", "1", "a", "9"]), { refs: ["a", "9"], signal: 1, all: false });
  assertThrows(() => parse("kill", ["-s", "NOPE", "a"]), InvalidArgument, "invalid signal");
  assertThrows(() => parse("kill", ["-s", "65", "a"]), InvalidArgument);
  assertThrows(() => parse("kill", []), InvalidArgument, "kill: missing ID");
});

Deno.test("delete takes several IDs and -f", () => {
  assertEquals(parse("delete", ["-f", "a", "b"]), { refs: ["a", "b"], force: true });
  assertThrows(() => parse("delete", []), InvalidArgument);
});

Deno.test("exec needs a command after -- and an absolute --cwd", () => {
  assertEquals(parse("exec", ["-d", "-e", "A=1", "--cwd", "/x", "c1", "--", "ls", "-l"]), {
    ref: "c1",
    detach: true,
    env: { A: "1" },
    cwd: "/x",
    command: ["ls", "-l"],
    interactive: false,
    tty: false,
  });
  assertThrows(() => parse("exec", ["c1"]), InvalidArgument, "after --");
  assertThrows(() => parse("exec", ["c1", "--"]), InvalidArgument, "after --");
  assertThrows(
    () => parse("exec", ["--cwd", "rel", "c1", "--", "ls"]),
    InvalidArgument,
    "absolute",
  );
});

Deno.test("exec and run parse -i and -t (-it combined); -d excludes them for exec, run -di needs -t", () => {
  const e = parse("exec", ["-it", "c1", "--", "sh"]) as { interactive: boolean; tty: boolean };
  assertEquals([e.interactive, e.tty], [true, true]);
  assertThrows(() => parse("exec", ["-d", "-t", "c1", "--", "sh"]), InvalidArgument, "-d excludes");
  const r = parse("run", ["-it", "--rootfs", "/r", "x"]) as {
    interactive: boolean;
    tty: boolean;
    create: { terminal?: boolean; stdin?: boolean };
  };
  assertEquals([r.interactive, r.tty, r.create.terminal, r.create.stdin], [
    true,
    true,
    true,
    undefined,
  ]);
  const i = parse("run", ["-i", "--rootfs", "/r", "x"]) as { create: { stdin?: boolean } };
  assertEquals(i.create.stdin, true);
  const dt = parse("run", ["-dt", "--rootfs", "/r", "x"]) as { create: { terminal?: boolean } };
  assertEquals(dt.create.terminal, true);
  assertThrows(() => parse("run", ["-di", "--rootfs", "/r", "x"]), InvalidArgument, "needs -t");
  assertEquals(parse("attach", ["box"]), { ref: "box" });
  assertThrows(() => parse("attach", []), InvalidArgument);
});

Deno.test("logs parses -f", () => {
  assertEquals(parse("logs", ["-f", "a"]), { ref: "a", follow: true });
  assertEquals(parse("logs", ["a"]), { ref: "a", follow: false });
});

Deno.test("spec and version take no arguments", () => {
  assertEquals(parse("spec", []), {});
  assertEquals(parse("version", []), {});
  assertThrows(() => parse("spec", ["x"]), InvalidArgument);
  assertThrows(() => parse("version", ["x"]), InvalidArgument);
});

Deno.test("create/run limits; update, stop, restart, stats and the top alias", () => {
  const req = parse("run", [
    "-d",
    "-m",
    "16m",
    "--cpus",
    "1.5",
    "--pids-limit",
    "-1",
    "--rootfs",
    "/r",
    "c1",
  ]) as { create: { limits: unknown } };
  assertEquals(req.create.limits, { memory: 16 << 20, cpus: 1.5, pidsLimit: -1 });
  assertThrows(() => parse("create", ["--memory", "1x", "--rootfs", "/r", "c1"]), InvalidArgument);
  assertEquals(parse("update", ["--memory", "1g", "c1"]), {
    ref: "c1",
    limits: { memory: 1 << 30 },
  });
  assertThrows(() => parse("update", ["c1"]), InvalidArgument, "give --memory");
  assertThrows(() => parse("update", ["--cpus", "0", "c1"]), InvalidArgument, "--cpus");
  assertEquals(parse("stop", ["a", "b"]), { refs: ["a", "b"], timeoutS: 10 });
  assertEquals(parse("stop", ["-t", "0", "a"]), { refs: ["a"], timeoutS: 0 });
  assertThrows(() => parse("stop", []), InvalidArgument, "missing ID");
  assertThrows(() => parse("stop", ["-t", "1.5", "a"]), InvalidArgument, "whole number");
  assertEquals(parse("restart", ["--time", "3", "a"]), { refs: ["a"], timeoutS: 3 });
  assertEquals(parse("restart", ["a", "b"]), { refs: ["a", "b"], timeoutS: 10 });
  assertEquals(parse("stats", []), { refs: [], stream: true, format: { kind: "table" } });
  assertEquals(parse("stats", ["--no-stream", "--format", "json", "a"]), {
    refs: ["a"],
    stream: false,
    format: { kind: "json" },
  });
  const tpl = parse("stats", ["--format", "table {{.Name}}\t{{.CPUPerc}}"]) as {
    format: { kind: string; table: boolean };
  };
  assertEquals([tpl.format.kind, tpl.format.table], ["template", true]);
  assertThrows(
    () => parse("stats", ["--format", "{{.Name}} {{nope}}"]),
    InvalidArgument,
    'template: column 13: function "nope" not defined',
  );
  assertEquals(parse("top", ["a"]), parse("ps", ["a"]));
});

Deno.test("network parses create, ls, inspect and rm, and refuses what does not apply", () => {
  assertEquals(parse("network", ["create", "--subnet", "10.90.0.0/24", "web"]), {
    action: "create",
    name: "web",
    subnet: "10.90.0.0/24",
    gateway: null,
    internal: false,
    disableDns: false,
  });
  assertEquals(parse("network", ["create", "web"]), {
    action: "create",
    name: "web",
    subnet: null,
    gateway: null,
    internal: false,
    disableDns: false,
  });
  assertEquals(parse("network", ["create", "--internal", "--disable-dns", "web"]), {
    action: "create",
    name: "web",
    subnet: null,
    gateway: null,
    internal: true,
    disableDns: true,
  });
  assertEquals(parse("network", ["ls", "-q"]), {
    action: "ls",
    format: { kind: "table" },
    quiet: true,
  });
  assertEquals(parse("network", ["ls", "--format", "json"]), {
    action: "ls",
    format: { kind: "json" },
    quiet: false,
  });
  assertEquals(parse("network", ["inspect", "a", "b"]), { action: "inspect", names: ["a", "b"] });
  assertEquals(parse("network", ["rm", "a"]), { action: "rm", names: ["a"] });
  assertEquals(parse("network", ["connect", "n", "c"]), {
    action: "connect",
    network: "n",
    container: "c",
  });
  assertEquals(parse("network", ["disconnect", "n", "c"]), {
    action: "disconnect",
    network: "n",
    container: "c",
  });
  for (
    const bad of [
      [],
      ["frob"],
      ["create"],
      ["create", "a", "b"],
      ["ls", "--subnet", "10.0.0.0/8"],
      ["ls", "--internal"],
      ["rm", "--gateway", "10.0.0.1", "a"],
      ["connect", "n"],
      ["disconnect", "n", "c", "d"],
      ["connect", "--subnet", "10.0.0.0/8", "n", "c"],
      ["rm", "--disable-dns", "a"],
      ["ls", "--format", "{{.Name"],
      ["rm"],
      ["inspect", "-q", "a"],
      ["create", "a", "--", "x"],
    ]
  ) {
    assertThrows(() => parse("network", bad), InvalidArgument);
  }
});

Deno.test("options with choices are checked from the table, with one message shape", () => {
  const refused = (name: string, args: string[], message: string) => {
    const err = assertThrows(() => parse(name, args), InvalidArgument);
    assertEquals(err.message, message);
  };
  refused("list", ["--format", "xml"], 'list: --format must be table or json, not "xml"');
  refused("ps", ["web1", "--format=yaml"], 'ps: --format must be table or json, not "yaml"');
  refused("events", ["--format", "table"], 'events: --format must be text or json, not "table"');
  refused(
    "run",
    ["-d", "--restart", "sometimes", "--rootfs", "/r", "w", "--", "true"],
    'run: --restart must be no, on-failure, always or unless-stopped, not "sometimes"',
  );
  assertEquals((parse("list", ["--format", "json"]) as { format: string }).format, "json");
  assertEquals((parse("list", []) as { format: string }).format, "table");
  assertEquals(
    (parse("run", ["-d", "--restart", "always", "--rootfs", "/r", "w", "--", "true"]) as {
      create: { restart: string };
    }).create.restart,
    "always",
  );
});

Deno.test("completion offers the choices and positionals the tables declare", async () => {
  const { bashCompletion, fishCompletion } = await import("../lib/cli/completion.ts");
  const commands = [...new Set(loaded.values())];
  const bash = bashCompletion(commands);
  const valuesOf = (flag: string) =>
    new RegExp(`--${flag}\\) COMPREPLY=\\(\\$\\(compgen -W "([^"]*)"`).exec(bash)?.[1]?.split(" ")
      .sort();
  // bash completes a flag's values by its name across commands: save's --format adds its two.
  assertEquals(valuesOf("format"), ["docker-archive", "json", "oci-archive", "table", "text"]);
  assertEquals(valuesOf("restart"), ["always", "no", "on-failure", "unless-stopped"]);
  assertTrue(bash.includes('completion) flags="--help"; ids=0; extra="bash zsh fish"'));
  assertTrue(/ generate\) flags="[^"]*"; ids=1; extra="systemd"/.test(bash));
  const fish = fishCompletion(commands);
  assertTrue(fish.includes("__fish_seen_subcommand_from list ls' -l format -r -a 'table json'"));
});

Deno.test("a declared shape is checked with parse's own messages (cli checks it first)", async () => {
  const { checkShape, parseCommandArgs } = await import("../lib/cli/args.ts");
  const shaped = [...new Set(loaded.values())].filter((c) => c.command !== undefined);
  assertTrue(shaped.length >= 8, "commands declare their shape");
  const refusal = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      if (err instanceof InvalidArgument) return err.message;
      throw err;
    }
    return null;
  };
  for (const c of shaped) {
    const specs = c.positionals ?? [];
    const full = specs.map((s) => s.choices?.[0] ?? "x1");
    const shapes = [
      [...full, "extra"], // one too many
      specs.filter((s) => !s.optional).slice(1).map((s) => s.choices?.[0] ?? "x1"), // one missing
      [...full, "--", "true"], // a command after --
    ];
    for (const args of shapes) {
      const byTable = refusal(() =>
        checkShape(c.name, parseCommandArgs(c.name, args, c.options), specs, c.command)
      );
      const byParse = refusal(() => c.parse(args));
      if (byTable !== null) assertEquals(byTable, byParse, `${c.name} ${args.join(" ")}`);
    }
    // What the table accepts, parse accepts too (no refusal from the shape).
    assertEquals(
      refusal(() =>
        checkShape(c.name, parseCommandArgs(c.name, full, c.options), specs, c.command)
      ),
      null,
    );
  }
  const kill = loaded.get("kill")!;
  const p = (args: string[]) => parseCommandArgs("kill", args, kill.options);
  assertEquals(refusal(() => checkShape("kill", p([]), kill.positionals!)), "kill: missing ID");
  assertEquals(refusal(() => checkShape("kill", p(["a", "KILL"]), kill.positionals!)), null);
  // Several containers: the last positional repeats.
  assertEquals(refusal(() => checkShape("kill", p(["a", "KILL", "x"]), kill.positionals!)), null);
  assertEquals(
    refusal(() => checkShape("kill", p(["a", "--", "sh"]), kill.positionals!)),
    'kill: takes no command after "--"',
  );
});

Deno.test("--tls-verify: true or false, on pull, login and create/run with --image (recorded as tlsVerify)", () => {
  const refused = (name: string, args: string[], message: string) => {
    const err = assertThrows(() => parse(name, args), InvalidArgument);
    assertEquals(err.message, message);
  };
  refused(
    "pull",
    ["--tls-verify=no", "r/x"],
    'pull: --tls-verify must be true or false, not "no"',
  );
  // A boolean, as podman's: alone it is true and the next word is the image.
  for (const name of ["pull", "push"]) {
    assertEquals(
      (parse(name, ["--tls-verify", "busybox"]) as { insecure: boolean }).insecure,
      false,
    );
    const ref = parse(name, ["--tls-verify", "busybox"]) as { ref?: string; image?: string };
    assertEquals(ref.ref ?? ref.image, "busybox");
  }
  refused("pull", ["--tls-verify", "no", "r/x"], 'pull: unexpected argument "r/x"');
  assertEquals(
    (parse("pull", ["--tls-verify", "false", "r/x"]) as { insecure: boolean }).insecure,
    true,
  );
  assertEquals(
    (parse("run", ["--tls-verify", "busybox", "true"]) as { create: { image?: string } }).create
      .image,
    "busybox",
  );
  refused(
    "login",
    ["--tls-verify=0", "-u", "u", "--password-stdin", "r.example"],
    'login: --tls-verify must be true or false, not "0"',
  );
  refused("run", ["--tls-verify=false", "--rootfs", "/r", "w"], "--tls-verify goes with --image");
  assertEquals(
    (parse("pull", ["--tls-verify=false", "r/x"]) as { insecure: boolean }).insecure,
    true,
  );
  assertEquals((parse("pull", ["r/x"]) as { insecure: boolean }).insecure, false);
  assertEquals(
    (parse("login", ["--tls-verify", "false", "-u", "u", "--password-stdin", "r.example"]) as {
      insecure: boolean;
    }).insecure,
    true,
  );
  const run = parse("run", ["--image", "r.example/x", "--tls-verify=false", "w"]) as {
    create: { tlsVerify?: boolean; image?: string };
  };
  assertEquals([run.create.image, run.create.tlsVerify], ["r.example/x", false]);
  const plain = parse("create", ["--image", "r.example/x", "--tls-verify=true", "w"]) as {
    tlsVerify?: boolean;
  };
  assertEquals(plain.tlsVerify, undefined);
});

Deno.test("run/create: the podman form is IMAGE first; the runc form is chosen by --rootfs, --bundle or --image", () => {
  const r = parse("run", [
    "-d",
    "--name",
    "web",
    "-e",
    "K=V",
    "docker.io/library/busybox",
    "httpd",
    "-f",
    "-p",
    "80",
    "-h",
    "/www",
  ]) as { detach: boolean; create: Record<string, unknown> };
  assertEquals(r.detach, true);
  assertEquals(
    [r.create.id, r.create.image, r.create.command, r.create.env, r.create.publish],
    ["web", "docker.io/library/busybox", ["httpd", "-f", "-p", "80", "-h", "/www"], ["K=V"], []],
  );
  // Without --name the ID is made when it runs; create prints it.
  const c = parse("create", ["-h", "box1", "busybox"]) as Record<string, unknown>;
  assertEquals([c.id, c.image, c.command, c.hostname, c.podman], ["", "busybox", [], "box1", true]);
  const dd = parse("create", ["busybox", "--", "sh", "-c", "echo -- -h"]) as { command: string[] };
  assertEquals(dd.command, ["sh", "-c", "echo -- -h"]);
  // --tls-verify alone is true, and busybox the image.
  const tls = parse("run", ["--tls-verify", "busybox"]) as { create: Record<string, unknown> };
  assertEquals([tls.create.image, tls.create.tlsVerify], ["busybox", undefined]);
  const insecure = parse("run", ["--tls-verify=false", "--pull=always", "r.example/x"]) as {
    create: Record<string, unknown>;
  };
  assertEquals([insecure.create.tlsVerify, insecure.create.pull], [false, "always"]);
  // The runc form, as before: options after the ID, the command after --, --name the same ID.
  const runc = parse("run", ["--rootfs", "/r", "w1", "-d", "--", "sh"]) as {
    detach: boolean;
    create: Record<string, unknown>;
  };
  assertEquals([runc.detach, runc.create.id, runc.create.command], [true, "w1", ["sh"]]);
  const named = parse("create", ["--image", "busybox", "--name", "w2"]) as Record<string, unknown>;
  assertEquals([named.id, named.podman], ["w2", undefined]);
  const refused = (name: string, args: string[], message: string) =>
    assertEquals(assertThrows(() => parse(name, args), InvalidArgument).message, message);
  refused("run", [], "run: missing IMAGE");
  refused(
    "run",
    ["--name", "../x", "busybox"],
    'invalid container name "../x": use letters, digits and single ".", "_" or "-" between them',
  );
  refused(
    "create",
    ["--rootfs", "/r", "--name", "a", "b"],
    "create: give the ID or --name, not both",
  );
  refused("run", ["--rm=1", "busybox"], 'run: --rm must be true or false, not "1"');
  refused("run", ["busybox", "--"], 'run: nothing after "--"');
});

Deno.test("exec: options end at NAME; the command follows with or without --", () => {
  assertEquals(parse("exec", ["-e", "A=1", "c1", "ps", "-e", "-h"]), {
    ref: "c1",
    detach: false,
    env: { A: "1" },
    cwd: null,
    command: ["ps", "-e", "-h"],
    interactive: false,
    tty: false,
  });
  assertEquals((parse("exec", ["c1", "--", "ls", "--", "x"]) as { command: string[] }).command, [
    "ls",
    "--",
    "x",
  ]);
  assertThrows(() => parse("exec", []), InvalidArgument, "exec: missing NAME");
});

Deno.test("ps: with one ID its processes, otherwise the podman listing with -a -q -n --filter --format", () => {
  assertEquals(parse("ps", []), {
    list: { all: false, quiet: false, last: null, filters: {}, format: { kind: "table" } },
  });
  assertEquals(
    parse("ps", [
      "-aq",
      "-n",
      "3",
      "--filter",
      "status=exited",
      "-f",
      "status=created",
      "--filter",
      "label=a=b",
    ]),
    {
      list: {
        all: true,
        quiet: true,
        last: 3,
        filters: { status: ["exited", "created"], label: ["a=b"] },
        format: { kind: "table" },
      },
    },
  );
  assertThrows(() => parse("ps", ["--filter", "status=stopped"]), InvalidArgument, "exited");
  assertThrows(() => parse("ps", ["--filter", "color=red"]), InvalidArgument, "KEY=VALUE");
  assertThrows(() => parse("ps", ["-n", "x"]), InvalidArgument, "whole number");
  // A template is parsed with the options: a bad one is exit 2 naming its column.
  assertEquals(
    (parse("ps", ["--format", "{{.Names}}"]) as { list: { format: { kind: string } } }).list
      .format.kind,
    "template",
  );
  assertThrows(() => parse("ps", ["--format", "{{.Names"]), InvalidArgument, "column");
  assertThrows(() => parse("ps", ["-a", "web"]), InvalidArgument, "give no ID");
  assertThrows(() => parse("ps", ["a", "b"]), InvalidArgument, "unexpected");
});
