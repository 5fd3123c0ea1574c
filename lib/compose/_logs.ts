/**
 * Several containers' logs as one stream, each line prefixed with its
 * container's name (`web-1  | …`, coloured on a terminal): `compose logs`
 * and the foreground `compose up`.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import { logFiles } from "../container/paths.ts";
import { drain, follow, openLog, seekToTail } from "../host/log_follow.ts";
import { waitExit } from "../ops/wait.ts";

const COLOURS = [36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96];
const encoder = new TextEncoder();

/** Options of {@linkcode streamLogs}. */
export interface StreamOptions {
  /** Follow until each container exits, or until `stop` resolves. */
  follow: boolean;
  stop?: Promise<unknown>;
  /** Only the last N lines of each stream. */
  tail?: number;
  colour: boolean;
  /** The prefix of a container (default: its name without the project's). */
  prefixOf: (s: ContainerState) => string;
}

/** A writer that puts `prefix` before every line (a partial line waits for its end). */
function prefixed(prefix: Uint8Array, write: (b: Uint8Array) => void) {
  let atStart = true;
  return {
    write(b: Uint8Array) {
      let from = 0;
      const parts: Uint8Array[] = [];
      for (let i = 0; i < b.length; i++) {
        if (atStart) {
          parts.push(prefix);
          atStart = false;
        }
        if (b[i] === 0x0a) {
          parts.push(b.subarray(from, i + 1));
          from = i + 1;
          atStart = true;
        }
      }
      if (from < b.length) parts.push(b.subarray(from));
      const total = parts.reduce((n, p) => n + p.length, 0);
      const out = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      write(out);
    },
    /** Ends an unfinished last line. */
    end() {
      if (!atStart) write(encoder.encode("\n"));
      atStart = true;
    },
  };
}

/** Streams the logs of `containers`, stdout to berth's stdout and stderr to its stderr. */
export async function streamLogs(
  ctx: Context,
  containers: ContainerState[],
  o: StreamOptions,
): Promise<void> {
  const width = Math.max(0, ...containers.map((c) => o.prefixOf(c).length));
  await Promise.all(containers.map(async (c, i) => {
    const name = o.prefixOf(c).padEnd(width);
    const colour = COLOURS[i % COLOURS.length]!;
    const prefix = encoder.encode(o.colour ? `\x1b[${colour}m${name} |\x1b[0m ` : `${name} | `);
    const files = logFiles(c.workDir);
    const streams = [
      { path: files.stdout, w: prefixed(prefix, (b) => ctx.io.out(b)) },
      { path: files.stderr, w: prefixed(prefix, (b) => ctx.io.err(b)) },
    ];
    const exited =
      o.follow && (c.status === "running" || c.status === "paused" || c.status === "created")
        ? Promise.race([waitExit(ctx, c.namespace, c.id), ...(o.stop ? [o.stop] : [])])
        : null;
    await Promise.all(streams.map(async ({ path, w }) => {
      const file = await openLog(path);
      if (file === null) return;
      try {
        if (o.tail !== undefined) await seekToTail(file, o.tail);
        if (exited !== null) await follow(file, (b) => w.write(b), exited);
        else await drain(file, (b) => w.write(b));
        w.end();
      } finally {
        file.close();
      }
    }));
  }));
}
