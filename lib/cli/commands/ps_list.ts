/**
 * `berth ps [-a] [-q] [-n N] [--filter KEY=VALUE]... [--format F]` (and
 * `container ls`): the containers of the namespace in podman's shape.
 * States are read from their files and reconciled with /proc (as `list`),
 * never by starting a runtime per container.
 *
 * @module
 */

import { join } from "../../_std/path.ts";
import { type ParsedArgs, str, strs } from "../args.ts";
import { isLive } from "../../container/container.ts";
import type { Context } from "../../container/context.ts";
import type { ContainerState } from "../../container/state_file.ts";
import { nameOf } from "../../container/names.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { startMonitorIfDead } from "../../monitor/alive.ts";
import { reconcile } from "../../ops/reconcile.ts";
import { type OutputFormat, outputFormatOf, renderTemplate, table } from "./format.ts";
import { humanDuration } from "./human.ts";

/** Options of the listing. */
export interface PsListOptions {
  all: boolean;
  quiet: boolean;
  /** `-n N`: the N most recently created (all statuses), or null. */
  last: number | null;
  /** `--filter KEY=VALUE`, grouped by key: values of one key OR, keys AND. */
  filters: Record<string, string[]>;
  /** `table`, `json`, or a template (see {@linkcode renderFormat}). */
  format: OutputFormat;
}

/** The filter keys `ps` understands. */
export const PS_FILTER_KEYS = ["status", "name", "label", "ancestor", "network", "id"] as const;

/** The status words of podman-shaped output. */
export const PODMAN_STATUSES = ["created", "running", "paused", "exited"] as const;

/** The listing options of parsed `ps` arguments. */
export function psListOptions(p: ParsedArgs): PsListOptions {
  const n = str(p.values, "last");
  if (n !== undefined && !/^[0-9]{1,6}$/.test(n)) {
    throw new InvalidArgument(`ps: -n must be a whole number, not "${n}"`);
  }
  const filters: Record<string, string[]> = {};
  for (const f of strs(p.values, "filter")) {
    const eq = f.indexOf("=");
    const key = eq > 0 ? f.slice(0, eq) : f;
    if (eq <= 0 || !(PS_FILTER_KEYS as readonly string[]).includes(key)) {
      throw new InvalidArgument(
        `ps: --filter "${f}" must be KEY=VALUE with KEY one of ${PS_FILTER_KEYS.join(", ")}`,
      );
    }
    const value = f.slice(eq + 1);
    if (key === "status" && !(PODMAN_STATUSES as readonly string[]).includes(value)) {
      throw new InvalidArgument(
        `ps: --filter status= must be ${PODMAN_STATUSES.join(", ")}, not "${value}"`,
      );
    }
    (filters[key] ??= []).push(value);
  }
  // A template is parsed here: a bad one is exit 2 before anything is read.
  const format = outputFormatOf(p.values);
  return {
    all: p.values["all"] === true,
    quiet: p.values["quiet"] === true,
    last: n === undefined ? null : Number(n),
    filters,
    format,
  };
}

/** podman's status word: berth's `stopped` is `exited`. */
export function podmanStatus(s: ContainerState): (typeof PODMAN_STATUSES)[number] {
  return s.status === "stopped" ? "exited" : s.status;
}

/** The process's argv: the command given at create, else the bundle's config. */
function commandOf(s: ContainerState): string[] {
  if (s.request !== undefined && s.request.command.length > 0) return s.request.command;
  try {
    const config = JSON.parse(Deno.readTextFileSync(join(s.bundle, "config.json")));
    const args = config?.process?.args;
    return Array.isArray(args) ? args.map(String) : [];
  } catch {
    return [];
  }
}

export { humanDuration } from "./human.ts";

/** podman's STATUS text: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`, `Paused`. */
function statusText(s: ContainerState, now: number): string {
  const since = (t: string | null) => humanDuration(now - Date.parse(t ?? s.createdAt));
  switch (s.status) {
    case "created":
      return "Created";
    case "paused":
      return "Paused";
    case "running": {
      const up = `Up ${since(s.startedAt)}`;
      return s.health ? `${up} (${s.health})` : up;
    }
    case "stopped":
      return `Exited (${s.exitCode ?? 255}) ${since(s.exitedAt)} ago`;
  }
}

/** `0.0.0.0:8080->80/tcp, ...`. */
function portsOf(s: ContainerState): string {
  return (s.net?.ports ?? []).map((p) =>
    `${p.hostIP === "" ? "0.0.0.0" : p.hostIP}:${p.hostPort}->${p.containerPort}/${p.protocol}`
  ).join(", ");
}

