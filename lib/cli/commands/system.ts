/**
 * `berth system df|prune`: podman's disk usage table and its prune of
 * everything unused (stopped containers, unused images, unused volumes).
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import type { Context } from "../../container/context.ts";
import type { ContainerState } from "../../container/state_file.ts";
import { InvalidArgument, WrongState } from "../../host/errors.ts";
import { diskUsage } from "../../host/disk_usage.ts";
import { staleUse, storeOf } from "../../image/mod.ts";
import { reconcile } from "../../ops/reconcile.ts";
import { listVolumes, pruneVolumes } from "../../volume/mod.ts";
import { confirmed } from "./confirm.ts";
import { pruneContainers } from "./container_prune.ts";
import { type OutputFormat, outputFormatOf, renderTemplate, table } from "./format.ts";

const DF_OPTIONS = [{
  name: "format",
  type: "string" as const,
  value: "json|TEMPLATE",
  help: "json, or a Go template on each row ('{{.Type}} {{.Size}}')",
}];

const PRUNE_OPTIONS = [
  {
    name: "all",
    short: "a",
    type: "boolean" as const,
    help: "remove every image no container uses, not only those without a name",
  },
  {
    name: "force",
    short: "f",
    type: "boolean" as const,
    help: "do not ask for confirmation (needed when stdin is not a terminal)",
  },
  {
    name: "volumes",
    type: "boolean" as const,
    help: "remove the volumes no container uses too",
  },
];

type SystemOptions =
  | { sub: "df"; format: OutputFormat | null }
  | { sub: "prune"; all: boolean; force: boolean; volumes: boolean };

/** One row of `system df`. */
export interface DfRow {
  Type: "Images" | "Containers" | "Local Volumes";
  Total: number;
  Active: number;
  /** Bytes. */
  RawSize: number;
  RawReclaimable: number;
  Size: string;
  Reclaimable: string;
}

