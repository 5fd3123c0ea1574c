/**
 * Loading a project: the files (`-f`, `COMPOSE_FILE`, or compose.yaml /
 * compose.yml / docker-compose.yml / docker-compose.yaml and an override
 * beside it), `.env` beside the first one, interpolation, `extends` within
 * a file, merging, profiles, the project name, and the checks that make a
 * malformed project one line, exit 2, before anything is created.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "../_std/path.ts";
import { InvalidArgument, isNotFound } from "../host/errors.ts";
import { isValidId } from "../container/id.ts";
import { interpolateTree, type Lookup, parseDotEnv } from "./_interpolate.ts";
import type { NetworkDef, Project, Service, VolumeDef } from "./_model.ts";
import { mergeService } from "./_merge.ts";
import { normalizeProjectName } from "./_project_name.ts";
import { bool, fail, isMap, map, type Reader, shown, str, warnUnknown } from "./_read.ts";
import {
  extendsOf,
  normalizeService,
  type PartialService,
  type ServiceContext,
} from "./_service.ts";
import { loadYaml } from "./_yaml.ts";

/** What selects and shapes the project. */
export interface LoadOptions {
  /** `-f` files as given (empty: found in `cwd`). */
  files: string[];
  /** `-p` (null: COMPOSE_PROJECT_NAME, the file's `name`, or the directory). */
  projectName: string | null;
  /** `--profile` values (with COMPOSE_PROFILES). */
  profiles: string[];
  /** `--env-file` (null: `.env` in the project directory). */
  envFile: string | null;
  cwd: string;
  /** The process environment. */
  env: Lookup;
  warn: (message: string) => void;
}

/** The file names looked for, in order. */
export const DEFAULT_FILES = [
  "compose.yaml",
  "compose.yml",
  "docker-compose.yml",
  "docker-compose.yaml",
];

const OVERRIDES = [
  "compose.override.yaml",
  "compose.override.yml",
  "docker-compose.override.yml",
  "docker-compose.override.yaml",
];

const TOP_KEYS = new Set(["version", "name", "services", "networks", "volumes"]);

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The files of the project, absolute. */
export function projectFiles(o: Pick<LoadOptions, "files" | "cwd" | "env">): string[] {
  if (o.files.length > 0) return o.files.map((f) => resolve(o.cwd, f));
  const fromEnv = o.env("COMPOSE_FILE");
  if (fromEnv !== undefined && fromEnv !== "") {
    return fromEnv.split(o.env("COMPOSE_PATH_SEPARATOR") ?? ":").map((f) => resolve(o.cwd, f));
  }
  const main = DEFAULT_FILES.map((f) => join(o.cwd, f)).find(exists);
  if (main === undefined) {
    throw new InvalidArgument(
      `no compose file in ${o.cwd} (${DEFAULT_FILES.slice(0, 3).join(", ")}; or give -f FILE)`,
    );
  }
  const override = OVERRIDES.map((f) => join(o.cwd, f)).find(exists);
  return override === undefined ? [main] : [main, override];
}

/** A file's text; a missing or unreadable one is exit 2. */
function readFile(path: string): string {
  try {
    if (!Deno.statSync(path).isFile) throw new Error("not a regular file");
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (isNotFound(err)) throw new InvalidArgument(`compose file ${path} does not exist`);
    throw new InvalidArgument(`cannot read compose file ${path}: ${(err as Error).message}`);
  }
}

