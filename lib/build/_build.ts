/**
 * `berth build`: a Containerfile's stages, step by step, each step an
 * image in the store. A RUN step runs as a berth container made from the
 * image so far (the same runtime, seccomp profile and limits as any
 * container; `--network` as `run`'s), and its overlay upper becomes the
 * step's layer (`layer_diff.ts`: whiteouts, opaque directories, xattrs,
 * hard links); COPY and ADD stage what they copy in the store's tmp/ and
 * that becomes the layer; every other instruction changes the config only
 * (an `empty_layer` history entry).
 *
 * The cache: each step's image records its key, the hash of the parent
 * image's ID, the instruction as substituted, the build arguments a RUN
 * sees and the content hash of what a COPY reads. A step whose key an
 * image already has reuses that image, so a rebuild with nothing changed
 * writes nothing but names. Cache entries are unnamed images that
 * `images` does not list; `gc` keeps them, `image prune` and `system
 * prune` remove them.
 *
 * Crashes and concurrency: the images a build uses (bases, steps) are
 * listed in its use file (`builds/` of the store) before they are
 * recorded, so `rmi` and `prune` leave them alone while it runs; a RUN's
 * container carries the build's owner (pid and start time) in a label,
 * and `gc` (or the next build) deletes one whose build is gone. Names are
 * given last: a build killed at any instant leaves no image anything lists.
 *
 * @module
 */

import { join, resolve } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { removeTree } from "../container/bundle.ts";
import { InvalidArgument, isNotFound } from "../host/errors.ts";
import { startTimeOf } from "../host/proc.ts";
import {
  commitStep,
  type ContainerConfigSection,
  formatReference,
  type ImageRecord,
  layerKey,
  loadNode,
  parseReference,
  resolveImage,
  resolveUser,
  storeOf,
} from "../image/mod.ts";
import {
  type Containerfile,
  type Instruction,
  keyValuePairs,
  lineError,
  parseContainerfile,
  parseDuration,
  type Stage,
  substitute,
  words,
} from "./_containerfile.ts";
import { cleanRel, IgnoreMatcher } from "./_ignore.ts";
import {
  checkSourcePath,
  ContextTree,
  copyEntry,
  globSources,
  hashSource,
  ImageTree,
  isGlob,
  resolveInImage,
  type SourceTree,
  textHash,
} from "./_sources.ts";
import { runStep } from "./_run_step.ts";

/** What `build` was asked for. */
export interface BuildOptions {
  context: string;
  /** `-f FILE`, or null (CONTEXT/Containerfile, then CONTEXT/Dockerfile). */
  file: string | null;
  tags: string[];
  buildArgs: Map<string, string>;
  target: string | null;
  noCache: boolean;
  pull: boolean;
  network: string | null;
  quiet: boolean;
  /** `--timestamp` or SOURCE_DATE_EPOCH (seconds), or null. */
  timestamp: number | null;
}

/** The Containerfile a build reads and the name its errors use. */
export function containerfileOf(context: string, file: string | null): string {
  if (file !== null) return resolve(file);
  for (const name of ["Containerfile", "Dockerfile"]) {
    try {
      if (Deno.statSync(join(context, name)).isFile) return join(context, name);
    } catch { /* next */ }
  }
  throw new InvalidArgument(`build: no Containerfile or Dockerfile in ${context} (use -f FILE)`);
}

/** The state of one stage as its steps go. */
interface StageState {
  image: ImageRecord | null;
  config: ContainerConfigSection;
  /** Build arguments in scope (declared in this stage). */
  args: Map<string, string>;
  shell: string[];
}

const DEFAULT_SHELL = ["/bin/sh", "-c"];

