/**
 * `berth compose [-f FILE]... [-p NAME] [--profile P]... VERB ...`:
 * multi-container apps from compose.yaml, in the one binary. The model and
 * the work are in lib/compose/ (loaded, with the YAML library, only here);
 * verbs that act on one container (`exec`, `run`, `top`, `port`) hand it
 * to the command that does that for any container.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { commandHelp } from "../command.ts";
import type { OptionSpec } from "../args.ts";
import type { Context } from "../../container/context.ts";
import { InvalidArgument, NotFound, RuntimeError } from "../../host/errors.ts";
import { printable } from "../../host/printable.ts";
import type { Project } from "../../compose/mod.ts";

/** The verbs. */
export const COMPOSE_VERBS = [
  "up",
  "down",
  "ps",
  "logs",
  "exec",
  "run",
  "start",
  "stop",
  "restart",
  "pull",
  "build",
  "top",
  "port",
  "config",
] as const;

/** A verb. */
export type ComposeVerb = typeof COMPOSE_VERBS[number];

/** A parsed `compose` command line. */
export interface ComposeOptions {
  files: string[];
  projectName: string | null;
  profiles: string[];
  envFile: string | null;
  projectDirectory: string | null;
  verb: ComposeVerb | "help";
  /** The verb's flags (booleans and strings; repeatable ones as lists). */
  flags: Record<string, string | boolean | string[]>;
  /** SERVICE... (exec/run: the service, then the command in `command`). */
  args: string[];
  command: string[];
}

/** One flag of a verb: its long name, short letter, and whether it takes a value. */
interface Flag {
  name: string;
  short?: string;
  value?: string;
  multiple?: boolean;
  help: string;
  verbs: readonly string[];
}

const FLAGS: Flag[] = [
  {
    name: "detach",
    short: "d",
    help: "(up, run) return once the containers run",
    verbs: ["up", "run", "exec"],
  },
  { name: "build", help: "(up) build images before starting", verbs: ["up"] },
  {
    name: "no-build",
    help: "(up) accepted: images are built only when missing or with --build",
    verbs: ["up"],
  },
  { name: "force-recreate", help: "(up) recreate containers even if unchanged", verbs: ["up"] },
  {
    name: "no-deps",
    help: "(up, run) do not start the services they depend on",
    verbs: ["up", "run"],
  },
  {
    name: "remove-orphans",
    help: "(up) remove containers of services no longer in the files (down always does)",
    verbs: ["up", "down"],
  },
  {
    name: "volumes",
    short: "v",
    help: "(down) remove named and anonymous volumes; (config) list volumes",
    verbs: ["down", "config"],
  },
  {
    name: "rmi",
    value: "local|all",
    help: "(down) remove images: built ones, or all",
    verbs: ["down"],
  },
  {
    name: "timeout",
    short: "t",
    value: "N",
    help: "(down, stop, restart) seconds before SIGKILL",
    verbs: ["down", "stop", "restart", "up"],
  },
  { name: "all", short: "a", help: "(ps) stopped containers too", verbs: ["ps"] },
  {
    name: "quiet",
    short: "q",
    help: "(ps) IDs only; (config) check only",
    verbs: ["ps", "config", "pull"],
  },
  { name: "services", help: "(ps, config) service names only", verbs: ["ps", "config"] },
  { name: "follow", short: "f", help: "(logs) follow", verbs: ["logs"] },
  { name: "tail", value: "N", help: "(logs) the last N lines of each", verbs: ["logs"] },
  { name: "no-color", help: "(logs, up) no colours", verbs: ["logs", "up"] },
  { name: "no-log-prefix", help: "(logs) no prefix", verbs: ["logs"] },
  {
    name: "no-TTY",
    short: "T",
    help: "(exec, run) no terminal (default: one when stdin is a terminal)",
    verbs: ["exec", "run"],
  },
  {
    name: "interactive",
    short: "i",
    help: "(exec, run) accepted (stdin is passed on a terminal)",
    verbs: ["exec", "run"],
  },
  {
    name: "tty",
    short: "t",
    help: "(exec, run) accepted (the default on a terminal)",
    verbs: ["exec", "run"],
  },
  {
    name: "env",
    short: "e",
    value: "K=V",
    multiple: true,
    help: "(exec, run) set a variable",
    verbs: ["exec", "run"],
  },
  { name: "user", short: "u", value: "USER", help: "(exec, run) the user", verbs: ["exec", "run"] },
  {
    name: "workdir",
    short: "w",
    value: "DIR",
    help: "(exec, run) working directory",
    verbs: ["exec", "run"],
  },
  {
    name: "index",
    value: "N",
    help: "(exec, port) which replica (default 1)",
    verbs: ["exec", "port"],
  },
  { name: "rm", help: "(run) delete the container when it exits", verbs: ["run"] },
  { name: "name", value: "NAME", help: "(run) the one-off container's name", verbs: ["run"] },
  { name: "service-ports", help: "(run) publish the service's ports", verbs: ["run"] },
  { name: "entrypoint", value: "CMD", help: "(run) replace the entrypoint", verbs: ["run"] },
  { name: "protocol", value: "tcp|udp", help: "(port) the protocol", verbs: ["port"] },
  { name: "format", value: "table|json", help: "(ps) output format", verbs: ["ps"] },
];

