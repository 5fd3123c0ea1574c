// `--format TEMPLATE` (a Go text/template) on inspect, images, volume ls,
// network ls and stats, and inspect in podman's shape: real containers,
// real runc, the berth process as users run it.

import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthOk,
  freePort,
  freeTestSubnet,
  hasNetworking,
  stateOf,
  withRoots,
} from "../helpers.ts";
import { tarOf, writeOciLayout } from "../image_fixture.ts";
import { join } from "../../lib/_std/path.ts";

Deno.test("inspect --format: State.Status follows the container (created, running, exited); json; one line each", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "c0", "--", "true"]);
    await berthOk(roots, [
      "run",
      "-d",
      "-e",
      "K=V w",
      "--rootfs",
      rootfs,
      "c1",
      "--",
      "sleep",
      "100",
    ]);
    assertEquals(
      await berthOk(roots, ["inspect", "--format", "{{.State.Status}}", "c1"]),
      "running\n",
    );
    assertEquals(await berthOk(roots, ["inspect", "-f", "{{.State.Status}}", "c0"]), "created\n");
    const env = JSON.parse(await berthOk(roots, ["inspect", "-f", "{{json .Config.Env}}", "c1"]));
    assert(env.includes("K=V w"), String(env));
    assertEquals(
      await berthOk(roots, [
        "inspect",
        "-f",
        "{{.Name}}\\t{{.State.Running}}\\t{{.Path}}",
        "c1",
        "c0",
      ]),
      "c1\ttrue\tsleep\nc0\tfalse\ttrue\n",
    );
    // --network none: no address, printed as podman does (an empty string).
    assertEquals(
      await berthOk(roots, ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "c1"]),
      "\n",
    );
    const pid = (await stateOf(roots, "c1")).pid;
    assertEquals(await berthOk(roots, ["inspect", "-f", "{{.State.Pid}}", "c1"]), `${pid}\n`);
    await berthOk(roots, ["kill", "c1", "KILL"]);
    assertEquals((await berthOk(roots, ["wait", "c1"])).trim(), "137");
    assertEquals(
      await berthOk(roots, ["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "c1"]),
      "exited 137\n",
    );
    // The JSON form: podman's fields, berth's own entry (status "stopped") under Berth.
    const [c] = JSON.parse(await berthOk(roots, ["inspect", "c1"]));
    assertEquals([c.Id, c.Name, c.State.Status, c.State.Running, c.State.Pid], [
      "c1",
      "c1",
      "exited",
      false,
      0,
    ]);
    assertEquals(c.Berth.status, "stopped");
    assertEquals(c.Berth.config.process.args, ["sleep", "100"]);
    assertEquals(c.State.StartedAt, c.Berth.startedAt);
    assertEquals(c.State.FinishedAt, c.Berth.exitedAt);
    assertEquals([c.Config.Cmd, c.Args], [["sleep", "100"], ["100"]]);
    assertEquals(c.HostConfig.NetworkMode, "none");
    // --format json and --format table keep meaning the JSON array.
    assertEquals(JSON.parse(await berthOk(roots, ["inspect", "--format", "json", "c1"])), [c]);
  });
});

Deno.test("a template error is exit 2, one line naming the column, nothing on stdout", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "c1", "--", "true"]);
    await berthOk(roots, ["create", "--rootfs", rootfs, "c2", "--", "true"]);
    const cases: [string[], string][] = [
      [
        ["inspect", "--format", "{{.State.Status}} {{nope .X}}", "c1"],
        'template: column 21: function "nope" not defined',
      ],
      [["inspect", "-f", "{{.State.Status", "c1"], "template: column 1: unclosed action"],
      [
        ["inspect", "-f", "{{if .State.Running}}up", "c1"],
        "template: column 24: unexpected EOF (the {{if}} at column 3 has no {{end}})",
      ],
      // Found while executing, on the second container: still nothing printed.
      [
        ["inspect", "-f", "{{.Name}} {{.Name.First}}", "c1", "c2"],
        "template: column 13: can't evaluate field First in type string",
      ],
      [["volume", "ls", "--format", "{{.Name}"], 'template: column 8: unexpected "}" in action'],
      [
        ["images", "--format", "{{join .Tag}}"],
        "template: column 3: wrong number of args for join: want 2 got 1",
      ],
      [["network", "ls", "--format", "{{end}}"], "template: column 3: unexpected {{end}}"],
      [
        ["stats", "--no-stream", "--format", "{{.ID}"],
        'template: column 6: unexpected "}" in action',
      ],
    ];
    for (const [args, message] of cases) {
      const r = await berth(roots, args);
      assertEquals([r.code, r.stdout, r.stderr], [2, "", `berth: ${message}\n`], args.join(" "));
    }
  });
});