/** Checks the options and reads everything a build needs before it writes anything. */
function prepare(o: BuildOptions): {
  cf: Containerfile;
  fileName: string;
  context: ContextTree;
  last: number;
} {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(o.context);
  } catch {
    throw new InvalidArgument(`build: context ${o.context} does not exist`);
  }
  if (!st.isDirectory) throw new InvalidArgument(`build: context ${o.context} is not a directory`);
  for (const t of o.tags) parseReference(t);
  const path = containerfileOf(o.context, o.file);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (isNotFound(err)) throw new InvalidArgument(`build: ${path} does not exist`);
    throw err;
  }
  const fileName = path.slice(path.lastIndexOf("/") + 1);
  const cf = parseContainerfile(text, fileName);
  let ignoreText = "";
  let ignoreName = ".containerignore";
  for (const name of [".containerignore", ".dockerignore"]) {
    try {
      ignoreText = Deno.readTextFileSync(join(o.context, name));
      ignoreName = name;
      break;
    } catch { /* next */ }
  }
  const ignore = new IgnoreMatcher(ignoreText, ignoreName);
  // Context sources that need no substitution are checked now, before any step runs.
  const context = new ContextTree(resolve(o.context), ignore);
  for (const stage of cf.stages) {
    for (const ins of stage.steps) {
      if ((ins.name !== "COPY" && ins.name !== "ADD") || ins.flags.from !== undefined) continue;
      for (const s of words(ins).slice(0, -1)) {
        if (s.includes("$")) continue;
        const why = checkSourcePath(context, s) ??
          ((isGlob(s) ? globSources(context, s) : [cleanRel(s)]).some((m) =>
              context.lstat(m) !== null
            )
            ? null
            : `${s}: not found in ${context.what}`);
        if (why !== null) throw lineError(fileName, ins.line, `${ins.name} ${why}`);
      }
    }
  }
  let last = cf.stages.length - 1;
  if (o.target !== null) {
    const t = o.target.toLowerCase();
    last = cf.stages.findIndex((s) => s.name === t);
    if (last < 0) throw new InvalidArgument(`build: no stage "${o.target}" (--target)`);
  }
  return { cf, fileName, context, last };
}

/** A step's cache key. */
function cacheKey(parts: unknown[]): Promise<string> {
  return textHash(JSON.stringify(parts));
}

function hex12(id: string): string {
  return id.slice(7, 19);
}

