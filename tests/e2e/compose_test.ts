// berth compose end to end over a real registry (docker-registry on
// loopback, busybox pushed with skopeo), real runc, real bridges and
// iptables: a three-service app comes up in dependency order (an app that
// waits for a healthy backend, a backend with a named volume, a web server
// on a published port answering on 127.0.0.1), `up` again changes nothing,
// a changed environment recreates only that service, `down -v` leaves no
// container, network, volume or rule; -f base -f override; verbs (ps, logs,
// exec, run --rm, stop/start, port, config); malformed files create nothing;
// an `up` or `down` killed at any point is completed by the next one.

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  cleanup,
  eventually,
  freePort,
  freeTestSubnet,
  hasNetworking,
  makeRoots,
  type Roots,
  stateOf,
} from "../helpers.ts";
import { busyboxLayer, writeOciLayout } from "../image_fixture.ts";
import { haveRegistryTools, push, startRegistry } from "../image_registry.ts";

const ready = haveRegistryTools() && hasNetworking();
if (!ready) {
  console.log(
    "compose tests skipped: needs root, the CNI plugins, iptables and the registry tools",
  );
}
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

interface App {
  roots: Roots;
  image: string;
  /** Pushes busybox with `env` in its config as `image` (the tag moves to a new image). */
  repush: (env: string[]) => Promise<void>;
  dir: string;
  port: number;
  subnet: string;
  /** Runs `berth compose -f FILE... -p PROJECT ARGS`. */
  compose: (args: string[], files?: string[]) => ReturnType<typeof berth>;
}

/**
 * The project: unique to this run, as networks may be host-wide (another
 * root's test must not meet this one's `PROJECT_default`).
 */
const PROJECT = `shop${crypto.randomUUID().slice(0, 6)}`;

