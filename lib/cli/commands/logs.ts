/**
 * `berth logs [-f] ID`: what the container wrote to stdout/stderr.
 *
 * The container writes its stdout.log and stderr.log itself, so berth has no
 * time for a line: `-t` is refused, and `--since`/`--until` are honoured only
 * where the answer is exact without one (a bound before the container was
 * created or after a stopped container exited) and refused otherwise.
 *
 * @module
 */

import { bool, str } from "../args.ts";
import { InvalidArgument } from "../../host/errors.ts";
import type { Command } from "../command.ts";
import { isLive } from "../../container/container.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { drain, follow, openLog, seekToTail } from "../../host/log_follow.ts";
import { waitExit } from "../../ops/wait.ts";
import { logFiles } from "../../container/paths.ts";
import { parseOneId } from "./single_id.ts";

const OPTIONS = [
  {
    name: "follow",
    short: "f",
    type: "boolean" as const,
    help: "follow until the container exits",
  },
  {
    name: "tail",
    type: "string" as const,
    value: "N",
    help: "only the last N lines of each stream (then follows, with -f)",
  },
  {
    name: "timestamps",
    short: "t",
    type: "boolean" as const,
    help: "refused: the logs hold no time per line",
  },
  {
    name: "since",
    type: "string" as const,
    value: "TIME",
    help: "lines since TIME; exact only before creation or after exit, else refused",
  },
  {
    name: "until",
    type: "string" as const,
    value: "TIME",
    help: "lines until TIME; exact only before creation or after exit, else refused",
  },
];

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a `--since`/`--until` TIME as podman does: an RFC 3339 time, Unix
 * seconds (`1700000000.5`), or a Go duration ago (`90s`, `10m`, `1h30m`).
 */
export function parseLogTime(option: string, text: string, now: number): number {
  if (/^[0-9]+(\.[0-9]+)?$/.test(text)) return Number(text) * 1000;
  if (/^([0-9]+(\.[0-9]+)?[hms])+$/.test(text)) {
    let ms = 0;
    for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)([hms])/g)) {
      ms += Number(m[1]) * UNITS[m[2]!]!;
    }
    return now - ms;
  }
  const t = /^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (Number.isNaN(t)) {
    throw new InvalidArgument(
      `logs: --${option} "${text}" is not an RFC 3339 time, Unix seconds or a duration like 10m`,
    );
  }
  return t;
}

/** The time window of `--since`/`--until` (ms since the epoch). */
export interface LogWindow {
  since?: number;
  until?: number;
}

/**
 * Whether the window keeps every line (true) or none (false) of a container
 * created at `created` that exited at `exited` (null: may still write);
 * undefined when the answer needs a time per line, which berth lacks.
 */
export function windowKeepsAll(
  w: LogWindow,
  created: number,
  exited: number | null,
): boolean | undefined {
  // Nothing is written before creation nor after the exit.
  if (w.until !== undefined && w.until < created) return false;
  if (w.since !== undefined && exited !== null && w.since > exited) return false;
  const sinceAll = w.since === undefined || w.since <= created;
  const untilAll = w.until === undefined || (exited !== null && w.until >= exited);
  return sinceAll && untilAll ? true : undefined;
}

/** `logs`. */
export const logsCommand: Command<
  { ref: string; follow: boolean; tail?: number; window?: LogWindow }
> = {
  name: "logs",
  summary: "print what the container wrote to stdout and stderr",
  usage: "logs [-f] [--tail N] [--since TIME] [--until TIME] ID",
  description: "The container's stdout goes to berth's stdout, its stderr to berth's stderr.\n" +
    "The container writes its log files itself, so berth keeps no time per line: -t is\n" +
    "refused, and --since/--until (RFC 3339, Unix seconds, or a duration ago like 10m) work\n" +
    "only where the answer is exact without one: a bound before the container was created\n" +
    "or after a stopped container exited. Any other bound is refused (exit 2).",
  options: OPTIONS,
  examples: ["berth logs web1", "berth logs -f web1", "berth logs --tail 20 web1"],
  parse(args) {
    const { ref, parsed } = parseOneId("logs", args, OPTIONS);
    const tail = str(parsed.values, "tail");
    if (tail !== undefined && !/^[0-9]{1,9}$/.test(tail)) {
      throw new InvalidArgument(`logs: --tail takes a number of lines, not "${tail}"`);
    }
    if (bool(parsed.values, "timestamps")) {
      throw new InvalidArgument(
        "logs: -t is not supported: the container writes its log files itself, with no time per line",
      );
    }
    const now = Date.now();
    const since = str(parsed.values, "since");
    const until = str(parsed.values, "until");
    const window: LogWindow = {
      ...(since === undefined ? {} : { since: parseLogTime("since", since, now) }),
      ...(until === undefined ? {} : { until: parseLogTime("until", until, now) }),
    };
    return {
      ref,
      ...(since === undefined && until === undefined ? {} : { window }),
      follow: bool(parsed.values, "follow"),
      ...(tail === undefined ? {} : { tail: Number(tail) }),
    };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const s = await ctx.store.load(ctx.globals.namespace, id);
    if (o.window !== undefined) {
      const exited = isLive(s) || s.exitedAt === null ? null : Date.parse(s.exitedAt);
      const keep = windowKeepsAll(o.window, Date.parse(s.createdAt), exited);
      if (keep === undefined) {
        throw new InvalidArgument(
          `logs: cannot cut "${o.ref}"'s log at that time: berth keeps no time per line ` +
            "(only bounds before its creation or after its exit are exact)",
        );
      }
      if (!keep) return 0;
    }
    const files = logFiles(s.workDir);
    const out = await openLog(files.stdout);
    const err = await openLog(files.stderr);
    try {
      if (o.tail !== undefined) {
        if (out) await seekToTail(out, o.tail);
        if (err) await seekToTail(err, o.tail);
      }
      const toOut = (b: Uint8Array) => ctx.io.out(b);
      const toErr = (b: Uint8Array) => ctx.io.err(b);
      if (o.follow && isLive(s)) {
        const exited = waitExit(ctx, s.namespace, s.id);
        await Promise.all([out && follow(out, toOut, exited), err && follow(err, toErr, exited)]);
        await exited;
      } else {
        if (out) await drain(out, toOut);
        if (err) await drain(err, toErr);
      }
    } finally {
      out?.close();
      err?.close();
    }
    return 0;
  },
};