/** Decimal sizes as podman prints them (`4.27MB`, `0B`). */
export function dfSize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let u = 0;
  let v = n;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n}B` : `${Number(v.toPrecision(3))}${units[u]}`;
}

function row(type: DfRow["Type"], total: number, active: number, size: number, free: number) {
  const pct = size === 0 ? 0 : Math.round((free / size) * 100);
  return {
    Type: type,
    Total: total,
    Active: active,
    RawSize: size,
    RawReclaimable: free,
    Size: dfSize(size),
    Reclaimable: `${dfSize(free)} (${pct}%)`,
  };
}

function running(s: ContainerState): boolean {
  return s.status === "running" || s.status === "paused";
}

/**
 * The three rows: images (every layer counted once; reclaimable what no
 * used image shares), the namespace's containers (their work directories:
 * overlay upper layer and logs; reclaimable those that do not run), its
 * volumes (reclaimable those no container names).
 */
export async function systemDf(ctx: Context): Promise<DfRow[]> {
  const ns = ctx.globals.namespace;
  const images = storeOf(ctx);
  const recs = images.list();
  const uses = images.uses();
  const layerSize = new Map<string, number>();
  const usedLayers = new Set<string>();
  for (const r of recs) {
    for (const l of r.layers) {
      layerSize.set(l.digest, l.unpackedSize ?? l.size);
      if (uses.has(r.id)) usedLayers.add(l.digest);
    }
  }
  const imgTotal = [...layerSize.values()].reduce((a, b) => a + b, 0);
  const imgFree = [...layerSize].filter(([d]) => !usedLayers.has(d)).reduce((a, [, n]) => a + n, 0);
  const activeImages = recs.filter((r) => uses.has(r.id)).length;

  const loaded = await ctx.store.list(ns, (m) => ctx.io.err(`berth: warning: ${m}\n`));
  const states = (await Promise.all(loaded.map((s) => reconcile(ctx, s).catch(() => s))))
    .filter((s): s is ContainerState => s !== null);
  let ctrSize = 0;
  let ctrFree = 0;
  for (const s of states) {
    const n = await diskUsage(ctx.paths.workDir(ns, s.id));
    ctrSize += n;
    if (!running(s)) ctrFree += n;
  }

  const vols = await listVolumes(ctx, ns);
  let volSize = 0;
  let volFree = 0;
  for (const v of vols) {
    const n = await diskUsage(v.mountpoint);
    volSize += n;
    if (v.usedBy.length === 0) volFree += n;
  }
  return [
    row("Images", recs.length, activeImages, imgTotal, imgFree),
    row("Containers", states.length, states.filter(running).length, ctrSize, ctrFree),
    row(
      "Local Volumes",
      vols.length,
      vols.filter((v) => v.usedBy.length > 0).length,
      volSize,
      volFree,
    ),
  ];
}

/** podman's warning before a system prune. */
export function systemPruneWarning(all: boolean, volumes: boolean): string {
  return [
    "WARNING! This command removes:",
    "\t- all stopped containers",
    "\t- all networks not used by at least one container",
    ...(volumes ? ["\t- all volumes not used by at least one container"] : []),
    all
      ? "\t- all images without at least one container associated with them"
      : "\t- all dangling images",
    "",
  ].join("\n");
}

/**
 * Removes every image no container uses, one at a time under the image
 * store's lock (one taken into use meanwhile stays); returns their IDs.
 */
async function pruneUnusedImages(ctx: Context): Promise<string[]> {
  const store = storeOf(ctx);
  const out: string[] = [];
  for (const rec of store.list()) {
    try {
      const lines = await store.remove([rec.id], false, staleUse(ctx));
      if (lines.some((l) => l.startsWith("Deleted: "))) out.push(rec.id);
    } catch (err) {
      if (!(err instanceof WrongState)) throw err;
    }
  }
  return out;
}

/** `system`. */
export const systemCommand: Command<SystemOptions> = {
  name: "system",
  summary: "podman's system group: df (disk usage), prune (remove what is unused)",
  usage: "system df [--format json|TEMPLATE]\n" +
    "       system prune [-a] [-f] [--volumes]",
  description: "df: TYPE TOTAL ACTIVE SIZE RECLAIMABLE for images (layers counted once),\n" +
    "the namespace's containers (work directory: writable layer and logs) and volumes.\n" +
    "prune: the stopped and created containers, the images without a name that no\n" +
    "container uses (-a: every image no container uses) with the layers left unused,\n" +
    "the build cache's entries no image needs, the networks but `bridge` that no container\n" +
    "of any root uses, and with --volumes the volumes no container names. Without -f it\n" +
    "asks on the terminal; with no terminal it needs -f (exit 2).",
  options: [...DF_OPTIONS, ...PRUNE_OPTIONS],
  positionals: [{ name: "VERB", choices: ["df", "prune"] }],
  examples: [
    "berth system df",
    "berth system df --format json",
    "berth system prune -f",
    "berth system prune -a -f --volumes",
  ],
  parse(args) {
    const [sub, ...rest] = args;
    if (sub === "df") {
      const p = parseCommandArgs("system df", rest, DF_OPTIONS);
      noCommand("system df", p.command);
      expectPositionals("system df", p.positionals, []);
      return {
        sub,
        format: p.values["format"] === undefined ? null : outputFormatOf(p.values, "json"),
      };
    }
    if (sub === "prune") {
      const p = parseCommandArgs("system prune", rest, PRUNE_OPTIONS);
      noCommand("system prune", p.command);
      expectPositionals("system prune", p.positionals, []);
      return {
        sub,
        all: bool(p.values, "all"),
        force: bool(p.values, "force"),
        volumes: bool(p.values, "volumes"),
      };
    }
    throw new InvalidArgument(
      sub === undefined
        ? "system: give a verb: df or prune"
        : `system: unknown verb "${sub}" (df or prune)`,
    );
  },
  async run(ctx, o) {
    if (o.sub === "df") {
      const rows = await systemDf(ctx);
      if (o.format?.kind === "template") ctx.io.out(renderTemplate(o.format, rows));
      else if (o.format?.kind === "json") {
        ctx.io.out(JSON.stringify(rows, null, 2) + "\n");
      } else {
        ctx.io.out(table([
          ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
          ...rows.map((r) => [r.Type, String(r.Total), String(r.Active), r.Size, r.Reclaimable]),
        ]));
      }
      return 0;
    }
    const warning = systemPruneWarning(o.all, o.volumes);
    if (!(await confirmed("system prune", warning, o.force, ctx.io))) return 0;
    const before = (await systemDf(ctx)).reduce((a, r) => a + r.RawSize, 0);
    const containers = await pruneContainers(ctx);
    const images = o.all ? await pruneUnusedImages(ctx) : [];
    // Dangling images, and the layers and blobs nothing lists any more.
    for (const line of await storeOf(ctx).prune(staleUse(ctx), false, true)) {
      if (line.startsWith("image sha256:")) images.push(line.slice("image ".length));
    }
    const networks = await (await import("../../network/mod.ts")).networkPrune(ctx);
    const volumes = o.volumes ? await pruneVolumes(ctx, ctx.globals.namespace) : [];
    const after = (await systemDf(ctx)).reduce((a, r) => a + r.RawSize, 0);
    const section = (title: string, ids: string[]) =>
      ids.length === 0 ? "" : `Deleted ${title}\n${ids.map((i) => `${i}\n`).join("")}`;
    ctx.io.out(
      section("Containers", containers) + section("Networks", networks) +
        section("Images", images) + section("Volumes", volumes) +
        `Total reclaimed space: ${dfSize(Math.max(0, before - after))}\n`,
    );
    return 0;
  },
};
