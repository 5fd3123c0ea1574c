/**
 * `berth stats [--no-stream] [--format table|json] [ID...]`.
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { isLive } from "../../container/container.ts";
import { humanSize } from "../../limits/parse.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { type ContainerStats, type Reading, readStats } from "../../ops/stats.ts";
import { reconcile } from "../../ops/reconcile.ts";
import type { ContainerState } from "../../container/state_file.ts";
import { type Format, FORMAT_OPTION, formatOf, table } from "./format.ts";

const OPTIONS = [
  {
    name: "no-stream",
    type: "boolean" as const,
    help: "print one reading and exit (instead of one a second)",
  },
  FORMAT_OPTION,
];

/** The gap between the two readings of `--no-stream` (for CPU %). */
const NO_STREAM_GAP_MS = 500;

const size = (n: number | null) => n === null ? "--" : humanSize(n);

function render(rows: ContainerStats[], format: Format): string {
  if (format === "json") return JSON.stringify(rows, null, 2) + "\n";
  return table([
    ["ID", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "BLOCK I/O", "NET I/O"],
    ...rows.map((r) => [
      r.id,
      r.cpuPercent === null ? "--" : `${r.cpuPercent.toFixed(2)}%`,
      `${size(r.memoryUsage)} / ${size(r.memoryLimit)}`,
      r.memoryPercent === null ? "--" : `${r.memoryPercent.toFixed(2)}%`,
      r.pids === null ? "--" : String(r.pids),
      `${size(r.blockRead)} / ${size(r.blockWrite)}`,
      `${size(r.netRx)} / ${size(r.netTx)}`,
    ]),
  ]);
}

/** `stats`. */
export const statsCommand: Command<{ refs: string[]; stream: boolean; format: Format }> = {
  name: "stats",
  summary: "show CPU, memory, pids, block and network I/O of containers",
  usage: "stats [--no-stream] [--format table|json] [ID...]",
  description: "Without IDs: every running or paused container of the namespace. Read from\n" +
    "the cgroup (v1 or v2); streams a reading a second until interrupted unless --no-stream.\n" +
    "CPU % is of one CPU (200% = two busy CPUs); sizes in bytes in JSON.",
  options: OPTIONS,
  examples: ["berth stats", "berth stats --no-stream --format json web1"],
  parse(args) {
    const p = parseCommandArgs("stats", args, OPTIONS);
    noCommand("stats", p.command);
    return {
      refs: p.positionals,
      stream: !bool(p.values, "no-stream"),
      format: formatOf("stats", p),
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
      ctx.io.out(o.format === "json" ? JSON.stringify(rows) + "\n" : render(rows, "table") + "\n");
    }
  },
};