/** Parses one file's YAML into its top-level mapping. */
async function parseYaml(path: string, text: string): Promise<Record<string, unknown>> {
  const YAML = await loadYaml();
  const name = basename(path);
  const docs = YAML.parseAllDocuments(text, { merge: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.length > 1) throw new InvalidArgument(`${name}: holds several YAML documents`);
  const doc = list[0];
  if (doc === undefined) return {};
  const err = doc.errors[0];
  if (err !== undefined) {
    const where = err.linePos?.[0];
    const first = err.message.split("\n")[0];
    throw new InvalidArgument(
      `${name}${where ? `:${where.line}:${where.col}` : ""}: ${first}`,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new InvalidArgument(`${name}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (!isMap(value)) throw new InvalidArgument(`${name}: the top level must be a mapping`);
  return value;
}

/** The interpolation environment: the process's, over `.env`'s. */
function interpolationEnv(o: LoadOptions, dir: string): Lookup {
  const file = o.envFile === null ? join(dir, ".env") : resolve(o.cwd, o.envFile);
  let dotenv: Record<string, string> = {};
  let text: string | null = null;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    if (o.envFile !== null || !isNotFound(err)) {
      throw new InvalidArgument(`cannot read env file ${file}: ${(err as Error).message}`);
    }
  }
  if (text !== null) dotenv = parseDotEnv(text, file, o.env);
  return (k) => o.env(k) ?? (Object.hasOwn(dotenv, k) ? dotenv[k] : undefined);
}

/** One file, parsed, interpolated and checked at the top. */
interface FileModel {
  reader: Reader;
  name?: string;
  services: Record<string, PartialService>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
}

async function loadFile(
  path: string,
  dir: string,
  env: Lookup,
  o: LoadOptions,
): Promise<FileModel> {
  const reader: Reader = { file: basename(path), warn: o.warn };
  const raw = await parseYaml(path, readFile(path));
  const top = interpolateTree(raw, env, "") as Record<string, unknown>;
  warnUnknown(reader, top, TOP_KEYS, "");
  if (top.version !== undefined) {
    o.warn(`${reader.file}: the attribute "version" is obsolete: ignored`);
  }
  const rawServices = map(reader, top.services, "services");
  const c: ServiceContext = { ...reader, dir, env };
  const done = new Map<string, PartialService>();
  const resolveOne = (name: string, chain: string[]): PartialService => {
    const known = done.get(name);
    if (known !== undefined) return known;
    if (chain.includes(name)) {
      fail(reader, `services.${name}.extends`, `extends itself (${[...chain, name].join(" -> ")})`);
    }
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
      fail(reader, `services.${name}`, "a service name is letters, digits and _ . -");
    }
    const own = normalizeService(c, name, rawServices[name]);
    const base = extendsOf(reader, name, rawServices[name]);
    let s = own;
    if (base !== null) {
      if (!Object.hasOwn(rawServices, base)) {
        fail(reader, `services.${name}.extends`, `service "${base}" is not in this file`);
      }
      s = mergeService(resolveOne(base, [...chain, name]), own);
    }
    done.set(name, s);
    return s;
  };
  for (const name of Object.keys(rawServices)) resolveOne(name, []);
  return {
    reader,
    ...(top.name !== undefined ? { name: str(reader, top.name, "name") } : {}),
    services: Object.fromEntries(done),
    networks: map(reader, top.networks, "networks"),
    volumes: map(reader, top.volumes, "volumes"),
  };
}

/** A top-level network entry. */
function networkDef(r: Reader, project: string, key: string, v: unknown): NetworkDef {
  const path = `networks.${key}`;
  const m = map(r, v, path);
  warnUnknown(r, m, new Set(["name", "external", "ipam", "driver", "labels", "internal"]), path);
  if (m.driver !== undefined && str(r, m.driver, `${path}.driver`) !== "bridge") {
    fail(r, `${path}.driver`, `only "bridge" networks are supported, not ${shown(m.driver)}`);
  }
  const external = m.external === undefined ? false : bool(r, m.external, `${path}.external`);
  const name = m.name !== undefined
    ? str(r, m.name, `${path}.name`)
    : external
    ? key
    : `${project}_${key}`;
  const def: NetworkDef = { name, external };
  if (m.internal !== undefined && bool(r, m.internal, `${path}.internal`)) def.internal = true;
  if (m.ipam !== undefined) {
    const ipam = map(r, m.ipam, `${path}.ipam`);
    const config = ipam.config;
    if (config !== undefined) {
      if (!Array.isArray(config)) fail(r, `${path}.ipam.config`, "must be a list");
      const first = map(r, config[0], `${path}.ipam.config[0]`);
      if (first.subnet !== undefined) {
        def.subnet = str(r, first.subnet, `${path}.ipam.config[0].subnet`);
      }
    }
  }
  return def;
}

/** A top-level volume entry. */
function volumeDef(r: Reader, project: string, key: string, v: unknown): VolumeDef {
  const path = `volumes.${key}`;
  const m = map(r, v, path);
  warnUnknown(r, m, new Set(["name", "external", "driver", "labels"]), path);
  const external = m.external === undefined ? false : bool(r, m.external, `${path}.external`);
  const name = m.name !== undefined
    ? str(r, m.name, `${path}.name`)
    : external
    ? key
    : `${project}_${key}`;
  if (!isValidId(name)) fail(r, path, `volume name "${name}" is not letters and digits with . _ -`);
  return { name, external };
}

/** Fills the defaults of a merged service. */
function complete(p: PartialService): Service {
  const s: Service = {
    environment: {},
    ports: [],
    expose: [],
    volumes: [],
    networks: { default: { aliases: [] } },
    depends_on: {},
    links: [],
    restart: "no",
    labels: {},
    limits: {},
    replicas: 1,
    profiles: [],
    pull_policy: "missing",
    read_only: false,
    cap_add: [],
    cap_drop: [],
    privileged: false,
    stop_grace_period_s: 10,
    ...p,
  };
  if (s.healthcheck?.test === "") delete s.healthcheck;
  if (s.build !== undefined && p.pull_policy === undefined && s.image === undefined) {
    s.pull_policy = "build";
  }
  return s;
}

/** Loads and checks the project. InvalidArgument (exit 2) for anything malformed. */
export async function loadProject(o: LoadOptions): Promise<Project> {
  const files = projectFiles(o);
  const dir = dirname(files[0]!);
  const env = interpolationEnv(o, dir);
  const models: FileModel[] = [];
  for (const f of files) models.push(await loadFile(f, dir, env, o));
  const last = models.at(-1)!;
  const named = [...models].reverse().find((m) => m.name !== undefined);
  const given = o.projectName ?? env("COMPOSE_PROJECT_NAME") ?? named?.name ?? basename(dir);
  const project = normalizeProjectName(
    given,
    o.projectName !== null ? "-p" : "project name",
  );
  // Services, merged file over file.
  const merged = new Map<string, PartialService>();
  for (const m of models) {
    for (const [name, s] of Object.entries(m.services)) {
      const before = merged.get(name);
      merged.set(name, before === undefined ? s : mergeService(before, s));
    }
  }
  const profileList = [
    ...o.profiles,
    ...(env("COMPOSE_PROFILES") ?? "").split(",").filter((p) => p !== ""),
  ];
  const active = new Set(profileList);
  const services: Record<string, Service> = {};
  for (const [name, p] of merged) {
    const s = complete(p);
    if (
      s.profiles.length > 0 && !s.profiles.some((x) => active.has(x) || x === "*") &&
      !active.has("*")
    ) {
      continue;
    }
    services[name] = s;
  }
  // Top-level networks and volumes, merged by key.
  const netRaw: Record<string, unknown> = {};
  const volRaw: Record<string, unknown> = {};
  for (const m of models) {
    for (const [k, v] of Object.entries(m.networks)) {
      netRaw[k] = isMap(netRaw[k]) && isMap(v) ? { ...netRaw[k], ...v } : v;
    }
    for (const [k, v] of Object.entries(m.volumes)) {
      volRaw[k] = isMap(volRaw[k]) && isMap(v) ? { ...volRaw[k], ...v } : v;
    }
  }
  const r = last.reader;
  const networks: Record<string, NetworkDef> = {};
  for (const [k, v] of Object.entries(netRaw)) networks[k] = networkDef(r, project, k, v);
  const volumes: Record<string, VolumeDef> = {};
  for (const [k, v] of Object.entries(volRaw)) volumes[k] = volumeDef(r, project, k, v);
  if (Object.values(services).some((s) => "default" in s.networks) && !("default" in networks)) {
    networks.default = { name: `${project}_default`, external: false };
  }
  for (const [k, n] of Object.entries(networks)) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(n.name)) {
      fail(r, `networks.${k}`, `network name "${n.name}" is letters, digits and _ . -`);
    }
  }
  check(r, project, services, networks, volumes);
  // Only what a service uses (or declares) is kept: an unused default network is not made.
  return { name: project, working_dir: dir, services, networks, volumes };
}

/** Cross-references: images, dependencies, networks, volumes, names, cycles. */
function check(
  r: Reader,
  project: string,
  services: Record<string, Service>,
  networks: Record<string, NetworkDef>,
  volumes: Record<string, VolumeDef>,
): void {
  for (const [name, s] of Object.entries(services)) {
    const at = `services.${name}`;
    if (s.image === undefined && s.build === undefined) fail(r, at, "needs image or build");
    for (const [dep, d] of Object.entries(s.depends_on)) {
      if (!(dep in services)) {
        if (d.required) fail(r, `${at}.depends_on`, `service "${dep}" is not defined`);
        delete s.depends_on[dep];
      }
    }
    for (const link of s.links) {
      const target = link.split(":")[0]!;
      if (!(target in services)) fail(r, `${at}.links`, `service "${target}" is not defined`);
    }
    for (const n of Object.keys(s.networks)) {
      if (!(n in networks)) fail(r, `${at}.networks`, `network "${n}" is not defined`);
    }
    s.volumes.forEach((v, i) => {
      if (v.type === "volume" && v.source !== undefined && !(v.source in volumes)) {
        fail(r, `${at}.volumes[${i}]`, `volume "${v.source}" is not in the top-level volumes`);
      }
    });
    if (s.container_name !== undefined) {
      if (!isValidId(s.container_name)) {
        fail(r, `${at}.container_name`, `"${s.container_name}" is not a valid container name`);
      }
      if (s.replicas > 1) fail(r, `${at}.container_name`, "cannot go with more than one replica");
    }
    if (!isValidId(`${project}-${name}-1`)) {
      fail(r, at, `"${project}-${name}-1" is not a valid container name`);
    }
    if (Object.keys(s.networks).length > 1) {
      r.warn(
        `${r.file}: ${at}.networks: a container joins one network: only "${
          Object.keys(s.networks)[0]
        }" is used`,
      );
    }
  }
  // Cycles in depends_on and links.
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, chain: string[]) => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      fail(r, `services.${name}.depends_on`, `dependency cycle: ${[...chain, name].join(" -> ")}`);
    }
    state.set(name, "visiting");
    for (const d of dependenciesOf(services[name]!)) if (d in services) visit(d, [...chain, name]);
    state.set(name, "done");
  };
  for (const name of Object.keys(services)) visit(name, []);
}

/** The services `s` waits for: its depends_on and links. */
export function dependenciesOf(s: Service): string[] {
  return [...new Set([...Object.keys(s.depends_on), ...s.links.map((l) => l.split(":")[0]!)])];
}

/** The services to bring up: those named and (unless `noDeps`) what they depend on. */
export function selectServices(project: Project, names: string[], noDeps: boolean): string[] {
  for (const n of names) {
    if (!(n in project.services)) throw new InvalidArgument(`no such service: "${n}"`);
  }
  if (names.length === 0) return Object.keys(project.services);
  const out = new Set<string>();
  const add = (n: string) => {
    if (out.has(n)) return;
    out.add(n);
    if (!noDeps) {
      for (const d of dependenciesOf(project.services[n]!)) if (d in project.services) add(d);
    }
  };
  names.forEach(add);
  return [...out];
}