/** Builds; returns the image (named by `o.tags`). */
export async function buildImage(ctx: Context, o: BuildOptions): Promise<ImageRecord> {
  const { cf, fileName, context, last } = prepare(o);
  // node-tar and node:crypto load only when a step is made (commitStep, ADD's extraction):
  // a fully cached rebuild does without them.
  const store = storeOf(ctx);
  store.init();
  const { removeBuildLeftovers } = await import("../ops/build_leftovers.ts");
  await removeBuildLeftovers(ctx, false);
  const token = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const owner = `${Deno.pid}:${startTimeOf(Deno.pid) ?? 0}`;
  const used: string[] = [];
  /** Takes a stored image into the build's use (fails if it was removed meanwhile). */
  const use = async (id: string) => {
    if (!used.includes(id)) used.push(id);
    await store.takeBuildUse(token, used);
  };
  /** Lists an image about to be recorded in the build's use (before it is recorded). */
  const useNew = async (id: string) => {
    if (!used.includes(id)) used.push(id);
    await store.writeBuildUse(token, used);
  };
  const say = (s: string) => {
    if (!o.quiet) ctx.io.out(s);
  };
  const created = () =>
    o.timestamp !== null
      ? new Date(o.timestamp * 1000).toISOString()
      : ctx.clock.now().toISOString();
  // Global ARGs: FROM lines only.
  const globals = new Map<string, string>();
  for (const a of cf.globalArgs) {
    const [k, v] = splitArg(a, new Map(), fileName);
    const given = o.buildArgs.get(k);
    if (given !== undefined) globals.set(k, given);
    else if (v !== null) globals.set(k, v);
  }
  const consumed = new Set<string>(globals.keys());
  const results: (ImageRecord | null)[] = [];
  const stages = cf.stages.slice(0, last + 1);
  try {
    for (const stage of stages) {
      const total = stage.steps.length + 1;
      const prefix = stages.length > 1 ? `[${stage.index + 1}/${stages.length}] ` : "";
      let n = 1;
      const step = (ins: Instruction, text: string) =>
        say(`${prefix}STEP ${n++}/${total}: ${ins.name} ${text}\n`);
      const base = substitute(stage.base, globals, fileName, stage.from.line);
      step(stage.from, stage.from.args.replace(stage.base, base));
      const st = await fromStep(ctx, o, base, cf.stages, results, stage, fileName);
      if (st.image !== null) await use(st.image.id);
      for (const ins of stage.steps) {
        try {
          const vars = new Map([...st.args, ...envMap(st.config)]);
          const sub = (t: string) => substitute(t, vars, fileName, ins.line);
          if (ins.name === "ARG") {
            const [k, v] = splitArg(ins, vars, fileName);
            consumed.add(k);
            const value = o.buildArgs.get(k) ?? v ?? globals.get(k);
            if (value !== undefined) st.args.set(k, value);
            else st.args.delete(k);
            step(ins, ins.args);
            continue;
          }
          const shown = ["RUN", "CMD", "ENTRYPOINT", "SHELL", "HEALTHCHECK"].includes(ins.name)
            ? ins.args
            : sub(ins.args);
          const flags = Object.entries(ins.flags).map(([k, v]) => `--${k}=${v} `).join("");
          step(ins, flags + shown);
          const parentId = st.image?.id ?? "scratch";
          let next: ImageRecord;
          if (ins.name === "RUN") {
            const argv = ins.json ?? [...st.shell, ins.args];
            const env = [...st.args].filter(([k]) => !envMap(st.config).has(k)).map(([k, v]) =>
              `${k}=${v}`
            );
            const key = await cacheKey([parentId, "RUN", argv, env, o.network]);
            next = await cached(ctx, o, key, say, use) ??
              await runStep(ctx, {
                image: st.image,
                argv,
                env,
                network: o.network,
                quiet: o.quiet,
                owner,
                where: `${fileName}:${ins.line}`,
                layers: (st.image?.layers ?? []).map((l) => store.layerDir(layerKey(l))).reverse(),
                commit: (tree) =>
                  commitStep(ctx, {
                    parent: st.image,
                    tree,
                    mode: "upper",
                    config: st.config,
                    createdBy: ins.json
                      ? `RUN ${JSON.stringify(argv)}`
                      : `${st.shell.join(" ")} ${ins.args}`,
                    created: created(),
                    maxMtime: o.timestamp,
                    cacheKey: key, // --no-cache skips the lookup; the step still fills the cache
                    beforeRecord: useNew,
                  }),
              });
          } else if (ins.name === "COPY" || ins.name === "ADD") {
            next = await copyStep(ctx, o, {
              ins,
              st,
              sub,
              context,
              stages: cf.stages,
              results,
              fileName,
              say,
              use,
              useNew,
              created: created(),
            });
          } else {
            const config = structuredClone(st.config);
            const shell = applyConfigStep(config, ins, sub, st, fileName);
            if (shell !== null) st.shell = shell;
            const text = ins.name === "SHELL" ? JSON.stringify(st.shell) : shown;
            const key = await cacheKey([parentId, ins.name, text, ins.flags]);
            next = await cached(ctx, o, key, say, use) ??
              await commitStep(ctx, {
                parent: st.image,
                tree: null,
                mode: "tree",
                config,
                ...(ins.name === "MAINTAINER" ? { author: text } : {}),
                createdBy: `/bin/sh -c #(nop) ${ins.name} ${text}`,
                created: created(),
                maxMtime: o.timestamp,
                cacheKey: key, // --no-cache skips the lookup; the step still fills the cache
                beforeRecord: useNew,
              });
          }
          crashPoint(ctx.crashAt, "build:step");
          st.image = next;
          st.config = { ...(store.config(next).config ?? {}) } as ContainerConfigSection;
          say(`--> ${hex12(next.id)}\n`);
        } catch (err) {
          // Which step failed: errors from below (the store, the runtime) name it too.
          if (err instanceof Error && !err.message.startsWith(`${fileName}:`)) {
            err.message = `${fileName}:${ins.line}: ${ins.name}: ${err.message}`;
          }
          throw err;
        }
      }
      results[stage.index] = st.image;
    }
    const final = results[last] ?? null;
    if (final === null) {
      throw new InvalidArgument(`build: the image is empty (FROM scratch and nothing else)`);
    }
    for (const [k] of o.buildArgs) {
      if (!consumed.has(k)) ctx.io.err(`berth: warning: build argument ${k} was not consumed\n`);
    }
    await store.markBuilt(final.id);
    for (const t of o.tags) {
      await store.tag(final.id, t);
      say(`COMMIT ${formatReference(parseReference(t))}\n`);
    }
    return store.get(final.id);
  } finally {
    store.dropBuildUse(token);
  }
}

