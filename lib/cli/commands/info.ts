/**
 * `berth info [--format json|TEMPLATE]`: the host and the store, as
 * podman's info (its field names: `{{.Host.Kernel}}`, `{{.Store.GraphRoot}}`).
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import type { Context } from "../../container/context.ts";
import type { ContainerState } from "../../container/state_file.ts";
import { requireRuntimeBinary } from "../../host/runtime.ts";
import { VERSION } from "../../host/version.ts";
import { storeOf } from "../../image/mod.ts";
import { cgroupVersion } from "../../limits/mod.ts";
import { reconcile } from "../../ops/reconcile.ts";
import { listVolumes } from "../../volume/mod.ts";
import { type OutputFormat, outputFormatOf, renderTemplate } from "./format.ts";

const OPTIONS = [{
  name: "format",
  type: "string" as const,
  value: "json|TEMPLATE",
  help: "json, or a Go template ('{{.Host.Kernel}}'); default: podman's YAML-like text",
}];

/** A nested record of podman's Go field names. */
export type InfoTree = { [key: string]: string | number | InfoTree };

/** The distribution's PRETTY_NAME from /etc/os-release ("" when unreadable). */
function distribution(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(Deno.readTextFileSync("/etc/os-release"));
    return m?.[1] ?? "";
  } catch {
    return "";
  }
}

async function runtimeInfo(ctx: Context): Promise<InfoTree> {
  let path = "";
  let version = "";
  try {
    path = requireRuntimeBinary(ctx.globals.runtime);
    version = await ctx.runtime.version();
  } catch (err) {
    version = `unavailable: ${err instanceof Error ? err.message : String(err)}`;
  }
  return { Name: ctx.globals.runtime.split("/").pop() ?? "", Path: path, Version: version };
}

/** Counts of the namespace's containers by status (reconciled, as ps shows them). */
export function containerCounts(states: readonly ContainerState[]): InfoTree {
  const by = (status: string) => states.filter((s) => s.status === status).length;
  return {
    Number: states.length,
    Created: by("created"),
    Running: by("running"),
    Paused: by("paused"),
    Stopped: by("stopped"),
  };
}

/** Gathers berth's info. */
export async function gatherInfo(ctx: Context): Promise<InfoTree> {
  const ns = ctx.globals.namespace;
  const loaded = await ctx.store.list(ns, (m) => ctx.io.err(`berth: warning: ${m}\n`));
  const states = (await Promise.all(loaded.map((s) => reconcile(ctx, s).catch(() => s))))
    .filter((s): s is ContainerState => s !== null);
  return {
    Host: {
      Arch: Deno.build.arch === "x86_64"
        ? "amd64"
        : Deno.build.arch === "aarch64"
        ? "arm64"
        : Deno.build.arch,
      OS: Deno.build.os,
      Distribution: distribution(),
      Kernel: Deno.osRelease(),
      Hostname: Deno.hostname(),
      CgroupVersion: `v${cgroupVersion()}`,
      OCIRuntime: await runtimeInfo(ctx),
    },
    Store: {
      RunRoot: ctx.globals.root,
      GraphRoot: ctx.globals.dataRoot,
      Namespace: ns,
      ContainerStore: containerCounts(states),
      ImageStore: { Number: storeOf(ctx).list().length },
      VolumeStore: { Number: (await listVolumes(ctx, ns)).length },
    },
    Version: { Version: VERSION, DenoVersion: Deno.version.deno },
  };
}

/** podman's JSON key for a Go field name (`OCIRuntime` → ociRuntime, `OS` → os). */
export function jsonKey(name: string): string {
  const m = /^([A-Z]+)(?=[A-Z][a-z]|$)|^[A-Z]/.exec(name);
  return m === null ? name : m[0].toLowerCase() + name.slice(m[0].length);
}

/** The tree with podman's JSON keys (the Version section keeps Go names, as podman's). */
export function infoJson(tree: InfoTree, top = true): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(tree).map(([k, v]) => [
      jsonKey(k),
      typeof v === "object" ? (top && k === "Version" ? v : infoJson(v, false)) : v,
    ]),
  );
}

/** podman's default text: `key: value`, nested by two spaces. */
export function infoText(tree: Record<string, unknown>, indent = ""): string {
  return Object.entries(tree).map(([k, v]) =>
    typeof v === "object" && v !== null
      ? `${indent}${k}:\n${infoText(v as Record<string, unknown>, indent + "  ")}`
      : `${indent}${k}: ${v === "" ? '""' : String(v)}\n`
  ).join("");
}

/** `info`. */
export const infoCommand: Command<{ format: OutputFormat | null }> = {
  name: "info",
  summary: "show the host (OS, kernel, cgroups, runtime) and the store (roots, counts)",
  usage: "info [--format json|TEMPLATE]",
  description:
    "As podman's info: host (arch, os, distribution, kernel, hostname, cgroupVersion,\n" +
    "ociRuntime name/path/version), store (runRoot, graphRoot, namespace, containerStore\n" +
    "counts by status, imageStore and volumeStore counts), version (berth's and Deno's).\n" +
    "Templates take the Go names: '{{.Host.Kernel}}', '{{.Store.ContainerStore.Running}}'.",
  options: OPTIONS,
  positionals: [],
  examples: [
    "berth info",
    "berth info --format json",
    "berth info --format '{{.Host.CgroupVersion}}'",
  ],
  parse(args) {
    const p = parseCommandArgs("info", args, OPTIONS);
    noCommand("info", p.command);
    expectPositionals("info", p.positionals, []);
    return { format: p.values["format"] === undefined ? null : outputFormatOf(p.values, "json") };
  },
  async run(ctx, o) {
    const tree = await gatherInfo(ctx);
    if (o.format?.kind === "template") ctx.io.out(renderTemplate(o.format, [tree]));
    else if (o.format === null || o.format.kind === "table") ctx.io.out(infoText(infoJson(tree)));
    else ctx.io.out(JSON.stringify(infoJson(tree), null, 2) + "\n");
    return 0;
  },
};
