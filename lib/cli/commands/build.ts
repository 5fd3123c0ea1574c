/**
 * `berth build [-t TAG]... [-f FILE] [--build-arg K=V]... [--target STAGE]
 * [--no-cache] [--pull] [--network MODE] [--timestamp SECONDS] [-q]
 * CONTEXT`: an image from a Containerfile (see lib/build/mod.ts).
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs, str, strs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import type { BuildOptions } from "../../build/mod.ts";

const OPTIONS = [
  {
    name: "tag",
    short: "t",
    type: "string" as const,
    multiple: true,
    value: "TAG",
    help: "name the image (repeatable)",
  },
  {
    name: "file",
    short: "f",
    type: "string" as const,
    value: "FILE",
    help: "the Containerfile (default: CONTEXT/Containerfile, then CONTEXT/Dockerfile)",
  },
  {
    name: "build-arg",
    type: "string" as const,
    multiple: true,
    value: "K=V",
    help: "set a build argument an ARG declares (K alone: its value in berth's environment)",
  },
  { name: "target", type: "string" as const, value: "STAGE", help: "build up to this stage" },
  { name: "no-cache", type: "boolean" as const, help: "run every step again (no cached steps)" },
  { name: "pull", type: "boolean" as const, help: "pull base images even when stored" },
  {
    name: "network",
    type: "string" as const,
    value: "MODE",
    help: "the network of RUN steps (default: as run's, bridge; none: no network)",
  },
  {
    name: "timestamp",
    type: "string" as const,
    value: "SECONDS",
    help: "created time of the history and config, and the newest mtime in layers " +
      "(default: SOURCE_DATE_EPOCH if set)",
  },
  { name: "quiet", short: "q", type: "boolean" as const, help: "print only the image ID" },
];

/** What `build` parses: the options, and `--build-arg K` names whose values come from the environment. */
export interface BuildArgs extends BuildOptions {
  argsFromEnv: string[];
}

/** `build`. */
export const buildCommand: Command<BuildArgs> = {
  name: "build",
  summary: "build an image from a Containerfile",
  usage: "build [-t TAG]... [-f FILE] [--build-arg K=V]... [--target STAGE] [--no-cache] " +
    "[--pull] [--network MODE] [--timestamp SECONDS] [-q] CONTEXT",
  description:
    "Each step of the Containerfile (or Dockerfile) becomes an image: RUN steps run as " +
    "berth containers and their changes become a layer, COPY and ADD copy from the context " +
    "(less what .containerignore or .dockerignore leaves out; never through a symlink out " +
    "of it) or, with --from, from an earlier stage or an image; other instructions change " +
    "the config. Unchanged steps are taken from the cache; `image prune` clears it. " +
    "ADD extracts local tar archives and does not fetch URLs. Prints the image ID last.",
  options: OPTIONS,
  examples: [
    "berth build -t app:1 .",
    "berth build -f build/Containerfile --build-arg VERSION=2 --target runtime -t app:2 .",
    "berth build -q --no-cache .",
  ],
  parse(args) {
    const p = parseCommandArgs("build", args, OPTIONS);
    noCommand("build", p.command);
    const [context, ...rest] = p.positionals;
    if (context === undefined) throw new InvalidArgument("build: missing CONTEXT");
    if (rest.length > 0) throw new InvalidArgument(`build: unexpected argument "${rest[0]}"`);
    const buildArgs = new Map<string, string>();
    const argsFromEnv: string[] = [];
    for (const kv of strs(p.values, "build-arg")) {
      const eq = kv.indexOf("=");
      if (eq < 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(kv)) argsFromEnv.push(kv); // podman's K
      else if (eq <= 0) throw new InvalidArgument(`build: --build-arg ${kv} is not K=V`);
      else buildArgs.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
    const ts = str(p.values, "timestamp");
    if (ts !== undefined && !/^\d{1,12}$/.test(ts)) {
      throw new InvalidArgument(`build: --timestamp ${ts} is not seconds since the epoch`);
    }
    return {
      context,
      file: str(p.values, "file") ?? null,
      tags: strs(p.values, "tag"),
      buildArgs,
      argsFromEnv,
      target: str(p.values, "target") ?? null,
      noCache: bool(p.values, "no-cache"),
      pull: bool(p.values, "pull"),
      network: str(p.values, "network") ?? null,
      quiet: bool(p.values, "quiet"),
      timestamp: ts === undefined ? null : Number(ts),
    };
  },
  async run(ctx, o) {
    let timestamp = o.timestamp;
    const epoch = ctx.env("SOURCE_DATE_EPOCH");
    if (timestamp === null && epoch !== undefined && epoch !== "") {
      if (!/^\d{1,12}$/.test(epoch)) {
        throw new InvalidArgument(`build: SOURCE_DATE_EPOCH=${epoch} is not seconds`);
      }
      timestamp = Number(epoch);
    }
    const buildArgs = new Map(o.buildArgs);
    for (const k of o.argsFromEnv) {
      const v = ctx.env(k);
      if (v !== undefined) buildArgs.set(k, v);
    }
    const { argsFromEnv: _, ...options } = o;
    const { buildImage } = await import("../../build/mod.ts");
    const rec = await buildImage(ctx, { ...options, buildArgs, timestamp });
    ctx.io.out(`${rec.id.slice("sha256:".length)}\n`);
    return 0;
  },
};
