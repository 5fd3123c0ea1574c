/**
 * `berth history [--no-trunc] [-q] [--format table|json] IMAGE`: an
 * image's history entries, newest first, in podman's columns.
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { printable } from "../../host/printable.ts";
import { type Format, FORMAT_OPTION, formatOf, table } from "./format.ts";

/** Options of `history`. */
export interface HistoryArgs {
  image: string;
  noTrunc: boolean;
  quiet: boolean;
  format: Format;
}

const OPTIONS = [
  { name: "no-trunc", type: "boolean" as const, help: "full IDs and commands" },
  { name: "quiet", short: "q", type: "boolean" as const, help: "the IDs only" },
  FORMAT_OPTION,
];

/** One row of the history. */
export interface HistoryRow {
  /** The image's ID on the newest entry, `<missing>` below (as podman). */
  id: string;
  created: string | null;
  createdBy: string;
  /** Bytes of the entry's layer blob (0 for an entry that made no layer). */
  size: number;
  comment: string;
}

/** The rows of an image whose config has `history` and whose layers weigh `sizes`, newest first. */
export function historyRows(
  id: string,
  history: Record<string, unknown>[] | undefined,
  sizes: number[],
): HistoryRow[] {
  const entries = history !== undefined && history.length > 0
    ? history
    : sizes.map(() => ({} as Record<string, unknown>));
  let layer = 0;
  const rows = entries.map((h) => {
    const empty = h.empty_layer === true;
    const size = empty ? 0 : sizes[layer++] ?? 0;
    return {
      id: "<missing>",
      created: typeof h.created === "string" ? h.created : null,
      createdBy: typeof h.created_by === "string" ? h.created_by : "",
      size,
      comment: typeof h.comment === "string" ? h.comment : "",
    };
  }).reverse();
  if (rows.length > 0) rows[0]!.id = id;
  return rows;
}

/** `3 minutes ago`, podman's words for a past time. */
export function ago(iso: string | null, now: Date): string {
  if (iso === null) return "";
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return "";
  const units: [number, string][] = [
    [365 * 86400, "year"],
    [30 * 86400, "month"],
    [7 * 86400, "week"],
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
    [1, "second"],
  ];
  for (const [n, name] of units) {
    if (s >= n) {
      const k = Math.floor(s / n);
      return `${k} ${name}${k === 1 ? "" : "s"} ago`;
    }
  }
  return "Less than a second ago";
}

function human(n: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(3).replace(/\.?0+$/, "")}${units[u]}`;
}

/** `history`. */
export const historyCommand: Command<HistoryArgs> = {
  name: "history",
  summary: "show an image's history",
  usage: "history [--no-trunc] [-q] [--format table|json] IMAGE",
  description:
    "Newest first: the image's ID on its top entry (<missing> below, as podman), when, the command, the entry's layer size (its compressed blob) and the comment.",
  options: OPTIONS,
  examples: ["berth history busybox", "berth history --no-trunc --format json app:1"],
  parse(args) {
    const p = parseCommandArgs("history", args, OPTIONS);
    noCommand("history", p.command);
    const [image] = expectPositionals("history", p.positionals, ["IMAGE"]);
    return {
      image: image!,
      noTrunc: bool(p.values, "no-trunc"),
      quiet: bool(p.values, "quiet"),
      format: formatOf("history", p),
    };
  },
  async run(ctx, o) {
    const { storeOf } = await import("../../image/local.ts");
    const store = storeOf(ctx);
    const rec = store.get(o.image);
    const cfg = JSON.parse(new TextDecoder().decode(store.readBlob(rec.id)));
    const hex = rec.id.slice("sha256:".length);
    const rows = historyRows(
      o.noTrunc || o.format === "json" ? hex : hex.slice(0, 12),
      Array.isArray(cfg.history) ? cfg.history : undefined,
      rec.layers.map((l) => l.size),
    );
    if (o.format === "json") {
      ctx.io.out(JSON.stringify(rows, null, 2) + "\n");
      return 0;
    }
    if (o.quiet) {
      ctx.io.out(rows.map((r) => `${printable(r.id)}\n`).join(""));
      return 0;
    }
    const now = ctx.clock.now();
    const cut = (s: string) => !o.noTrunc && s.length > 45 ? `${s.slice(0, 42)}...` : s;
    ctx.io.out(table([
      ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
      ...rows.map((r) => [r.id, ago(r.created, now), cut(r.createdBy), human(r.size), r.comment]),
    ]));
    return 0;
  },
};