/** The config's Env as a map. */
function envMap(c: ContainerConfigSection): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of c.Env ?? []) {
    const eq = kv.indexOf("=");
    if (eq > 0) m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** ARG NAME[=VALUE]: its name and default (substituted), or null. */
function splitArg(
  ins: Instruction,
  vars: Map<string, string>,
  file: string,
): [string, string | null] {
  const eq = ins.args.indexOf("=");
  if (eq < 0) return [ins.args.trim(), null];
  const [[k, v]] = keyValuePairs(ins.args, file, ins.line) as [[string, string]];
  return [k, substitute(v, vars, file, ins.line)];
}

/** A stage's base: an earlier stage, scratch, or an image (pulled if missing or `--pull`). */
async function fromStep(
  ctx: Context,
  o: BuildOptions,
  base: string,
  all: Stage[],
  results: (ImageRecord | null)[],
  stage: Stage,
  file: string,
): Promise<StageState> {
  const state = (image: ImageRecord | null): StageState => ({
    image,
    config: image === null
      ? {}
      : { ...(storeOf(ctx).config(image).config ?? {}) } as ContainerConfigSection,
    args: new Map(),
    shell: (image === null ? null : shellOf(storeOf(ctx).config(image).config)) ?? DEFAULT_SHELL,
  });
  if (base.toLowerCase() === "scratch") return state(null);
  const earlier = all.findIndex((s) => s.name === base.toLowerCase() && s.index < stage.index);
  if (earlier >= 0) return state(results[earlier] ?? null);
  if (base === "") throw lineError(file, stage.from.line, "FROM needs an image");
  try {
    parseReference(base);
  } catch (err) {
    throw lineError(file, stage.from.line, (err as Error).message);
  }
  const src = await resolveImage(ctx, base, o.pull ? "always" : "missing");
  return state(storeOf(ctx).get(src.id));
}

function shellOf(c: unknown): string[] | null {
  const s = (c as { Shell?: unknown } | undefined)?.Shell;
  return Array.isArray(s) && s.every((x) => typeof x === "string") && s.length > 0 ? s : null;
}

/** The image of `key` if the cache has it (and `--no-cache` is not given); taken into use. */
async function cached(
  ctx: Context,
  o: BuildOptions,
  key: string,
  say: (s: string) => void,
  use: (id: string) => Promise<void>,
): Promise<ImageRecord | null> {
  if (o.noCache) return null;
  const store = storeOf(ctx);
  const hit = store.list().find((r) =>
    r.cacheKeys?.includes(key) && r.layers.every((l) => store.hasLayer(layerKey(l)))
  );
  if (hit === undefined) return null;
  try {
    await use(hit.id); // under the store lock: still there, and kept from now on
  } catch {
    return null; // removed meanwhile: build the step again
  }
  say(`--> Using cache ${hit.id.slice(7)}\n`);
  return hit;
}

/** Applies a config-only instruction; returns a new shell for SHELL, else null. */
function applyConfigStep(
  c: ContainerConfigSection,
  ins: Instruction,
  sub: (t: string) => string,
  st: StageState,
  file: string,
): string[] | null {
  const form = (): string[] => ins.json ?? (ins.args === "" ? [] : [...st.shell, ins.args]);
  switch (ins.name) {
    case "ENV": {
      const env = [...(c.Env ?? [])];
      for (const [k, v] of keyValuePairs(ins.args, file, ins.line)) {
        const value = sub(v);
        const at = env.findIndex((e) => e.startsWith(k + "="));
        if (at >= 0) env[at] = `${k}=${value}`;
        else env.push(`${k}=${value}`);
      }
      c.Env = env;
      return null;
    }
    case "LABEL": {
      const labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of keyValuePairs(ins.args, file, ins.line)) labels[sub(k)] = sub(v);
      c.Labels = labels;
      return null;
    }
    case "WORKDIR": {
      const dir = sub(ins.args);
      c.WorkingDir = dir.startsWith("/")
        ? "/" + cleanRel(dir)
        : "/" + cleanRel(`${c.WorkingDir ?? "/"}/${dir}`);
      return null;
    }
    case "USER":
      c.User = sub(ins.args);
      return null;
    case "CMD":
      c.Cmd = form();
      return null;
    case "ENTRYPOINT":
      c.Entrypoint = form();
      c.Cmd = null; // an inherited CMD goes with a new ENTRYPOINT
      return null;
    case "EXPOSE": {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of sub(ins.args).split(/\s+/).filter((w) => w !== "")) {
        const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(p);
        if (m === null || Number(m[1]) < 1 || Number(m[1]) > 65535) {
          throw lineError(file, ins.line, `EXPOSE ${p}: not PORT[/PROTOCOL]`);
        }
        ports[`${Number(m[1])}/${(m[2] ?? "tcp").toLowerCase()}`] = {};
      }
      c.ExposedPorts = ports;
      return null;
    }
    case "VOLUME": {
      const vols = { ...(c.Volumes ?? {}) };
      for (const v of words(ins).map(sub)) {
        if (!v.startsWith("/")) {
          throw lineError(file, ins.line, `VOLUME ${v}: not an absolute path`);
        }
        vols[v] = {};
      }
      c.Volumes = vols;
      return null;
    }
    case "STOPSIGNAL": {
      const s = sub(ins.args);
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(s)) {
        throw lineError(file, ins.line, `"${s}" is not a signal`);
      }
      c.StopSignal = s;
      return null;
    }
    case "HEALTHCHECK": {
      if (ins.args.trim().toUpperCase() === "NONE") {
        c.Healthcheck = { Test: ["NONE"] };
        return null;
      }
      const cmd = ins.args.replace(/^\s*CMD\s+/i, "");
      const json = cmd.startsWith("[") ? JSON.parse(cmd) as string[] : null;
      const h: Record<string, unknown> = {
        Test: json !== null ? ["CMD", ...json] : ["CMD-SHELL", cmd],
      };
      const f = ins.flags;
      if (f.interval) h.Interval = parseDuration(f.interval);
      if (f.timeout) h.Timeout = parseDuration(f.timeout);
      if (f["start-period"]) h.StartPeriod = parseDuration(f["start-period"]);
      if (f["start-interval"]) h.StartInterval = parseDuration(f["start-interval"]);
      if (f.retries) h.Retries = Number(f.retries);
      c.Healthcheck = h;
      return null;
    }
    case "SHELL":
      c.Shell = ins.json!;
      return ins.json!;
    case "MAINTAINER":
      return null; // the config's author, set by the step
    default:
      throw lineError(file, ins.line, `${ins.name} is not a config instruction`);
  }
}