const OPTIONS: OptionSpec[] = [
  {
    name: "file",
    short: "f",
    type: "string",
    multiple: true,
    value: "FILE",
    help: "a compose file (repeatable: merged in order; default: compose.yaml …)",
  },
  {
    name: "project-name",
    short: "p",
    type: "string",
    value: "NAME",
    help: "the project's name (default: COMPOSE_PROJECT_NAME, the file's name:, or the directory)",
  },
  {
    name: "profile",
    type: "string",
    multiple: true,
    value: "P",
    help: "enable a profile (repeatable; COMPOSE_PROFILES)",
  },
  {
    name: "env-file",
    type: "string",
    value: "FILE",
    help: "variables for interpolation (default: .env beside the first file)",
  },
  {
    name: "project-directory",
    type: "string",
    value: "DIR",
    help: "where compose files are looked for (default: the current directory)",
  },
  ...FLAGS.map((f): OptionSpec => ({
    name: f.name,
    ...(f.value !== undefined ? { value: f.value } : {}),
    type: f.value !== undefined ? "string" : "boolean",
    help: f.help,
  })),
];

/** Verbs whose positionals are `SERVICE CMD...` (options end at SERVICE). */
const COMMAND_VERBS = new Set(["exec", "run"]);

function takeValue(args: string[], i: number, a: string, eq: number): [string, number] {
  if (eq >= 0) return [a.slice(eq + 1), i];
  const v = args[i + 1];
  if (v === undefined) throw new InvalidArgument(`compose: ${a} needs a value`);
  return [v, i + 1];
}

