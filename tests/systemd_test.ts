// lib/ops/systemd.ts: unit quoting and the run arguments of a unit.
import { assertEquals, assertTrue as assert } from "./assert.ts";
import { GLOBAL_DEFAULTS } from "../lib/container/globals.ts";
import { runArgs, systemdQuote, systemdQuoteValue, systemdUnit } from "../lib/ops/systemd.ts";

Deno.test("systemd quoting escapes %, $, quotes and spaces", () => {
  assertEquals(systemdQuote("plain/path-1"), "plain/path-1");
  assertEquals(systemdQuote("a b"), '"a b"');
  assertEquals(systemdQuote("100%"), "100%%");
  assertEquals(systemdQuote("$HOME"), '"$$HOME"');
  assertEquals(systemdQuote('say "hi"'), '"say \\"hi\\""');
  assertEquals(systemdQuote(""), '""');
  assertEquals(systemdQuoteValue("A=$HOME 100%"), '"A=$HOME 100%%"');
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

Deno.test("a unit recreates an image container from its reference and pull policy", () => {
  assertEquals(
    runArgs("w", {
      bundle: null,
      rootfs: null,
      config: null,
      image: "127.0.0.1:5000/app:1",
      pull: "never",
      command: [],
      env: [],
      cwd: null,
      labels: {},
      sandbox: null,
    }),
    ["run", "--rm", "--image", "127.0.0.1:5000/app:1", "--pull", "never", "w"],
  );
  const insecure = runArgs("w", {
    bundle: null,
    rootfs: null,
    config: null,
    image: "registry.lan/app:1",
    tlsVerify: false,
    command: [],
    env: [],
    cwd: null,
    labels: {},
    sandbox: null,
  });
  assertEquals(insecure, [
    "run",
    "--rm",
    "--image",
    "registry.lan/app:1",
    "--tls-verify",
    "false",
    "w",
  ]);
});

Deno.test("a unit keeps the container's network and published ports", () => {
  assertEquals(
    runArgs("web", {
      bundle: null,
      rootfs: "/r",
      config: null,
      command: [],
      env: [],
      cwd: null,
      labels: {},
      sandbox: null,
      network: "backend",
      publish: ["127.0.0.1:8080:80", "53:53/udp"],
      ip: "10.89.0.9",
    }),
    [
      "run",
      "--rm",
      "--rootfs",
      "/r",
      "--network",
      "backend",
      "-p",
      "127.0.0.1:8080:80",
      "-p",
      "53:53/udp",
      "--ip",
      "10.89.0.9",
      "web",
    ],
  );
});

Deno.test("a unit runs with the network directory it was generated with", () => {
  const unit = systemdUnit({
    id: "web",
    berth: "/usr/bin/berth",
    globals: { ...GLOBAL_DEFAULTS, networkDir: "/srv/nets" },
    request: {
      bundle: null,
      rootfs: "/r",
      config: null,
      command: [],
      env: [],
      cwd: null,
      labels: {},
      sandbox: null,
    },
    restartSec: 1,
  });
  assertEquals(unit.includes("Environment=BERTH_NETWORK_DIR=/srv/nets\n"), true, unit);
});

Deno.test("a unit keeps the container's --dns, --add-host and --network-alias", () => {
  assertEquals(
    runArgs("api", {
      bundle: null,
      rootfs: "/r",
      config: null,
      command: [],
      env: [],
      cwd: null,
      labels: {},
      sandbox: null,
      network: "backend",
      dns: ["10.0.0.53"],
      addHost: ["db:10.0.0.5"],
      networkAlias: ["web", "www"],
    }),
    [
      "run",
      "--rm",
      "--rootfs",
      "/r",
      "--network",
      "backend",
      "--dns",
      "10.0.0.53",
      "--add-host",
      "db:10.0.0.5",
      "--network-alias",
      "web",
      "--network-alias",
      "www",
      "api",
    ],
  );
});

Deno.test("a unit keeps the limits, the health check and the log cap", () => {
  assertEquals(
    runArgs("w", {
      bundle: null,
      rootfs: "/r",
      config: null,
      command: [],
      env: [],
      cwd: null,
      labels: {},
      sandbox: null,
      limits: { memory: 16 << 20, cpus: 1.5, pidsLimit: -1 },
      healthcheck: { cmd: "true", intervalMs: 500, timeoutMs: 1000, retries: 2, startPeriodMs: 0 },
      logMaxSize: 1 << 20,
    }),
    [
      "run",
      "--rm",
      "--rootfs",
      "/r",
      "--memory",
      String(16 << 20),
      "--cpus",
      "1.5",
      "--pids-limit",
      "-1",
      "--health-cmd",
      "true",
      "--health-interval",
      "500ms",
      "--health-timeout",
      "1000ms",
      "--health-retries",
      "2",
      "--health-start-period",
      "0ms",
      "--log-max-size",
      String(1 << 20),
      "w",
    ],
  );
});

Deno.test("every control character is escaped: the unit keeps its lines and verifies", async () => {
  const hostile = "a\rExecStartPost=/bin/false\nb\x1b[31m\t\x7f\x01";
  assertEquals(systemdQuote("x\ry"), '"x\\x0dy"');
  assertEquals(systemdQuote("x\ny\x1b"), '"x\\x0ay\\x1b"');
  const unit = systemdUnit({
    id: "w",
    request: {
      bundle: null,
      rootfs: "/",
      config: null,
      command: ["sh", "-c", hostile],
      env: [`MSG=${hostile}`],
      cwd: null,
      labels: { [`k${hostile}`]: hostile },
      sandbox: null,
      healthcheck: { cmd: hostile, intervalMs: 500, timeoutMs: 1000, retries: 2, startPeriodMs: 0 },
    },
    globals: { ...GLOBAL_DEFAULTS },
    berth: "/usr/bin/true",
    restartSec: 1,
  });
  // deno-lint-ignore no-control-regex
  assertEquals(unit.match(/[\x00-\x09\x0b-\x1f\x7f]/g), null, "a raw control character");
  assertEquals(unit.split("\n").filter((l) => l.startsWith("ExecStart=")).length, 1);
  assertEquals(unit.split("\n").filter((l) => l.startsWith("ExecStartPost=")).length, 0);
  let analyze = false;
  try {
    analyze = (await new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .output()).success;
  } catch { /* not installed */ }
  if (!analyze) {
    console.log("skipping systemd-analyze verify: systemd-analyze is not installed");
    return;
  }
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/berth-w.service`;
    await Deno.writeTextFile(file, unit);
    const v = await new Deno.Command("systemd-analyze", { args: ["verify", file], stderr: "piped" })
      .output();
    const err = new TextDecoder().decode(v.stderr);
    assertEquals([v.code, err], [0, ""]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether systemd-analyze runs here. */
async function haveAnalyze(): Promise<boolean> {
  try {
    return (await new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** The words of a command line as systemd-analyze's dump quotes them (shell double quotes). */
function dumpWords(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === " ") {
      i++;
      continue;
    }
    let w = "";
    let quoted = false;
    for (; i < line.length && (quoted || line[i] !== " "); i++) {
      if (line[i] === '"') quoted = !quoted;
      else if (line[i] === "\\") w += line[++i];
      else w += line[i];
    }
    out.push(w);
  }
  return out;
}

/**
 * What systemd makes of a stored command-line word when it runs it
 * (systemd.service(5) "Command lines"): `$$` is one `$`; any other `$` before a
 * name or `{` would be a variable expansion, which a quoted word must not hold.
 */
function execWord(w: string): string {
  let out = "";
  for (let i = 0; i < w.length; i++) {
    if (w[i] !== "$") {
      out += w[i];
    } else if (w[i + 1] === "$") {
      out += "$";
      i++;
    } else if (/[A-Za-z_{]/.test(w[i + 1] ?? "")) {
      throw new Error(`the word ${JSON.stringify(w)} expands a variable`);
    } else out += "$";
  }
  return out;
}

Deno.test(
  "systemd reads back $, %, quotes, a backslash and spaces as written: $$ only in command lines, %% everywhere",
  { ignore: !(await haveAnalyze()) },
  async () => {
    const v = `$HOME %h 'q' "d" \\b sp`;
    const root = `/tmp/r ${v}`;
    const unit = systemdUnit({
      id: "w",
      request: {
        bundle: null,
        rootfs: "/",
        config: null,
        command: ["echo", v],
        env: [`V=${v}`],
        cwd: null,
        labels: {},
        sandbox: null,
      },
      globals: { ...GLOBAL_DEFAULTS, root },
      berth: "/usr/bin/true",
      restartSec: 1,
    });
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/berth-w.service`;
      await Deno.writeTextFile(file, unit);
      // At debug level, verify dumps the unit as systemd parsed it.
      const r = await new Deno.Command("systemd-analyze", {
        args: ["verify", file],
        env: { SYSTEMD_LOG_LEVEL: "debug" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(r.code, 0);
      const dump = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      const values = (key: string) =>
        dump.split("\n").filter((l) => l.startsWith(`\t\t${key}: `)).map((l) =>
          l.slice(`\t\t${key}: `.length)
        );
      // Environment= and RequiresMountsFor= expand specifiers only: the value, byte for byte.
      assertEquals(values("Environment")[0], `BERTH_ROOT=${root}`);
      assertEquals(values("RequiresMountsFor").sort(), [
        "/tmp/r $HOME %h 'q' \"d\" \\b sp (origin-file)",
        "/var/lib/berth (origin-file)",
      ]);
      const start = dump.split("\n").find((l) => l.includes("Command Line: /usr/bin/true run "));
      assert(start !== undefined, dump);
      const argv = dumpWords(start.slice(start.indexOf("Command Line: ") + 14)).map(execWord);
      assertEquals(
        argv.slice(1),
        runArgs("w", {
          bundle: null,
          rootfs: "/",
          config: null,
          command: ["echo", v],
          env: [`V=${v}`],
          cwd: null,
          labels: {},
          sandbox: null,
        }),
      );
      assert(argv.includes(`V=${v}`) && argv.at(-1) === v, argv.join("|"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
