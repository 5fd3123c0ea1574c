// The compose model (lib/compose/_load.ts and friends) over real files in a
// temporary directory: interpolation and .env, several files merged,
// extends, profiles, short and long syntax, env_file lists, the project
// name's normalisation, warnings for unknown and obsolete keys, and the
// one-line, key-path errors of malformed files.
import { join } from "../lib/_std/path.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { interpolate, parseDotEnv } from "../lib/compose/_interpolate.ts";
import { type LoadOptions, loadProject } from "../lib/compose/_load.ts";
import { normalizeProjectName } from "../lib/compose/_project_name.ts";
import { configHash, createRequestOf } from "../lib/compose/_plan.ts";
import type { Project } from "../lib/compose/_model.ts";
import { configYaml } from "../lib/compose/_print.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./assert.ts";
import { tempDir } from "./temp_dir.ts";

/** Loads `files` (name → text) written into a fresh directory. */
async function load(
  files: Record<string, string>,
  o: Partial<LoadOptions> = {},
  env: Record<string, string> = {},
): Promise<{ project: Project; warnings: string[]; dir: string }> {
  await using dir = await tempDir("berth-compose-");
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(dir.path, name), text);
  }
  const warnings: string[] = [];
  const project = await loadProject({
    files: [],
    projectName: null,
    profiles: [],
    envFile: null,
    cwd: dir.path,
    env: (k) => env[k],
    warn: (m) => warnings.push(m),
    ...o,
  });
  return { project, warnings, dir: dir.path };
}

Deno.test("interpolation: ${VAR}, $VAR, defaults, alternatives, $$ and required variables", () => {
  const env = (k: string) => ({ A: "a", E: "" } as Record<string, string>)[k];
  assertEquals(interpolate("x${A}y$A-$$A", env, "p"), "xay a-$A".replace(" ", ""));
  assertEquals(interpolate("${B:-def}|${E:-def}|${E-def}|${B-d2}", env, "p"), "def|def||d2");
  assertEquals(interpolate("${A:+alt}|${B:+alt}|${E+set}", env, "p"), "alt||set");
  assertEquals(interpolate("${B:-${A}x}", env, "p"), "ax");
  assertThrows(
    () => interpolate("${B:?needs B}", env, "services.web.image"),
    InvalidArgument,
    "services.web.image: required variable B is unset: needs B",
  );
  assertThrows(() => interpolate("${A", env, "k"), InvalidArgument, "unclosed");
});

Deno.test(".env: quotes, export, comments, and earlier keys visible to later ones", () => {
  const text = "export A=1\n# c\nB=\"x\\ny ${A}\"\nC='$A'\nD=v # comment\n";
  assertEquals(parseDotEnv(text, ".env", () => undefined), {
    A: "1",
    B: "x\ny 1",
    C: "$A",
    D: "v",
  });
});

Deno.test("project names are normalised to the ID rules", () => {
  assertEquals(normalizeProjectName("My_App.v2", "-p"), "my-app-v2");
  assertEquals(normalizeProjectName("--x--", "-p"), "x");
  assertThrows(() => normalizeProjectName("__", "-p"), InvalidArgument, "-p");
});

