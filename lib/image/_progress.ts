/**
 * Pull progress: on a terminal one line per layer with bytes done/total,
 * redrawn in place; otherwise a line when each layer is done; nothing with
 * `-q`.
 *
 * @module
 */

import { printable } from "../host/printable.ts";

/** Receives layer progress. */
export interface Progress {
  bytes(digest: string, total: number, n: number): void;
  done(digest: string, total: number, existed: boolean): void;
}

/** Reports nothing (`-q`). */
export const quietProgress: Progress = { bytes() {}, done() {} };

function human(n: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)}${units[u]}`;
}

/** Progress written with `write` (stderr); `tty` redraws lines in place. */
export function streamProgress(write: (s: string) => void, tty: boolean): Progress {
  const order: string[] = [];
  const state = new Map<string, { got: number; total: number; status: string }>();
  let drawn = 0;
  let last = 0;
  const line = (d: string) => {
    const s = state.get(d)!;
    return `${printable(d.slice(7, 19))}: ${s.status} ${human(s.got)}/${human(s.total)}`;
  };
  const redraw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const d of order) out += `\r\x1b[2K${line(d)}\n`;
    drawn = order.length;
    write(out);
  };
  const entry = (d: string, total: number) => {
    let s = state.get(d);
    if (s === undefined) {
      s = { got: 0, total, status: "fetching" };
      state.set(d, s);
      order.push(d);
    }
    return s;
  };
  return {
    bytes(d, total, n) {
      const s = entry(d, total);
      s.got += n;
      if (tty) redraw(false);
    },
    done(d, total, existed) {
      const s = entry(d, total);
      s.got = total;
      s.status = existed ? "already present" : "done";
      if (tty) redraw(true);
      else write(`${line(d)}\n`);
    },
  };
}