/** What {@linkcode copyStep} works with. */
interface CopyWork {
  ins: Instruction;
  st: StageState;
  sub: (t: string) => string;
  context: ContextTree;
  stages: Stage[];
  results: (ImageRecord | null)[];
  fileName: string;
  say: (s: string) => void;
  use: (id: string) => Promise<void>;
  useNew: (id: string) => Promise<void>;
  created: string;
}

/** The tree `COPY --from=X` reads: an earlier stage's image, or an image (pulled if missing). */
async function fromTree(
  ctx: Context,
  o: BuildOptions,
  w: CopyWork,
  from: string,
): Promise<SourceTree> {
  const ref = from.toLowerCase();
  const idx = w.stages.findIndex((s) => s.name === ref || String(s.index) === ref);
  let rec: ImageRecord | null;
  let what: string;
  if (idx >= 0) {
    rec = w.results[idx] ?? null;
    what = `stage "${from}"`;
  } else {
    try {
      parseReference(from);
    } catch {
      throw lineError(w.fileName, w.ins.line, `COPY --from=${from}: no such stage or image`);
    }
    const src = await resolveImage(ctx, from, o.pull ? "always" : "missing");
    rec = storeOf(ctx).get(src.id);
    what = `image ${from}`;
  }
  if (rec !== null) await w.use(rec.id);
  const store = storeOf(ctx);
  const layers = (rec?.layers ?? []).map((l) => store.layerDir(layerKey(l))).reverse();
  return new ImageTree(what, layers);
}