/** Runs `fn` with fresh roots, a registry holding busybox, and a directory for the files. */
async function withApp(fn: (app: App) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  const reg = await startRegistry();
  const dir = await Deno.makeTempDir({ prefix: "berth-compose-" });
  try {
    const layout = join(dir, "layout");
    await writeOciLayout(layout, "1", {
      layers: [busyboxLayer(await busyboxRootfs())],
      config: { Cmd: ["sh"], Env: ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"] },
    });
    const image = `${reg.host}/busybox:1`;
    await push(layout, "1", image);
    await Deno.mkdir(join(dir, "www"));
    await Deno.writeTextFile(join(dir, "www", "index.html"), "hello from web\n");
    const app: App = {
      roots,
      image,
      repush: async (env) => {
        const again = join(dir, `layout-${crypto.randomUUID().slice(0, 6)}`);
        await writeOciLayout(again, "1", {
          layers: [busyboxLayer(await busyboxRootfs())],
          config: { Cmd: ["sh"], Env: ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", ...env] },
        });
        await push(again, "1", image);
      },
      dir,
      port: freePort(),
      subnet: freeTestSubnet(),
      compose: (args, files = ["compose.yaml"]) =>
        berth(roots, [
          "compose",
          ...files.flatMap((f) => ["-f", join(dir, f)]),
          "-p",
          PROJECT,
          ...args,
        ]),
    };
    await fn(app);
  } finally {
    await berth(roots, ["compose", "-f", join(dir, "compose.yaml"), "-p", PROJECT, "down", "-v"])
      .catch(() => {});
    await cleanup(roots);
    await reg.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The three-service file: web (published port) -> app -> backend (healthy, named volume). */
function threeServices(app: App, appEnv = "one"): string {
  return [
    "version: '3.8'",
    "services:",
    "  web:",
    `    image: ${app.image}`,
    "    command: [httpd, -f, -p, '80', -h, /www]",
    `    ports: ['127.0.0.1:${app.port}:80']`,
    "    volumes: ['./www:/www:ro']",
    "    depends_on: [app]",
    "    stop_grace_period: 1s",
    "  app:",
    `    image: ${app.image}`,
    "    command: sleep 1000",
    "    stop_grace_period: 1s",
    "    environment:",
    `      MODE: ${appEnv}`,
    "    depends_on:",
    "      backend:",
    "        condition: service_healthy",
    "  backend:",
    `    image: ${app.image}`,
    "    command: [sh, -c, 'sleep 1; echo ready > /data/ready; exec sleep 1000']",
    "    volumes: [data:/data]",
    "    stop_grace_period: 1s",
    "    healthcheck:",
    "      test: [CMD, test, -f, /data/ready]",
    "      interval: 300ms",
    "      retries: 20",
    "networks:",
    "  default:",
    "    ipam:",
    `      config: [{subnet: ${app.subnet}}]`,
    "volumes:",
    "  data: {}",
  ].join("\n") + "\n";
}

async function get(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/index.html`);
  return await r.text();
}

async function iptablesMentions(text: string): Promise<boolean> {
  let all = "";
  for (const t of ["nat", "filter"]) {
    const out = await new Deno.Command("iptables-save", { args: ["-t", t], stdout: "piped" })
      .output();
    all += new TextDecoder().decode(out.stdout);
  }
  return all.includes(text);
}

const ids = ["backend", "app", "web"].map((s) => `${PROJECT}-${s}-1`);

Deno.test(
  "compose up -d: three services in dependency order, idempotent, a changed service recreated, down -v leaves nothing",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.writeTextFile(join(app.dir, "compose.yaml"), threeServices(app));
      const up = await app.compose(["up", "-d"]);
      assertEquals(up.code, 0, up.stderr);
      assertTrue(up.stderr.includes('"version" is obsolete'), up.stderr);
      const [backend, appS, web] = await Promise.all(ids.map((id) => stateOf(app.roots, id)));
      for (const s of [backend!, appS!, web!]) assertEquals(s.status, "running", JSON.stringify(s));
      // The app started only once the backend was healthy (its check passes after 1 s).
      const gap = Date.parse(appS!.startedAt as string) - Date.parse(backend!.startedAt as string);
      assertTrue(gap >= 900, `app started ${gap} ms after the backend`);
      assertEquals((await stateOf(app.roots, ids[0]!)).health, "healthy");
      // web answers on the published port of 127.0.0.1.
      assertEquals(await get(app.port), "hello from web\n");
      // Labels carry the project, service, number and config hash.
      const labels = web!.labels as Record<string, string>;
      assertEquals(labels["com.docker.compose.project"], PROJECT);
      assertEquals(labels["com.docker.compose.service"], "web");
      assertEquals(labels["com.docker.compose.container-number"], "1");
      assertTrue(/^[0-9a-f]{64}$/.test(labels["com.docker.compose.config-hash"]!));
      // The named volume and the network exist under the project's names.
      assertTrue((await berthOk(app.roots, ["volume", "ls"])).includes(`${PROJECT}_data`));
      assertTrue((await berthOk(app.roots, ["network", "ls"])).includes(`${PROJECT}_default`));
      // up again: nothing changes.
      const again = await app.compose(["up", "-d"]);
      assertEquals(again.code, 0, again.stderr);
      for (const id of ids) {
        assertTrue(again.stderr.includes(`Container ${id}  Running`), again.stderr);
      }
      const after = await Promise.all(ids.map((id) => stateOf(app.roots, id)));
      assertEquals(
        after.map((s) => [s.pid, s.createdAt]),
        [backend!, appS!, web!].map((s) => [s.pid, s.createdAt]),
      );
      // A changed environment recreates that service only.
      await Deno.writeTextFile(join(app.dir, "compose.yaml"), threeServices(app, "two"));
      const changed = await app.compose(["up", "-d"]);
      assertEquals(changed.code, 0, changed.stderr);
      assertTrue(changed.stderr.includes(`Container ${PROJECT}-app-1  Recreated`), changed.stderr);
      const now = await Promise.all(ids.map((id) => stateOf(app.roots, id)));
      assertEquals(now[0]!.pid, backend!.pid);
      assertEquals(now[2]!.pid, web!.pid);
      assertTrue(now[1]!.createdAt !== appS!.createdAt);
      const env = await app.compose(["exec", "app", "sh", "-c", "echo $MODE"]);
      assertEquals([env.code, env.stdout], [0, "two\n"], env.stderr);
      // ps lists the three.
      const ps = await app.compose(["ps", "-q"]);
      assertEquals(ps.stdout.trim().split("\n").sort(), [...ids].sort());
      // down -v: no container, network, volume or rule is left.
      const down = await app.compose(["down", "-v"]);
      assertEquals(down.code, 0, down.stderr);
      assertEquals(await berthOk(app.roots, ["list", "-q"]), "");
      assertTrue(!(await berthOk(app.roots, ["network", "ls"])).includes(`${PROJECT}_default`));
      assertTrue(!(await berthOk(app.roots, ["volume", "ls"])).includes(`${PROJECT}_data`));
      assertTrue(!(await iptablesMentions(`${app.port}`)), "a rule names the published port");
      // down again: nothing to do, no error.
      assertEquals((await app.compose(["down", "-v"])).code, 0);
    });
  },
);

Deno.test(
  "compose -f base.yaml -f override.yaml; logs, exec, run --rm, stop/start, port, config",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.writeTextFile(
        join(app.dir, "base.yaml"),
        [
          "services:",
          "  web:",
          `    image: ${app.image}`,
          "    command: [sh, -c, 'echo started $$GREETING; exec httpd -f -p 80 -h /www']",
          "    environment: {GREETING: base, KEEP: kept}",
          "    volumes: ['./www:/www:ro']",
          "    stop_grace_period: 1s",
          "  worker:",
          `    image: ${app.image}`,
          "    command: sh -c 'echo working; sleep 1000'",
          "    stop_grace_period: 1s",
          "    deploy: {replicas: 2, resources: {limits: {memory: 64m, pids: 50}}}",
          "networks:",
          "  default:",
          `    ipam: {config: [{subnet: ${app.subnet}}]}`,
        ].join("\n") + "\n",
      );
      await Deno.writeTextFile(
        join(app.dir, "override.yaml"),
        [
          "services:",
          "  web:",
          "    environment: {GREETING: override}",
          `    ports: ['127.0.0.1:${app.port}:80']`,
        ].join("\n") + "\n",
      );
      const files = ["base.yaml", "override.yaml"];
      const up = await app.compose(["up", "-d"], files);
      assertEquals(up.code, 0, up.stderr);
      const config = await app.compose(["config"], files);
      assertEquals(config.code, 0, config.stderr);
      assertTrue(
        config.stdout.includes("GREETING: override") && config.stdout.includes("KEEP: kept"),
        config.stdout,
      );
      assertEquals(await get(app.port), "hello from web\n");
      // Two replicas of the worker, with their limits.
      const w2 = await stateOf(app.roots, `${PROJECT}-worker-2`);
      assertEquals(w2.status, "running");
      const pids = await app.compose([
        "exec",
        "--index",
        "2",
        "worker",
        "cat",
        "/sys/fs/cgroup/pids/pids.max",
      ], files);
      assertEquals(pids.stdout, "50\n", pids.stderr);
      // logs: every container's lines, prefixed with its name.
      await eventually(
        async () => (await app.compose(["logs"], files)).stdout.includes("worker-2 | working"),
        5000,
        "worker logs",
      );
      const logs = await app.compose(["logs", "web"], files);
      assertEquals(logs.stdout, "web-1 | started override\n", logs.stderr);
      // top: each container's processes; ps: the table.
      const top = await app.compose(["top", "web"], files);
      assertTrue(
        top.stdout.startsWith(`${PROJECT}-web-1\n`) && top.stdout.includes("httpd -f"),
        top.stdout,
      );
      const table = (await app.compose(["ps"], files)).stdout.split("\n");
      assertTrue(/^NAME\s+IMAGE\s+SERVICE\s+STATUS\s+PORTS$/.test(table[0]!), table[0]);
      assertTrue(
        table.some((l) =>
          l.startsWith(`${PROJECT}-web-1 `) && l.includes(`127.0.0.1:${app.port}->80/tcp`)
        ),
        table.join("\n"),
      );
      // port, exec, run --rm.
      const port = await app.compose(["port", "web", "80"], files);
      assertEquals(port.stdout, `127.0.0.1:${app.port}\n`, port.stderr);
      const ex = await app.compose(["exec", "web", "cat", "/www/index.html"], files);
      assertEquals([ex.code, ex.stdout], [0, "hello from web\n"], ex.stderr);
      const run = await app.compose(
        ["run", "--rm", "worker", "sh", "-c", "echo one-off; exit 3"],
        files,
      );
      assertEquals([run.code, run.stdout], [3, "one-off\n"], run.stderr);
      assertEquals((await berthOk(app.roots, ["list", "-q"])).trim().split("\n").length, 3);
      // stop / start.
      assertEquals((await app.compose(["stop", "worker"], files)).code, 0);
      assertEquals((await stateOf(app.roots, `${PROJECT}-worker-1`)).status, "stopped");
      assertEquals((await app.compose(["ps", "-q"], files)).stdout, `${PROJECT}-web-1\n`);
      assertEquals((await app.compose(["start"], files)).code, 0);
      assertEquals((await stateOf(app.roots, `${PROJECT}-worker-1`)).status, "running");
      // Fewer replicas: the extra one goes.
      await Deno.writeTextFile(
        join(app.dir, "override.yaml"),
        (await Deno.readTextFile(join(app.dir, "override.yaml"))) + "  worker:\n    scale: 1\n",
      );
      assertEquals((await app.compose(["up", "-d"], files)).code, 0);
      assertEquals((await berth(app.roots, ["state", `${PROJECT}-worker-2`])).code, 3);
      // A service gone from the files: its container is an orphan, removed with --remove-orphans.
      await Deno.writeTextFile(
        join(app.dir, "override.yaml"),
        (await Deno.readTextFile(join(app.dir, "override.yaml"))) + "    profiles: [off]\n",
      );
      const orphan = await app.compose(["up", "-d"], files);
      assertTrue(orphan.stderr.includes("orphan"), orphan.stderr);
      assertEquals((await stateOf(app.roots, `${PROJECT}-worker-1`)).status, "running");
      assertEquals((await app.compose(["up", "-d", "--remove-orphans"], files)).code, 0);
      assertEquals((await berth(app.roots, ["state", `${PROJECT}-worker-1`])).code, 3);
      assertEquals((await app.compose(["down"], files)).code, 0);
      assertEquals(await berthOk(app.roots, ["list", "-q"]), "");
    });
  },
);

Deno.test(
  "compose: a malformed file is one line, exit 2, and nothing is created",
  OPTS,
  async () => {
    await withApp(async (app) => {
      const cases: [string, string][] = [
        ["services:\n  web:\n    image: x\n    ports: ['80:99999']\n", "services.web.ports[0]"],
        ["services:\n  web:\n    image: x\n    depends_on: [db]\n", "services.web.depends_on"],
        ["services:\n  web:\n    image: x\n   bad: indent\n", "compose.yaml:"],
        ["services:\n  web:\n    image: ${NOPE:?is required}\n", "services.web.image"],
      ];
      for (const [text, where] of cases) {
        await Deno.writeTextFile(join(app.dir, "compose.yaml"), text);
        const r = await app.compose(["up", "-d"]);
        assertEquals(r.code, 2, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assertTrue(r.stderr.startsWith("berth: ") && r.stderr.includes(where), r.stderr);
      }
      assertEquals(await berthOk(app.roots, ["list", "-q"]), "");
      assertTrue(!(await berthOk(app.roots, ["network", "ls"])).includes(PROJECT));
      // Bad usage is exit 2 as well.
      assertEquals((await app.compose(["up", "--bogus"])).code, 2);
      assertEquals((await app.compose(["nope"])).code, 2);
    });
  },
);

Deno.test(
  "compose: an up killed at any point is completed by the next up, a killed down by the next down",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.writeTextFile(join(app.dir, "compose.yaml"), threeServices(app));
      const killedRun = (args: string[], point: string) =>
        berth(app.roots, [
          "compose",
          "-f",
          join(app.dir, "compose.yaml"),
          "-p",
          PROJECT,
          ...args,
        ], { BERTH_CRASH_AT: point });
      const pairs: [string, string][] = [
        ["compose:networks", "compose:containers"],
        ["create:recorded", "delete:recorded"],
        ["create:runtime", "delete:runtime"],
        ["compose:service", "delete:network"],
        ["compose:service@2", "delete:unmounted"],
      ];
      for (const [upPoint, downPoint] of pairs) {
        const killed = await killedRun(["up", "-d"], upPoint);
        assertEquals(killed.code, 137, `${upPoint}: ${killed.stderr}`);
        const up = await app.compose(["up", "-d"]);
        assertEquals(up.code, 0, `${upPoint}: ${up.stderr}`);
        for (const id of ids) assertEquals((await stateOf(app.roots, id)).status, "running", id);
        assertEquals(await get(app.port), "hello from web\n");
        const down = await killedRun(["down", "-v"], downPoint);
        assertEquals(down.code, 137, `${downPoint}: ${down.stderr}`);
        const again = await app.compose(["down", "-v"]);
        assertEquals(again.code, 0, `${downPoint}: ${again.stderr}`);
        assertEquals(await berthOk(app.roots, ["list", "-q"]), "", downPoint);
        assertTrue(!(await berthOk(app.roots, ["network", "ls"])).includes(`${PROJECT}_default`));
        assertTrue(!(await berthOk(app.roots, ["volume", "ls"])).includes(`${PROJECT}_data`));
        assertTrue(!(await iptablesMentions(`${app.port}`)), `${downPoint}: a rule is left`);
      }
    });
  },
);

Deno.test(
  "compose: services reach each other by service name on the project network",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.writeTextFile(join(app.dir, "compose.yaml"), threeServices(app));
      assertEquals((await app.compose(["up", "-d"])).code, 0);
      const r = await app.compose([
        "exec",
        "app",
        "wget",
        "-q",
        "-O",
        "-",
        "http://web/index.html",
      ]);
      assertEquals([r.code, r.stdout], [0, "hello from web\n"], r.stderr);
    });
  },
);

Deno.test(
  "compose up (foreground): prefixed output of every service, completed_successfully ordering, Ctrl-C stops them",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.writeTextFile(
        join(app.dir, "compose.yaml"),
        [
          "services:",
          "  migrate:",
          `    image: ${app.image}`,
          "    command: [sh, -c, 'echo migrated > /data/done']",
          "    volumes: [data:/data]",
          "  worker:",
          `    image: ${app.image}`,
          "    command: [sh, -c, 'cat /data/done; echo working; exec sleep 1000']",
          "    volumes: [data:/data]",
          "    stop_grace_period: 1s",
          "    depends_on:",
          "      migrate: {condition: service_completed_successfully}",
          "networks:",
          "  default:",
          `    ipam: {config: [{subnet: ${app.subnet}}]}`,
          "volumes:",
          "  data:",
        ].join("\n") + "\n",
      );
      const [exe, ...pre] = berthArgv();
      const child = new Deno.Command(exe!, {
        args: [...pre, "compose", "-f", join(app.dir, "compose.yaml"), "-p", PROJECT, "up"],
        env: app.roots.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let out = "";
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const deadline = Date.now() + 60_000;
      while (!out.includes("worker-1  | working\n") && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      assertTrue(out.includes("worker-1  | migrated\n"), out);
      assertTrue(out.includes("worker-1  | working\n"), out);
      child.kill("SIGINT");
      const [status, err] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })(),
      ]);
      assertEquals(status.code, 130, err);
      assertEquals((await stateOf(app.roots, `${PROJECT}-worker-1`)).status, "stopped");
      const migrate = await stateOf(app.roots, `${PROJECT}-migrate-1`);
      assertEquals([migrate.status, migrate.exitCode], ["stopped", 0]);
    });
  },
);

Deno.test("compose: two concurrent up -d make each container once", OPTS, async () => {
  await withApp(async (app) => {
    await Deno.writeTextFile(join(app.dir, "compose.yaml"), threeServices(app));
    const [a, b] = await Promise.all([app.compose(["up", "-d"]), app.compose(["up", "-d"])]);
    assertEquals([a.code, b.code], [0, 0], a.stderr + b.stderr);
    assertEquals(
      (await berthOk(app.roots, ["list", "-q"])).trim().split("\n").sort(),
      [...ids].sort(),
    );
    assertEquals(await get(app.port), "hello from web\n");
  });
});

Deno.test(
  "compose up --build: a build: service is built by berth build and runs; down --rmi local removes its image",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.mkdir(join(app.dir, "ctx"));
      await Deno.writeTextFile(
        join(app.dir, "ctx", "Containerfile"),
        `FROM ${app.image}\nARG WORD=none\nRUN echo built-$WORD > /built.txt\nCMD [\"sleep\", \"1000\"]\n`,
      );
      await Deno.writeTextFile(
        join(app.dir, "compose.yaml"),
        [
          "services:",
          "  made:",
          "    build: {context: ./ctx, args: {WORD: here}}",
          "    stop_grace_period: 1s",
          "networks:",
          "  default:",
          `    ipam: {config: [{subnet: ${app.subnet}}]}`,
        ].join("\n") + "\n",
      );
      const up = await app.compose(["up", "-d", "--build"]);
      assertEquals(up.code, 0, up.stderr);
      const r = await app.compose(["exec", "made", "cat", "/built.txt"]);
      assertEquals([r.code, r.stdout], [0, "built-here\n"], r.stderr);
      assertTrue((await berthOk(app.roots, ["images"])).includes(`${PROJECT}-made`));
      assertEquals((await app.compose(["down", "--rmi", "local"])).code, 0);
      assertTrue(!(await berthOk(app.roots, ["images"])).includes(`${PROJECT}-made`));
    });
  },
);

Deno.test(
  "compose: a file written for docker compose runs unchanged (version, container_name, links, expose, long syntax, env_file list, extends)",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.writeTextFile(join(app.dir, "common.env"), "COMMON=1\n# comment\nLEVEL=base\n");
      await Deno.writeTextFile(join(app.dir, "db.env"), "LEVEL=db\n");
      await Deno.writeTextFile(
        join(app.dir, "compose.yaml"),
        [
          'version: "3.7"',
          "x-common: &common",
          "  stop_grace_period: 1s",
          "services:",
          "  base:",
          `    image: ${app.image}`,
          "    command: sleep 1000",
          "    <<: *common",
          "  db:",
          "    extends: {service: base}",
          `    container_name: ${PROJECT}-the-db`,
          "    env_file: [common.env, db.env]",
          "    expose: ['5432']",
          "    volumes:",
          "      - {type: volume, source: dbdata, target: /var/lib/db}",
          "  web:",
          "    extends: base",
          "    command: [httpd, -f, -p, '80', -h, /www]",
          "    links: ['db:database']",
          "    ports:",
          `      - {target: 80, published: ${app.port}, host_ip: 127.0.0.1, protocol: tcp}`,
          "    volumes:",
          "      - {type: bind, source: ./www, target: /www, read_only: true}",
          "networks:",
          "  default:",
          `    ipam: {config: [{subnet: ${app.subnet}}]}`,
          "volumes:",
          "  dbdata:",
        ].join("\n") + "\n",
      );
      const up = await app.compose(["up", "-d"]);
      assertEquals(up.code, 0, up.stderr);
      assertTrue(up.stderr.includes('"version" is obsolete'), up.stderr);
      // web (links: db) came after db; db is the container_name.
      const db = await stateOf(app.roots, `${PROJECT}-the-db`);
      const web = await stateOf(app.roots, `${PROJECT}-web-1`);
      assertEquals([db.status, web.status], ["running", "running"]);
      assertTrue(Date.parse(web.createdAt as string) >= Date.parse(db.createdAt as string));
      const env = await app.compose(["exec", "db", "sh", "-c", "echo $COMMON $LEVEL"]);
      assertEquals(env.stdout, "1 db\n", env.stderr);
      assertEquals(await get(app.port), "hello from web\n");
      const ro = await app.compose([
        "exec",
        "web",
        "sh",
        "-c",
        "touch /www/x 2>/dev/null || echo ro",
      ]);
      assertEquals(ro.stdout, "ro\n", ro.stderr);
      assertTrue((await berthOk(app.roots, ["volume", "ls"])).includes(`${PROJECT}_dbdata`));
      assertEquals((await app.compose(["down", "-v"])).code, 0);
      assertEquals(await berthOk(app.roots, ["list", "-q"]), "");
    });
  },
);

