/**
 * `berth events [-f] [--format json] [--since TIME]`: lifecycle events.
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs, str } from "../args.ts";
import { readRest } from "../../_std/bytes.ts";
import type { Command } from "../command.ts";
import type { Context } from "../../container/context.ts";
import { InvalidArgument, isNotFound } from "../../host/errors.ts";
import { type BerthEvent, eventsPaths, parseEvents } from "../../container/events.ts";

/** Options of `events`. */
export interface EventsOptions {
  follow: boolean;
  json: boolean;
  /** Only events at or after this time (ms since the epoch), or null. */
  since: number | null;
}

const OPTIONS = [
  {
    name: "follow",
    short: "f",
    type: "boolean" as const,
    help: "print new events as they come, until interrupted",
  },
  {
    name: "format",
    type: "string" as const,
    value: "text|json",
    default: "text",
    choices: ["text", "json"] as const,
    help: "output format (json: one object a line)",
  },
  {
    name: "since",
    type: "string" as const,
    value: "TIME",
    help: "only events since TIME: an ISO 8601 time or a duration ago (30s, 5m, 2h, 1d)",
  },
];

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `--since`: an ISO time or a duration before `now`. */
export function parseSince(text: string, now: number): number {
  const d = /^([0-9]+)([smhd])$/.exec(text);
  if (d !== null) return now - Number(d[1]) * UNITS[d[2]!]!;
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new InvalidArgument(`events: --since "${text}" is neither a time nor a duration like 5m`);
  }
  return t;
}

/** One event as a text line. */
export function formatEvent(e: BerthEvent): string {
  const { time, type, namespace, id, ...rest } = e;
  const who = id === null ? "-" : `${namespace}/${id}`;
  const details = Object.entries(rest).map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
  );
  return [time, type, who, ...details].join(" ");
}

/** `events`. */
export const eventsCommand: Command<EventsOptions> = {
  name: "events",
  summary: "print lifecycle events (create, start, exit, delete, ...), one per line",
  usage: "events [-f] [--format text|json] [--since TIME]",
  description: "Events of every namespace of the root, from DATA/events.log (rotated at 1 MiB).",
  options: OPTIONS,
  positionals: [],
  command: "none",
  examples: ["berth events --since 10m", "berth events -f --format json"],
  parse(args) {
    const p = parseCommandArgs("events", args, OPTIONS);
    noCommand("events", p.command);
    expectPositionals("events", p.positionals, []);
    const format = str(p.values, "format") ?? "text"; // checked against its choices
    const since = str(p.values, "since");
    return {
      follow: bool(p.values, "follow"),
      json: format === "json",
      since: since === undefined ? null : parseSince(since, Date.now()),
    };
  },
  async run(ctx, o) {
    const paths = eventsPaths(ctx.globals.dataRoot);
    const print = (text: string) => {
      for (const e of parseEvents(text)) {
        if (o.since !== null && Date.parse(e.time) < o.since) continue;
        ctx.io.out((o.json ? JSON.stringify(e) : formatEvent(e)) + "\n");
      }
    };
    print(await Deno.readTextFile(paths.old).catch(() => ""));
    let file = await openIfExists(paths.log);
    let pending = "";
    const drain = async () => {
      if (file === null) return;
      const text = pending + new TextDecoder().decode(await readRest(file));
      const cut = text.lastIndexOf("\n") + 1;
      print(text.slice(0, cut));
      pending = text.slice(cut);
    };
    await drain();
    if (!o.follow) {
      file?.close();
      return 0;
    }
    return await follow(ctx, paths.log, () => file, (f) => (file = f), drain, () => (pending = ""));
  },
};

async function follow(
  ctx: Context,
  path: string,
  get: () => Deno.FsFile | null,
  set: (f: Deno.FsFile | null) => void,
  drain: () => Promise<void>,
  reset: () => void,
): Promise<number> {
  let stop = false;
  const onSignal = () => (stop = true);
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    while (!stop) {
      await ctx.clock.sleep(100);
      await drain();
      // Rotated (or created): finish the old file, then read the new one from its start.
      const current = get();
      const ino = await Deno.stat(path).then((s) => s.ino, () => null);
      if (ino !== null && (current === null || (await current.stat()).ino !== ino)) {
        await drain();
        current?.close();
        reset();
        set(await openIfExists(path));
        await drain();
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    get()?.close();
  }
  return 0;
}

async function openIfExists(path: string): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(path, { read: true });
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}
