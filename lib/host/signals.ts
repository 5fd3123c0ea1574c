/**
 * Signal names and numbers (Linux x86_64 / aarch64 numbering).
 *
 * @module
 */

import { InvalidArgument } from "./errors.ts";

/** Linux signal numbers by name (without the SIG prefix). */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** Parses `KILL`, `SIGKILL`, `kill` or `9` (1–64) into a signal number. */
export function parseSignal(text: string): number {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = text.toUpperCase().replace(/^SIG/, "");
    const n = SIGNALS[name];
    if (n !== undefined) return n;
    const rt = /^RTMIN(?:\+([0-9]+))?$/.exec(name);
    if (rt !== null && Number(rt[1] ?? 0) <= 30) return 34 + Number(rt[1] ?? 0);
  }
  throw new InvalidArgument(`invalid signal "${text}"`);
}