Deno.test("a file with short syntax, extends, env_file lists and .env interpolation", async () => {
  const { project, warnings, dir } = await load(
    {
      "compose.yaml": [
        'version: "3.9"',
        "services:",
        "  base:",
        "    image: busybox",
        "    environment: {FROM_BASE: b, OVER: base}",
        "    labels: [a=1]",
        "  web:",
        "    extends: base",
        "    image: ${IMAGE:-busybox}:${TAG}",
        "    command: sh -c 'echo \"hi there\"'",
        "    ports: ['8080:80', '127.0.0.1:9000-9001:90-91/udp', {target: 443, published: '8443'}]",
        "    expose: ['3000']",
        "    volumes: ['data:/data', './site:/www:ro', '/anon', {type: tmpfs, target: /t, tmpfs: {size: 1m}}]",
        "    env_file: [a.env, {path: missing.env, required: false}]",
        "    environment: [OVER=web, FROM_SHELL]",
        "    container_name: the-web",
        "    links: ['base:b1']",
        "    restart: on-failure:3",
        "    healthcheck: {test: [CMD, wget, -q, 'http://x/'], interval: 1m30s, retries: 2}",
        "    deploy: {resources: {limits: {memory: 64M, cpus: '0.5', pids: 50}}}",
        "    logging: {driver: x}",
        "volumes:",
        "  data:",
      ].join("\n"),
      ".env": "TAG=1.36\n",
      "a.env": "FROM_FILE=f\nOVER=file\n",
    },
    {},
    { FROM_SHELL: "s" },
  );
  assertEquals(project.name.startsWith("berth-compose-"), true);
  const web = project.services.web!;
  assertEquals(web.image, "busybox:1.36");
  assertEquals(web.command, ["sh", "-c", 'echo "hi there"']);
  assertEquals(web.environment, { FROM_BASE: "b", OVER: "web", FROM_FILE: "f", FROM_SHELL: "s" });
  assertEquals(web.labels, { a: "1" });
  assertEquals(web.ports, [
    { target: 80, published: 8080, protocol: "tcp" },
    { target: 90, published: 9000, host_ip: "127.0.0.1", protocol: "udp" },
    { target: 91, published: 9001, host_ip: "127.0.0.1", protocol: "udp" },
    { target: 443, published: 8443, protocol: "tcp" },
  ]);
  assertEquals(web.volumes, [
    { type: "volume", source: "data", target: "/data", read_only: false },
    { type: "bind", source: join(dir, "site"), target: "/www", read_only: true },
    { type: "volume", target: "/anon", read_only: false },
    { type: "tmpfs", target: "/t", read_only: false, tmpfs_size: 1 << 20 },
  ]);
  assertEquals(web.restart, "on-failure");
  assertEquals(web.healthcheck, { test: "wget -q http://x/", interval_ms: 90_000, retries: 2 });
  assertEquals(web.limits, { memory: 64 << 20, cpus: 0.5, pids: 50 });
  assertEquals(project.volumes.data, { name: `${project.name}_data`, external: false });
  assertEquals(project.networks.default, { name: `${project.name}_default`, external: false });
  assertTrue(warnings.some((w) => w.includes('"version" is obsolete')), warnings.join("\n"));
  assertTrue(warnings.some((w) => w.includes("services.web.logging")), warnings.join("\n"));
  // The create request: the container name, volumes by berth name, the alias of the link.
  const req = createRequestOf(project, "base", { id: "p-base-1", number: 1, hash: "h" });
  assertEquals(req.networkAlias, ["base", "b1"]);
  const wreq = createRequestOf(project, "web", { id: "the-web", number: 1, hash: "h" });
  assertEquals(wreq.mounts?.map((m) => m.source), [
    `${project.name}_data`,
    join(dir, "site"),
    `${project.name}_web-1_anon-2`,
    null,
  ]);
  assertEquals(wreq.publish?.slice(0, 2), ["8080:80/tcp", "127.0.0.1:9000:90/udp"]);
  assertEquals(wreq.limits, { memory: 64 << 20, cpus: 0.5, pidsLimit: 50 });
  assertEquals(wreq.restart, "on-failure");
});

Deno.test("-f base -f override: merge rules; -p, profiles and COMPOSE_PROJECT_NAME", async () => {
  const files = {
    "base.yaml": [
      "name: fromfile",
      "services:",
      "  web:",
      "    image: busybox",
      "    command: [sleep, '1']",
      "    environment: {A: '1', B: '2'}",
      "    ports: ['80:80']",
      "    volumes: ['/x:/data', '/y:/keep']",
      "  dbg:",
      "    image: busybox",
      "    profiles: [debug]",
    ].join("\n"),
    "override.yaml": [
      "services:",
      "  web:",
      "    command: [sleep, '2']",
      "    environment: {B: '3'}",
      "    ports: ['81:81']",
      "    volumes: ['/z:/data']",
    ].join("\n"),
  };
  const { project } = await load(files, { files: ["base.yaml", "override.yaml"] });
  assertEquals(project.name, "fromfile");
  const web = project.services.web!;
  assertEquals(web.command, ["sleep", "2"]);
  assertEquals(web.environment, { A: "1", B: "3" });
  assertEquals(web.ports.map((p) => p.published), [80, 81]);
  assertEquals(web.volumes.map((v) => `${v.source}:${v.target}`), ["/y:/keep", "/z:/data"]);
  assertEquals(Object.keys(project.services), ["web"]);
  const withProfile = await load(files, { files: ["base.yaml"], profiles: ["debug"] });
  assertEquals(Object.keys(withProfile.project.services), ["web", "dbg"]);
  const named = await load(files, { files: ["base.yaml"] }, { COMPOSE_PROJECT_NAME: "Env_Name" });
  assertEquals(named.project.name, "env-name");
  const p = await load(files, { files: ["base.yaml"], projectName: "Given" });
  assertEquals(p.project.name, "given");
  // The config hash follows what the container runs, not the replica count.
  const h1 = await configHash(p.project, "web");
  p.project.services.web!.replicas = 3;
  assertEquals(await configHash(p.project, "web"), h1);
  p.project.services.web!.environment.A = "changed";
  assertTrue((await configHash(p.project, "web")) !== h1);
});

