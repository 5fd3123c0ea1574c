/**
 * The one size grammar of every option that takes a size (`--memory`,
 * `--log-max-size`, `--tmpfs size=`, `--mount …,size=`): a whole number
 * with an optional unit `b`, `k`, `m`, `g` or `t` (powers of 1024, any
 * case, an optional trailing `b`: `64m`, `1g`, `1gb`, `10KB`, `4096`).
 *
 * @module
 */

import { InvalidArgument } from "./errors.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** Parses a positive size in bytes; `what` names the option in the error. */
export function parseSize(text: string, what: string): number {
  const m = /^([0-9]+)(?:([bkmgt])b?)?$/i.exec(text);
  const n = m === null ? NaN : Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()]!;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgument(`${what}: bad size "${text}" (a size like 64m, 1g or 4096)`);
  }
  return n;
}
