/**
 * `berth stats [--no-stream] [--format table|json] [ID...]`.
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { isLive } from "../../container/container.ts";
import { humanSize } from "../../limits/mod.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { type ContainerStats, type Reading, readStats } from "../../ops/stats.ts";
import { reconcile } from "../../ops/reconcile.ts";
import type { ContainerState } from "../../container/state_file.ts";
import {
  type OutputFormat,
  outputFormatOf,
  renderTemplate,
  table,
  templateFormatOption,
} from "./format.ts";

const OPTIONS = [
  {
    name: "no-stream",
    type: "boolean" as const,
    help: "print one reading and exit (instead of one a second)",
  },
  templateFormatOption(),
];

/** The gap between the two readings of `--no-stream` (for CPU %). */
const NO_STREAM_GAP_MS = 500;

const size = (n: number | null) => n === null ? "--" : humanSize(n);

const percent = (n: number | null) => n === null ? "--" : `${n.toFixed(2)}%`;

/** A reading with podman's template field names (`{{.CPUPerc}}`, `{{.MemUsage}}`, …). */
function templateRow(r: ContainerStats): Record<string, unknown> {
  return {
    ID: r.id,
    Name: r.name,
    CPUPerc: percent(r.cpuPercent),
    MemUsage: `${size(r.memoryUsage)} / ${size(r.memoryLimit)}`,
    MemPerc: percent(r.memoryPercent),
    NetIO: `${size(r.netRx)} / ${size(r.netTx)}`,
    BlockIO: `${size(r.blockRead)} / ${size(r.blockWrite)}`,
    PIDs: r.pids === null ? "--" : String(r.pids),
  };
}

/** podman's headers where the field name does not make them. */
const HEADERS = {
  CPUPerc: "CPU %",
  MemUsage: "MEM USAGE / LIMIT",
  MemPerc: "MEM %",
  NetIO: "NET IO",
  BlockIO: "BLOCK IO",
  PIDs: "PIDS",
};

function render(rows: ContainerStats[], format: OutputFormat): string {
  if (format.kind === "json") return JSON.stringify(rows, null, 2) + "\n";
  if (format.kind === "template") return renderTemplate(format, rows.map(templateRow), HEADERS);
  return table([
    ["ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "BLOCK I/O", "NET I/O"],
    ...rows.map((r) => [
      r.id,
      r.name,
      percent(r.cpuPercent),
      `${size(r.memoryUsage)} / ${size(r.memoryLimit)}`,
      percent(r.memoryPercent),
      r.pids === null ? "--" : String(r.pids),
      `${size(r.blockRead)} / ${size(r.blockWrite)}`,
      `${size(r.netRx)} / ${size(r.netTx)}`,
    ]),
  ]);
}

/** `stats`. */
export const statsCommand: Command<{ refs: string[]; stream: boolean; format: OutputFormat }> = {
  name: "stats",
  summary: "show CPU, memory, pids, block and network I/O of containers",
  usage: "stats [--no-stream] [--format table|json|TEMPLATE] [ID...]",
  description: "Without IDs: every running or paused container of the namespace. Read from\n" +
    "the cgroup (v1 or v2); streams a reading a second until interrupted unless --no-stream.\n" +
    "CPU % is of one CPU (200% = two busy CPUs); sizes in bytes in JSON.",
  options: OPTIONS,
  examples: [
    "berth stats",
    "berth stats --no-stream --format json web1",
    "berth stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}}'",
  ],
  parse(args) {
    const p = parseCommandArgs("stats", args, OPTIONS);
    noCommand("stats", p.command);
    return {
      refs: p.positionals,
      stream: !bool(p.values, "no-stream"),
      format: outputFormatOf(p.values),
    };
  },
  async run(ctx, o) {
    const ids = await Promise.all(o.refs.map((r) => resolveExisting(ctx, r)));
    const ns = ctx.globals.namespace;
    const load = async (): Promise<ContainerState[]> => {
      const states = ids.length > 0
        ? (await Promise.all(ids.map((id) => ctx.store.tryLoad(ns, id))))
          .filter((s): s is ContainerState => s !== null)
        : (await ctx.store.list(ns)).filter(isLive);
      const out: ContainerState[] = [];
      for (const s of states) {
        const r = await reconcile(ctx, s);
        if (r !== null) out.push(r);
      }
      return out;
    };
    const readings = new Map<string, Reading>();
    const tick = async (): Promise<ContainerStats[]> => {
      const rows: ContainerStats[] = [];
      for (const s of await load()) {
        const { stats, reading } = readStats(ctx, s, readings.get(s.id), ctx.clock.monotonic());
        if (reading === undefined) readings.delete(s.id);
        else readings.set(s.id, reading);
        rows.push(stats);
      }
      return rows;
    };
    await tick();
    if (!o.stream) {
      await ctx.clock.sleep(NO_STREAM_GAP_MS);
      ctx.io.out(render(await tick(), o.format));
      return 0;
    }
    for (;;) {
      await ctx.clock.sleep(1000);
      const rows = await tick();
      ctx.io.out(
        o.format.kind === "json"
          ? JSON.stringify(rows) + "\n"
          : render(rows, o.format) + (o.format.kind === "table" ? "\n" : ""),
      );
    }
  },
};