/** Parses `compose` arguments (no file is read). */
export function parseCompose(args: string[]): ComposeOptions {
  const o: ComposeOptions = {
    files: [],
    projectName: null,
    profiles: [],
    envFile: null,
    projectDirectory: null,
    verb: "help",
    flags: {},
    args: [],
    command: [],
  };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("-")) break;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq >= 0 ? a.slice(0, eq) : a;
    let v: string;
    switch (name) {
      case "-f":
      case "--file":
        [v, i] = takeValue(args, i, a, eq);
        o.files.push(v);
        break;
      case "-p":
      case "--project-name":
        [v, i] = takeValue(args, i, a, eq);
        o.projectName = v;
        break;
      case "--profile":
        [v, i] = takeValue(args, i, a, eq);
        o.profiles.push(v);
        break;
      case "--env-file":
        [v, i] = takeValue(args, i, a, eq);
        o.envFile = v;
        break;
      case "--project-directory":
        [v, i] = takeValue(args, i, a, eq);
        o.projectDirectory = v;
        break;
      case "-h":
      case "--help":
        return o;
      default:
        throw new InvalidArgument(`compose: unknown option ${a}`);
    }
  }
  const verb = args[i];
  if (verb === undefined) {
    throw new InvalidArgument("compose: missing VERB (up, down, ps, logs, …)");
  }
  if (!(COMPOSE_VERBS as readonly string[]).includes(verb)) {
    throw new InvalidArgument(`compose: unknown verb "${verb}" (${COMPOSE_VERBS.join(", ")})`);
  }
  o.verb = verb as ComposeVerb;
  const rest = args.slice(i + 1);
  for (let j = 0; j < rest.length; j++) {
    const a = rest[j]!;
    if (a === "--") {
      if (COMMAND_VERBS.has(verb) && o.args.length > 0) {
        o.command = rest.slice(j + 1);
        break;
      }
      o.args.push(...rest.slice(j + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      o.args.push(a);
      if (COMMAND_VERBS.has(verb)) {
        o.command = rest.slice(j + 1);
        if (o.command[0] === "--") o.command.shift();
        break;
      }
      continue;
    }
    if (a === "--help" || a === "-h") {
      o.verb = "help";
      return o;
    }
    const long = a.startsWith("--");
    const eq = long ? a.indexOf("=") : -1;
    const letters = long ? [a] : [...a.slice(1)].map((c) => `-${c}`);
    for (const [k, token] of letters.entries()) {
      const flag = FLAGS.find((f) =>
        f.verbs.includes(verb) &&
        (long ? `--${f.name}` === (eq >= 0 ? a.slice(0, eq) : a) : `-${f.short}` === token)
      );
      if (flag === undefined) {
        throw new InvalidArgument(`compose ${verb}: unknown option ${long ? a : token}`);
      }
      if (flag.value === undefined) {
        if (eq >= 0) throw new InvalidArgument(`compose ${verb}: --${flag.name} takes no value`);
        o.flags[flag.name] = true;
        continue;
      }
      let v: string;
      if (!long && k < letters.length - 1) {
        v = a.slice(k + 2); // -t5
      } else {
        [v, j] = takeValue(rest, j, a, eq);
      }
      if (flag.multiple) o.flags[flag.name] = [...((o.flags[flag.name] as string[]) ?? []), v];
      else o.flags[flag.name] = v;
      break;
    }
  }
  const rmi = o.flags.rmi;
  if (rmi !== undefined && rmi !== "local" && rmi !== "all") {
    throw new InvalidArgument(`compose down: --rmi must be local or all, not "${rmi}"`);
  }
  for (const n of ["timeout", "tail", "index"]) {
    const v = o.flags[n];
    if (v !== undefined && !/^[0-9]{1,6}$/.test(String(v))) {
      throw new InvalidArgument(`compose ${verb}: --${n} takes a whole number, not "${v}"`);
    }
  }
  if (COMMAND_VERBS.has(verb) && o.args.length === 0) {
    throw new InvalidArgument(`compose ${verb}: missing SERVICE`);
  }
  if (verb === "exec" && o.command.length === 0) {
    throw new InvalidArgument("compose exec: give the command after SERVICE");
  }
  if (verb === "port" && o.args.length !== 2) {
    throw new InvalidArgument("compose port: give SERVICE PORT");
  }
  return o;
}

/** `compose`. */
export const composeCommand: Command<ComposeOptions> = {
  name: "compose",
  summary: "run multi-container apps from compose.yaml (up, down, ps, logs, exec, …)",
  usage:
    "compose [-f FILE]... [-p NAME] [--profile P]... [--env-file FILE] VERB [OPTIONS] [ARGS]\n" +
    "  VERB: up [-d] [--build] [--force-recreate] [--no-deps] [SERVICE...] |\n" +
    "        down [-v] [--rmi local|all] | ps [-a] [-q] | logs [-f] [--tail N] [SERVICE...] |\n" +
    "        exec [-T] [-e K=V] [-u U] [-w DIR] SERVICE CMD... | run [--rm] [-d] SERVICE [CMD...] |\n" +
    "        start|stop|restart|pull|build|top [SERVICE...] | port SERVICE PORT | config",
  description:
    "The Compose specification over berth's containers: a project (named after the directory\n" +
    "unless -p) has a network PROJECT_default on which each container is found by its service\n" +
    "name, volumes PROJECT_VOLUME, and containers PROJECT-SERVICE-N carrying the project,\n" +
    "service, number and config hash as labels: the only state compose keeps. `up` twice\n" +
    "changes nothing; a service whose configuration changed is recreated; an interrupted\n" +
    "`up` is completed by the next `up` or `down`. A malformed file is one line, exit 2,\n" +
    "naming the key, and nothing is created.",
  options: OPTIONS,
  optionsEnd: "first-positional",
  examples: [
    "berth compose up -d",
    "berth compose -f compose.yaml -f override.yaml -p shop up -d web",
    "berth compose ps",
    "berth compose logs -f web",
    "berth compose exec db sh",
    "berth compose down -v",
    "berth compose config",
  ],
  parse: parseCompose,
  run: (ctx, o) => runCompose(ctx, o),
};

function flag(o: ComposeOptions, name: string): boolean {
  return o.flags[name] === true;
}
function value(o: ComposeOptions, name: string): string | undefined {
  const v = o.flags[name];
  return typeof v === "string" ? v : undefined;
}

async function runCompose(ctx: Context, o: ComposeOptions): Promise<number> {
  if (o.verb === "help") {
    ctx.io.out(commandHelp(composeCommand));
    return 0;
  }
  const warn = (m: string) => ctx.io.err(`berth: warning: ${printable(m)}\n`);
  const { loadProject } = await import("../../compose/mod.ts");
  const cwd = o.projectDirectory === null ? Deno.cwd() : o.projectDirectory;
  const project = await loadProject({
    files: o.files,
    projectName: o.projectName,
    profiles: o.profiles,
    envFile: o.envFile,
    cwd,
    env: ctx.env,
    warn,
  });
  const progress = (line: string) => ctx.io.err(`${line}\n`);
  switch (o.verb) {
    case "config":
      return await config(ctx, project, o);
    case "up":
      return await upVerb(ctx, project, o, progress);
    case "down": {
      const { down } = await import("../../compose/mod.ts");
      const rmi = value(o, "rmi");
      await down(ctx, project, {
        volumes: flag(o, "volumes"),
        rmi: rmi === "local" || rmi === "all" ? rmi : null,
        progress,
        warn,
      });
      return 0;
    }
    case "ps":
      return await ps(ctx, project, o);
    case "logs": {
      const { streamLogs } = await import("../../compose/mod.ts");
      const containers = await selected(ctx, project, o.args, true);
      const tail = value(o, "tail");
      await streamLogs(ctx, containers, {
        follow: flag(o, "follow"),
        colour: !flag(o, "no-color") && Deno.stdout.isTerminal(),
        prefixOf: flag(o, "no-log-prefix") ? () => "" : (s) => shortName(project.name, s.id),
        ...(tail !== undefined ? { tail: Number(tail) } : {}),
      });
      return 0;
    }
    case "exec":
      return await execVerb(ctx, project, o);
    case "run":
      return await runVerb(ctx, project, o, progress);
    case "start":
    case "stop":
    case "restart":
      return await lifecycle(ctx, project, o, progress);
    case "pull": {
      const { pullImages, selectServices } = await import("../../compose/mod.ts");
      const services = selectServices(project, o.args, true);
      await pullImages(ctx, project, services, flag(o, "quiet") ? () => {} : progress, true);
      return 0;
    }
    case "build": {
      const { selectServices } = await import("../../compose/mod.ts");
      for (const s of selectServices(project, o.args, true)) {
        if (project.services[s]!.build !== undefined) await buildImage(ctx, project, s);
      }
      return 0;
    }
    case "top": {
      const { psCommand } = await import("./ps.ts");
      const containers = (await selected(ctx, project, o.args, false))
        .filter((s) => s.status === "running" || s.status === "paused");
      for (const c of containers) {
        ctx.io.out(`${c.id}\n`);
        await psCommand.run(ctx, psCommand.parse([c.id]));
        ctx.io.out("\n");
      }
      return 0;
    }
    case "port": {
      const { portCommand } = await import("./port.ts");
      const [service, port] = o.args as [string, string];
      const id = await replica(ctx, project, service, Number(value(o, "index") ?? "1"));
      const proto = value(o, "protocol");
      return await portCommand.run(ctx, portCommand.parse([id, proto ? `${port}/${proto}` : port]));
    }
  }
}

/** A container's name as compose prints it: without the `PROJECT-` prefix. */
function shortName(project: string, id: string): string {
  return id.startsWith(`${project}-`) ? id.slice(project.length + 1) : id;
}

/** The containers of `services` (all when empty), one-offs left out. */
async function selected(
  ctx: Context,
  project: Project,
  services: string[],
  all: boolean,
) {
  const { projectContainers, serviceOf } = await import("../../compose/mod.ts");
  for (const s of services) {
    if (!(s in project.services)) throw new InvalidArgument(`no such service: "${s}"`);
  }
  const list = await projectContainers(ctx, project.name, { oneoff: false });
  return list.filter((c) =>
    (services.length === 0 || services.includes(serviceOf(c))) &&
    (all || c.status !== "stopped")
  );
}

/** The ID of replica `n` of `service` (NotFound when it does not exist). */
async function replica(
  ctx: Context,
  project: Project,
  service: string,
  n: number,
): Promise<string> {
  if (!(service in project.services)) throw new InvalidArgument(`no such service: "${service}"`);
  const { projectContainers, serviceOf, numberOf } = await import("../../compose/mod.ts");
  const c = (await projectContainers(ctx, project.name, { oneoff: false }))
    .find((s) => serviceOf(s) === service && numberOf(s) === n);
  if (c === undefined) {
    throw new NotFound(`service "${service}" has no container ${n} (is the project up?)`);
  }
  return c.id;
}

async function config(
  ctx: Context,
  project: Project,
  o: ComposeOptions,
): Promise<number> {
  if (flag(o, "quiet")) return 0;
  if (flag(o, "services")) {
    ctx.io.out(Object.keys(project.services).map((s) => `${s}\n`).join(""));
    return 0;
  }
  if (flag(o, "volumes")) {
    ctx.io.out(Object.keys(project.volumes).map((s) => `${s}\n`).join(""));
    return 0;
  }
  const { configYaml } = await import("../../compose/mod.ts");
  ctx.io.out(await configYaml(project));
  return 0;
}

/** `berth build` of a `build:` service, run as its own process of this same berth. */
async function buildImage(
  ctx: Context,
  project: Project,
  service: string,
): Promise<void> {
  const { findCommand } = await import("./mod.ts");
  if (findCommand("build") === undefined) {
    throw new RuntimeError(
      `cannot build service "${service}": this berth has no build command (give the service an image)`,
    );
  }
  const { globalsToArgs } = await import("../../container/globals.ts");
  const { imageOf } = await import("../../compose/mod.ts");
  const b = project.services[service]!.build!;
  const [exe, ...pre] = ctx.self;
  const args = [
    ...pre,
    ...globalsToArgs(ctx.globals),
    "-n",
    ctx.globals.namespace,
    "build",
    "-t",
    imageOf(project, service),
    ...(b.dockerfile !== undefined
      ? ["-f", b.dockerfile.startsWith("/") ? b.dockerfile : `${b.context}/${b.dockerfile}`]
      : []),
    ...Object.entries(b.args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
    ...(b.target !== undefined ? ["--target", b.target] : []),
    b.context,
  ];
  const out = await new Deno.Command(exe!, {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  if (out.code !== 0) {
    throw new RuntimeError(`building service "${service}" failed (berth build exited ${out.code})`);
  }
}

async function upVerb(
  ctx: Context,
  project: Project,
  o: ComposeOptions,
  progress: (line: string) => void,
): Promise<number> {
  const { up } = await import("../../compose/mod.ts");
  const results = await up(ctx, project, {
    services: o.args,
    noDeps: flag(o, "no-deps"),
    forceRecreate: flag(o, "force-recreate"),
    build: flag(o, "build"),
    removeOrphans: flag(o, "remove-orphans"),
    progress,
    buildImage: (s) => buildImage(ctx, project, s),
  });
  if (flag(o, "detach")) return 0;
  // The foreground: every service's output, prefixed, until they exit or Ctrl-C.
  const { projectContainers, streamLogs } = await import("../../compose/mod.ts");
  const ids = new Set(results.filter((r) => r.action !== "removed").map((r) => r.id));
  const containers = (await projectContainers(ctx, project.name, { oneoff: false }))
    .filter((c) => ids.has(c.id));
  let interrupted = false;
  const stop = Promise.withResolvers<void>();
  const onSignal = () => {
    interrupted = true;
    stop.resolve();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await streamLogs(ctx, containers, {
      follow: true,
      stop: stop.promise,
      colour: !flag(o, "no-color") && Deno.stdout.isTerminal(),
      prefixOf: (s) => shortName(project.name, s.id),
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  if (!interrupted) return 0;
  progress("Gracefully stopping... (press Ctrl+C again to force)");
  const { stopContainer } = await import("../../ops/stop.ts");
  await Promise.all(containers.map(async (c) => {
    const grace =
      project.services[c.labels["com.docker.compose.service"] ?? ""]?.stop_grace_period_s ?? 10;
    await stopContainer(ctx, c.id, grace).catch(() => {});
    progress(` Container ${c.id}  Stopped`);
  }));
  return 130;
}

async function ps(
  ctx: Context,
  project: Project,
  o: ComposeOptions,
): Promise<number> {
  const { serviceOf } = await import("../../compose/mod.ts");
  const list = await selected(ctx, project, o.args, flag(o, "all"));
  if (flag(o, "services")) {
    ctx.io.out([...new Set(list.map(serviceOf))].map((s) => `${s}\n`).join(""));
    return 0;
  }
  if (flag(o, "quiet")) {
    ctx.io.out(list.map((s) => `${s.id}\n`).join(""));
    return 0;
  }
  const { podmanStatus } = await import("../../ops/inspect.ts");
  const ports = (s: typeof list[number]) =>
    (s.net?.ports ?? []).map((p) =>
      `${p.hostIP === "" ? "0.0.0.0" : p.hostIP}:${p.hostPort}->${p.containerPort}/${p.protocol}`
    ).join(", ");
  if (value(o, "format") === "json") {
    ctx.io.out(
      JSON.stringify(list.map((s) => ({
        Name: s.id,
        Service: serviceOf(s),
        Image: s.image?.ref ?? null,
        State: podmanStatus(s),
        Health: s.health ?? "",
        ExitCode: s.exitCode ?? 0,
        Publishers: s.net?.ports ?? [],
      }))) + "\n",
    );
    return 0;
  }
  const { table } = await import("./format.ts");
  const rows = list.map((s) => [
    s.id,
    s.image?.ref ?? "-",
    serviceOf(s),
    s.health
      ? `${podmanStatus(s)} (${s.health})`
      : s.status === "stopped"
      ? `exited (${s.exitCode})`
      : podmanStatus(s),
    ports(s),
  ]);
  ctx.io.out(table([["NAME", "IMAGE", "SERVICE", "STATUS", "PORTS"], ...rows]));
  return 0;
}

async function lifecycle(
  ctx: Context,
  project: Project,
  o: ComposeOptions,
  progress: (line: string) => void,
): Promise<number> {
  const list = await selected(ctx, project, o.args, true);
  const { serviceOf } = await import("../../compose/mod.ts");
  const t = value(o, "timeout");
  const graceOf = (s: typeof list[number]) =>
    t !== undefined ? Number(t) : project.services[serviceOf(s)]?.stop_grace_period_s ?? 10;
  if (o.verb === "start") {
    const { startOrRestart } = await import("../../ops/start.ts");
    for (const s of list) {
      if (s.status === "running" || s.status === "paused") continue;
      await startOrRestart(ctx, s.id);
      progress(` Container ${s.id}  Started`);
    }
  } else if (o.verb === "stop") {
    const { stopContainer } = await import("../../ops/stop.ts");
    await Promise.all(list.map(async (s) => {
      if (s.status !== "running" && s.status !== "paused") return;
      await stopContainer(ctx, s.id, graceOf(s));
      progress(` Container ${s.id}  Stopped`);
    }));
  } else {
    const { restartContainer } = await import("../../ops/stop.ts");
    await Promise.all(list.map(async (s) => {
      await restartContainer(ctx, s.id, graceOf(s));
      progress(` Container ${s.id}  Restarted`);
    }));
  }
  return 0;
}

async function execVerb(
  ctx: Context,
  project: Project,
  o: ComposeOptions,
): Promise<number> {
  const id = await replica(ctx, project, o.args[0]!, Number(value(o, "index") ?? "1"));
  const tty = !flag(o, "no-TTY") && Deno.stdin.isTerminal() && !flag(o, "detach");
  const args = [
    ...(tty ? ["-i", "-t"] : []),
    ...(flag(o, "detach") ? ["-d"] : []),
    ...((o.flags.env as string[] | undefined) ?? []).flatMap((e) => ["-e", e]),
    ...(value(o, "user") !== undefined ? ["-u", value(o, "user")!] : []),
    ...(value(o, "workdir") !== undefined ? ["-w", value(o, "workdir")!] : []),
    id,
    "--",
    ...o.command,
  ];
  const { execCommand } = await import("./exec.ts");
  return await execCommand.run(ctx, execCommand.parse(args));
}

async function runVerb(
  ctx: Context,
  project: Project,
  o: ComposeOptions,
  progress: (line: string) => void,
): Promise<number> {
  const service = o.args[0]!;
  if (!(service in project.services)) throw new InvalidArgument(`no such service: "${service}"`);
  const { dependenciesOf, ensureNetworks, pullImages, up } = await import("../../compose/mod.ts");
  const deps = dependenciesOf(project.services[service]!).filter((d) => d in project.services);
  if (!flag(o, "no-deps") && deps.length > 0) {
    await up(ctx, project, {
      services: deps,
      noDeps: false,
      forceRecreate: false,
      build: false,
      progress,
      buildImage: (s) => buildImage(ctx, project, s),
    });
  }
  await ensureNetworks(ctx, project, [service]);
  await pullImages(ctx, project, [service], progress);
  const { createRequestOf, configHash } = await import("../../compose/mod.ts");
  const { randomId } = await import("../../ops/new_id.ts");
  const id = value(o, "name") ?? `${project.name}-${service}-run-${randomId().slice(0, 8)}`;
  const req = createRequestOf(project, service, {
    id,
    number: 0,
    hash: await configHash(project, service),
    oneoff: true,
    command: o.command,
    autoRemove: flag(o, "rm"),
    noPorts: !flag(o, "service-ports"),
  });
  const extraEnv = (o.flags.env as string[] | undefined) ?? [];
  req.env = [...req.env, ...extraEnv];
  if (value(o, "user") !== undefined) req.user = value(o, "user")!;
  if (value(o, "workdir") !== undefined) req.cwd = value(o, "workdir")!;
  const ep = value(o, "entrypoint");
  if (ep !== undefined) {
    const { entrypointOf } = await import("./create.ts");
    Object.assign(req, entrypointOf(ep));
  }
  const detach = flag(o, "detach");
  const tty = !flag(o, "no-TTY") && !detach && Deno.stdin.isTerminal();
  if (tty) req.terminal = true;
  const { runCommand } = await import("./run.ts");
  return await runCommand.run(ctx, {
    create: req,
    detach,
    rm: flag(o, "rm"),
    interactive: tty,
    tty,
  });
}