Deno.test(
  "compose pull + up: containers of an image whose tag moved to a new image are recreated",
  OPTS,
  async () => {
    await withApp(async (app) => {
      await Deno.writeTextFile(
        join(app.dir, "compose.yaml"),
        [
          "services:",
          "  a:",
          `    image: ${app.image}`,
          "    command: [sh, -c, 'echo v=$$V; exec sleep 1000']",
          "    stop_grace_period: 1s",
          "  b:",
          `    image: ${app.image}`,
          "    command: sleep 1000",
          "    pull_policy: never",
          "    stop_grace_period: 1s",
          "networks:",
          "  default:",
          `    ipam: {config: [{subnet: ${app.subnet}}]}`,
        ].join("\n") + "\n",
      );
      assertEquals((await app.compose(["up", "-d"])).code, 0);
      const before = await Promise.all(
        ["a", "b"].map((s) => stateOf(app.roots, `${PROJECT}-${s}-1`)),
      );
      await app.repush(["V=2"]);
      // up alone does not look at the registry: nothing changes.
      const same = await app.compose(["up", "-d"]);
      assertTrue(same.stderr.includes(`Container ${PROJECT}-a-1  Running`), same.stderr);
      const pull = await app.compose(["pull", "a"]);
      assertEquals(pull.code, 0, pull.stderr);
      const up = await app.compose(["up", "-d"]);
      assertEquals(up.code, 0, up.stderr);
      // b's name points to the new image as well (one store): both are recreated.
      assertTrue(up.stderr.includes(`Container ${PROJECT}-a-1  Recreated`), up.stderr);
      const after = await Promise.all(
        ["a", "b"].map((s) => stateOf(app.roots, `${PROJECT}-${s}-1`)),
      );
      assertTrue(after[0]!.pid !== before[0]!.pid);
      const logs = await app.compose(["logs", "a"]);
      assertTrue(logs.stdout.endsWith("a-1 | v=2\n"), logs.stdout);
      assertEquals((await app.compose(["down"])).code, 0);
    });
  },
);