/** COPY and ADD: sources resolved and hashed, then (on a miss) staged and committed. */
async function copyStep(ctx: Context, o: BuildOptions, w: CopyWork): Promise<ImageRecord> {
  const { ins, st, sub, fileName } = w;
  const all = words(ins).map(sub);
  const srcs = all.slice(0, -1);
  let dest = all[all.length - 1]!;
  const tree = ins.flags.from !== undefined
    ? await fromTree(ctx, o, w, sub(ins.flags.from))
    : w.context;
  const found: string[] = [];
  for (const s of srcs) {
    const why = checkSourcePath(tree, s);
    if (why !== null) throw lineError(fileName, ins.line, `${ins.name} ${why}`);
    const matched = isGlob(s) ? globSources(tree, s) : [cleanRel(s)];
    const present = matched.filter((m) => tree.lstat(m) !== null);
    if (present.length === 0) {
      throw lineError(fileName, ins.line, `${ins.name} ${s}: not found in ${tree.what}`);
    }
    found.push(...present);
  }
  const layersTop = (st.image?.layers ?? []).map((l) => storeOf(ctx).layerDir(layerKey(l)))
    .reverse();
  let owner: { uid: number; gid: number } | null = null;
  if (ins.flags.chown !== undefined) {
    try {
      owner = await resolveUser([...layersTop].reverse(), sub(ins.flags.chown));
    } catch (err) {
      throw lineError(fileName, ins.line, `--chown: ${(err as Error).message}`);
    }
  }
  const mode = ins.flags.chmod !== undefined ? parseInt(ins.flags.chmod, 8) : null;
  if (!dest.startsWith("/")) dest = `${st.config.WorkingDir ?? "/"}/${dest}`;
  const destIsDir = dest.endsWith("/") || found.length > 1 || srcs.some(isGlob);
  const destAsGiven = cleanRel(dest);
  const read: string[] = [];
  for (const f of found) await hashSource(tree, f, read);
  const contentHash = await textHash(read.join("\n"));
  const key = await cacheKey([
    st.image?.id ?? "scratch",
    ins.name,
    found,
    destAsGiven,
    destIsDir,
    ins.flags,
    owner,
    contentHash,
  ]);
  const hit = await cached(ctx, o, key, w.say, w.use);
  if (hit !== null) return hit;
  const store = storeOf(ctx);
  const staging = store.tempDir();
  try {
    const below = new ImageTree("the image", layersTop);
    const destRel = resolveInImage(below, destAsGiven, true);
    const destExistingDir = below.lstat(destRel)?.isDirectory === true;
    const intoDir = destIsDir || destExistingDir;
    mkParents(staging, intoDir ? destRel : parentOf(destRel), below);
    const attrs = { owner, mode, keepOwner: tree !== w.context, links: new Map<number, string>() };
    for (const f of found) {
      const st0 = tree.lstat(f)!;
      const name = f === "" ? "" : f.slice(f.lastIndexOf("/") + 1);
      if (ins.name === "ADD" && st0.isFile && tree === w.context) {
        const compression = await archiveKind(await tree.openFile(f));
        if (compression !== null) {
          await extractInto(await tree.openFile(f), compression, join(staging, destRel));
          continue;
        }
      }
      if (st0.isDirectory) {
        // A directory's contents go into the destination.
        await copyEntry(tree, f, join(staging, destRel), attrs);
        restoreDirAttrs(join(staging, destRel), destRel, below);
      } else {
        await copyEntry(
          tree,
          f,
          intoDir ? join(staging, destRel, name) : join(staging, destRel),
          attrs,
        );
      }
    }
    const from = ins.flags.from !== undefined ? `--from=${ins.flags.from} ` : "";
    return await commitStep(ctx, {
      parent: st.image,
      tree: staging,
      mode: "tree",
      config: st.config,
      createdBy: `/bin/sh -c #(nop) ${ins.name} ${from}${contentHash} in ${dest}`,
      created: w.created,
      maxMtime: o.timestamp,
      cacheKey: key, // --no-cache skips the lookup; the step still fills the cache
      beforeRecord: w.useNew,
    });
  } finally {
    removeTree(staging);
  }
}