/** One container in the shape of `podman ps --format json`. */
export function psEntry(s: ContainerState, now: number): Record<string, unknown> {
  const created = Date.parse(s.createdAt);
  return {
    Id: s.id,
    Names: [nameOf(s)],
    Image: s.image?.ref ?? s.source ?? "",
    ImageID: s.image?.id ?? "",
    Command: commandOf(s),
    Created: Math.floor(created / 1000),
    CreatedAt: s.createdAt,
    StartedAt: s.startedAt === null ? 0 : Math.floor(Date.parse(s.startedAt) / 1000),
    State: podmanStatus(s),
    Status: statusText(s, now),
    Exited: s.status === "stopped",
    ExitCode: s.exitCode ?? 0,
    ExitedAt: s.exitedAt === null ? 0 : Math.floor(Date.parse(s.exitedAt) / 1000),
    Pid: s.status === "stopped" ? 0 : s.pid ?? 0,
    Labels: s.labels,
    Networks: s.network ? [s.network.name] : [],
    Ports: (s.net?.ports ?? []).map((p) => ({
      host_ip: p.hostIP,
      host_port: p.hostPort,
      container_port: p.containerPort,
      protocol: p.protocol,
    })),
    Namespace: s.namespace,
  };
}

/** The fields a `--format` template sees for one container (podman's names: `.ID`, `.Names`). */
export function psTemplateRow(s: ContainerState, now: number): Record<string, unknown> {
  const e = psEntry(s, now);
  return {
    ...e,
    ID: s.id,
    Names: nameOf(s),
    Command: (e.Command as string[]).join(" "),
    CreatedHuman: `${humanDuration(now - Date.parse(s.createdAt))} ago`,
    Ports: portsOf(s),
  };
}

function matches(s: ContainerState, filters: Record<string, string[]>): boolean {
  const any = (key: string, test: (v: string) => boolean) =>
    filters[key] === undefined || filters[key]!.some(test);
  return any("status", (v) => podmanStatus(s) === v) &&
    any("name", (v) => {
      try {
        return new RegExp(v).test(nameOf(s));
      } catch {
        return nameOf(s).includes(v);
      }
    }) &&
    any("id", (v) => s.id.startsWith(v)) &&
    any("label", (v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in s.labels : s.labels[v.slice(0, eq)] === v.slice(eq + 1);
    }) &&
    any("ancestor", (v) => {
      const ref = s.image?.ref ?? "";
      const id = (s.image?.id ?? "").replace(/^sha256:/, "");
      return ref === v || ref.endsWith(`/${v}`) || ref.startsWith(`${v}:`) ||
        ref.includes(`/${v}:`) || (v.replace(/^sha256:/, "").length >= 4 &&
          id.startsWith(v.replace(/^sha256:/, "")));
    }) &&
    any("network", (v) => s.network?.name === v);
}

/** The containers `o` selects, oldest first (as `list`), reconciled. */
export async function selectContainers(ctx: Context, o: PsListOptions): Promise<ContainerState[]> {
  const warn = (m: string) => ctx.io.err(`berth: warning: ${m}\n`);
  const loaded = await ctx.store.list(ctx.globals.namespace, warn);
  let states = (await Promise.all(loaded.map((s) => reconcile(ctx, s).catch(() => s))))
    .filter((s): s is ContainerState => s !== null);
  if (states.some(isLive)) await startMonitorIfDead(ctx);
  states.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const everyStatus = o.all || o.last !== null || o.filters.status !== undefined;
  if (!everyStatus) states = states.filter((s) => s.status === "running");
  states = states.filter((s) => matches(s, o.filters));
  if (o.last !== null) states = states.slice(Math.max(0, states.length - o.last));
  return states;
}

/**
 * Renders `--format` `table`, `json` or a template (whose rows are
 * {@linkcode psTemplateRow}s, with podman's field names).
 */
export function renderFormat(format: OutputFormat, states: ContainerState[], now: number): string {
  if (format.kind === "template") {
    return renderTemplate(format, states.map((s) => psTemplateRow(s, now)), {
      ID: "CONTAINER ID",
    });
  }
  if (format.kind === "json") {
    return JSON.stringify(states.map((s) => psEntry(s, now)), null, 2) + "\n";
  }
  {
    const head = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];
    const rows = states.map((s) => {
      const r = psTemplateRow(s, now);
      const cmd = String(r.Command);
      return [
        s.id.length > 12 ? s.id.slice(0, 12) : s.id,
        String(r.Image),
        cmd.length > 20 ? `${cmd.slice(0, 17)}...` : cmd,
        String(r.CreatedHuman),
        String(r.Status),
        String(r.Ports),
        nameOf(s),
      ];
    });
    return table([head, ...rows]);
  }
}

/** Runs the listing. */
export async function psList(ctx: Context, o: PsListOptions): Promise<number> {
  const states = await selectContainers(ctx, o);
  if (o.quiet) {
    ctx.io.out(states.map((s) => `${s.id}\n`).join(""));
    return 0;
  }
  ctx.io.out(renderFormat(o.format, states, ctx.clock.now().getTime()));
  return 0;
}
