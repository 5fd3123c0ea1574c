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
import { ago, humanSize } from "./human.ts";

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
  /** The entry's layer's unpacked size, in bytes (0 for an entry that made no layer). */
  size: number;
  comment: string;
}

/**
 * The rows of an image whose config has `history` and whose layers weigh
 * `sizes` (unpacked), newest first.
 */
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

/** `history`. */
export const historyCommand: Command<HistoryArgs> = {
  name: "history",
  summary: "show an image's history",
  usage: "history [--no-trunc] [-q] [--format table|json] IMAGE",
  description:
    "Newest first: the image's ID on its top entry (<missing> below, as podman), when, the command, the entry's layer size (unpacked, as podman's) and the comment.",
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
    const { storeOf } = await import("../../image/mod.ts");
    const store = storeOf(ctx);
    const rec = store.get(o.image);
    const cfg = JSON.parse(new TextDecoder().decode(store.readBlob(rec.id)));
    const hex = rec.id.slice("sha256:".length);
    const rows = historyRows(
      o.noTrunc || o.format === "json" ? hex : hex.slice(0, 12),
      Array.isArray(cfg.history) ? cfg.history : undefined,
      rec.layers.map((l) => l.unpackedSize ?? l.size),
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
      ...rows.map((
        r,
      ) => [r.id, ago(r.created, now), cut(r.createdBy), humanSize(r.size), r.comment]),
    ]));
    return 0;
  },
};