Deno.test("volume ls, network ls and images take a template; their default output stays", async () => {
  await withRoots(async (roots) => {
    for (const v of ["alpha", "beta"]) await berthOk(roots, ["volume", "create", v]);
    const before = await berthOk(roots, ["volume", "ls"]);
    assert(before.startsWith("NAME "), before);
    assertEquals(await berthOk(roots, ["volume", "ls", "--format", "{{.Name}}"]), "alpha\nbeta\n");
    assertEquals(
      await berthOk(roots, ["volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Mountpoint}}"]),
      ["alpha", "beta"].map((v) =>
        `${v} local ${join(roots.dataRoot, "volumes", "default", v, "_data")}\n`
      ).join(""),
    );
    assertEquals(
      await berthOk(roots, ["volume", "ls", "--format", "table {{.Name}}\\t{{.Driver}}"]),
      "VOLUME NAME  DRIVER\nalpha        local\nbeta         local\n",
    );
    assertEquals(await berthOk(roots, ["volume", "ls", "--format", "table"]), before);
    const nets = await berthOk(roots, ["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert(nets.split("\n").includes("bridge bridge"), nets);
    assert(
      (await berthOk(roots, ["network", "ls"])).startsWith("NAME"),
      "network ls keeps its table",
    );

    const dir = await Deno.makeTempDir({ prefix: "berth-format-" });
    try {
      await writeOciLayout(dir, "example.com/fmt/app:1.2", {
        layers: [tarOf([{ name: "f", data: "x" }])],
        config: { Cmd: ["true"] },
        created: "2026-01-02T03:04:05Z",
      });
      await berthOk(roots, ["load", "-q", "-i", dir]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(
      await berthOk(roots, ["images", "--format", "{{.Repository}}:{{.Tag}}"]),
      "example.com/fmt/app:1.2\n",
    );
    const id = (await berthOk(roots, ["images", "-q"])).trim();
    assertEquals(
      await berthOk(roots, ["images", "--format", "{{.ID}} {{.CreatedAt}}"]),
      `${id} 2026-01-02T03:04:05Z\n`,
    );
    assertEquals(
      await berthOk(roots, ["images", "--format", "table {{.Repository}}\\t{{.ID}}"]),
      `REPOSITORY           IMAGE ID\nexample.com/fmt/app  ${id}\n`,
    );
    assert((await berthOk(roots, ["images"])).startsWith("REPOSITORY"), "images keeps its table");
    const [img] = JSON.parse(await berthOk(roots, ["image", "inspect", "example.com/fmt/app:1.2"]));
    assertEquals(img.RepoTags, ["example.com/fmt/app:1.2"]);
    assertEquals(img.Id.slice(0, 12), id);
    assertEquals(img.Config.Cmd, ["true"]);
    assertEquals(img.RootFS.Layers.length, 1);
    assertEquals(img.Berth.config.config.Cmd, ["true"]);
  });
});

Deno.test("stats --no-stream --format with podman's field names", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "s1", "--", "sleep", "100"]);
    const line = await berthOk(roots, [
      "stats",
      "--no-stream",
      "--format",
      "{{.Name}} {{.PIDs}} {{.CPUPerc}} {{.MemUsage}}",
      "s1",
    ]);
    assert(/^s1 1 \d+\.\d\d% \S+ \/ \S+\n$/.test(line), line);
    const table = await berthOk(roots, [
      "stats",
      "--no-stream",
      "--format",
      "table {{.ID}}\\t{{.CPUPerc}}\\t{{.PIDs}}",
      "s1",
    ]);
    assert(/^ID {10}CPU % {7}PIDS\ns1 {10}\S+ +1\n$/.test(table), table);
  });
});

Deno.test({
  name: "inspect -f shows the address, gateway and published ports of a bridge network",
  ignore: !hasNetworking(),
  fn: () =>
    withRoots(async (roots, rootfs) => {
      await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), "fmtnet"]);
      const port = freePort();
      await berthOk(roots, [
        "run",
        "-d",
        "--network",
        "fmtnet",
        "-p",
        `127.0.0.1:${port}:8080`,
        "--rootfs",
        rootfs,
        "n1",
        "--",
        "sleep",
        "100",
      ]);
      const s = await stateOf(roots, "n1") as { network: { ip: string } };
      assertEquals(
        await berthOk(roots, ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "n1"]),
        `${s.network.ip}\n`,
      );
      // The podman idiom for a container's address on whatever network it is on.
      assertEquals(
        await berthOk(roots, [
          "inspect",
          "--format",
          "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
          "n1",
        ]),
        `${s.network.ip}\n`,
      );
      const [c] = JSON.parse(await berthOk(roots, ["inspect", "n1"]));
      const want = { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] };
      assertEquals(c.HostConfig.PortBindings, want);
      assertEquals(c.NetworkSettings.Ports, want);
      assertEquals(c.NetworkSettings.Networks.fmtnet.IPAddress, s.network.ip);
      const [net] = JSON.parse(await berthOk(roots, ["network", "inspect", "fmtnet"]));
      assertEquals(c.NetworkSettings.Gateway, net.gateway);
      assert(
        /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(c.NetworkSettings.MacAddress),
        c.NetworkSettings.MacAddress,
      );
      assertEquals(
        await berthOk(roots, [
          "inspect",
          "-f",
          '{{index .NetworkSettings.Networks "fmtnet" | json}}',
          "n1",
        ]),
        JSON.stringify(c.NetworkSettings.Networks.fmtnet) + "\n",
      );
      await berthOk(roots, ["delete", "-f", "n1"]);
      await berthOk(roots, ["network", "rm", "fmtnet"]);
    }),
});