Deno.test("malformed files: one line naming the file and the key path", async () => {
  const cases: [string, string][] = [
    [
      "services:\n  web:\n    image: busybox\n    ports: ['99999:80']\n",
      'compose.yaml: services.web.ports[0]: "99999" is not a port',
    ],
    [
      "services:\n  web:\n    image: busybox\n    environment: 5\n",
      "services.web.environment: must be a mapping",
    ],
    ["services:\n  web:\n    command: x\n", "services.web: needs image or build"],
    [
      "services:\n  web:\n    image: b\n    depends_on: [db]\n",
      'services.web.depends_on: service "db" is not defined',
    ],
    [
      "services:\n  web:\n    image: b\n    volumes: ['v:/d']\n",
      'services.web.volumes[0]: volume "v" is not in the top-level volumes',
    ],
    [
      "services:\n  web:\n    image: b\n    depends_on:\n      db: {condition: service_dead}\n  db: {image: b}\n",
      "services.web.depends_on.db.condition",
    ],
    [
      "services:\n  a: {image: b, depends_on: [b]}\n  b: {image: b, depends_on: [a]}\n",
      "dependency cycle",
    ],
    [
      "services:\n  web:\n    image: b\n    deploy: {resources: {limits: {memory: 1k}}}\n",
      "services.web.deploy.resources.limits.memory: is below the minimum",
    ],
    [
      "services:\n  web:\n    image: b\n    healthcheck: {test: [RUN, x]}\n",
      "services.web.healthcheck.test: must start with CMD",
    ],
    ["services:\n  web: {image: b}\n  web: {image: c}\n", "compose.yaml:3:"],
    ["services: [web]\n", "compose.yaml: services: must be a mapping"],
    ["- a\n", "compose.yaml: the top level must be a mapping"],
    [
      "services:\n  web:\n    image: ${NOPE:?set NOPE}\n",
      "services.web.image: required variable NOPE is unset: set NOPE",
    ],
  ];
  for (const [text, message] of cases) {
    const err = await assertRejects(() => load({ "compose.yaml": text }), InvalidArgument, message);
    assertEquals(err.message.includes("\n"), false, err.message);
  }
  await assertRejects(() => load({}), InvalidArgument, "no compose file in");
  await assertRejects(
    () => load({ "compose.yaml": "services: {}\n" }, { files: ["nope.yaml"] }),
    InvalidArgument,
    "does not exist",
  );
});

Deno.test("compose config prints a Compose file that loads back to the same project", async () => {
  const { project } = await load({
    "compose.yaml": [
      "name: Round Trip",
      "services:",
      "  web:",
      "    image: busybox",
      "    command: sh -c 'echo $$HOME costs $$5'",
      "    environment: {A: 'x$$y', B: 'no'}",
      "    env_file: [a.env]",
      "    ports: ['127.0.0.1:8080:80/udp', '90']",
      "    volumes: ['data:/data:ro', './w:/w', '/anon']",
      "    tmpfs: ['/t:size=1m']",
      "    depends_on: {db: {condition: service_healthy}}",
      "    links: [db]",
      "    healthcheck: {test: [CMD, wget, -q, x], interval: 2s, retries: 3}",
      "    restart: unless-stopped",
      "    deploy: {replicas: 2, resources: {limits: {memory: 64m, cpus: '1.5', pids: 9}}}",
      "    networks: {front: {aliases: [www]}}",
      "    stop_grace_period: 3s",
      "    cap_drop: [ALL]",
      "  db:",
      "    build: {context: ./db, args: {V: '1'}}",
      "    healthcheck: {test: 'exit 0'}",
      "    networks: [front]",
      "networks:",
      "  front: {ipam: {config: [{subnet: 10.99.0.0/24}]}}",
      "volumes:",
      "  data: {name: shared-data}",
    ].join("\n"),
    "a.env": "FROM_FILE=f\n",
  });
  const text = await configYaml(project);
  assertTrue(
    text.includes('restart: "unless-stopped"') || text.includes("restart: unless-stopped"),
  );
  assertTrue(text.includes('B: "no"'), text);
  const again = await load({ "compose.yaml": text });
  assertEquals(again.project.name, "round-trip");
  assertEquals(again.project.services, project.services);
  assertEquals(again.project.networks, project.networks);
  assertEquals(again.project.volumes, project.volumes);
  assertEquals(again.warnings, []);
});