function parentOf(rel: string): string {
  return rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
}

/** Makes `rel`'s directories in `staging`, each with what the image below has there (else 0755 root). */
function mkParents(staging: string, rel: string, below: ImageTree): void {
  if (rel === "") return;
  const parts = rel.split("/");
  for (let i = 0; i < parts.length; i++) {
    const r = parts.slice(0, i + 1).join("/");
    const p = join(staging, r);
    try {
      Deno.mkdirSync(p);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    restoreDirAttrs(p, r, below);
  }
}

/** Gives the staged directory `p` the mode, owner and mtime `rel` has below, if it has one. */
function restoreDirAttrs(p: string, rel: string, below: ImageTree): void {
  const st = below.lstat(rel);
  if (st === null || !st.isDirectory) {
    Deno.chmodSync(p, 0o755);
    return;
  }
  Deno.chownSync(p, st.uid!, st.gid!);
  Deno.chmodSync(p, st.mode! & 0o7777);
  if (st.mtime !== null) Deno.utimeSync(p, st.atime ?? st.mtime, st.mtime);
}

/** The compression of a tar archive ADD extracts, or null (not an archive: copied as is). */
async function archiveKind(f: Deno.FsFile): Promise<"gzip" | "zstd" | "none" | null> {
  try {
    const head = new Uint8Array(512);
    let n = 0;
    while (n < head.length) {
      const r = await f.read(head.subarray(n));
      if (r === null) break;
      n += r;
    }
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
    if (n >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
      return "zstd";
    }
    if (n >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") return "none";
    return null;
  } finally {
    f.close();
  }
}

/** Extracts a local tar (ADD) into `dest` with the layer unpacker (never writes outside it). */
async function extractInto(
  input: Deno.FsFile,
  compression: "gzip" | "zstd" | "none",
  dest: string,
): Promise<void> {
  await loadNode();
  const { unpackLayer, openUmask } = await import("../image/mod.ts");
  const tmp = `${dest}.add-${crypto.randomUUID().slice(0, 8)}`;
  Deno.mkdirSync(tmp, { mode: 0o755 });
  const close = await openUmask();
  try {
    await unpackLayer(input.readable, compression, tmp);
  } finally {
    close();
  }
  Deno.mkdirSync(dest, { recursive: true });
  for (const e of Deno.readDirSync(tmp)) {
    try {
      Deno.removeSync(join(dest, e.name), { recursive: true });
    } catch { /* none */ }
    Deno.renameSync(join(tmp, e.name), join(dest, e.name));
  }
  Deno.removeSync(tmp, { recursive: true });
}
