/**
 * Resource limits (`--memory`, `--cpus`, `--pids-limit`): parsing with
 * one-line errors, and how they go into an OCI config's
 * `linux.resources` and onto a `runc update` command line. The default
 * pids limit lives in `host/security.ts` (DEFAULT_PIDS_LIMIT); a limit
 * given here is written first, so it overrides that default.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import type { Limits } from "../container/state_file.ts";
import { parseSize } from "../host/size.ts";

export type { Limits };

/** CFS period berth uses (µs). */
export const CPU_PERIOD_US = 100_000;

/** The smallest memory limit accepted (as docker's). */
export const MIN_MEMORY = 6 * 1024 * 1024;

/** `--memory SIZE`: at least 6m. */
export function parseMemory(text: string): number {
  const n = parseSize(text, "--memory");
  if (n < MIN_MEMORY) throw new InvalidArgument(`--memory "${text}" is below the minimum of 6m`);
  return n;
}

/** `--cpus N`: a decimal number from 0.01 to 1024. */
export function parseCpus(text: string): number {
  const n = /^[0-9]+(\.[0-9]+)?$|^\.[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0.01 && n <= 1024)) {
    throw new InvalidArgument(`--cpus "${text}" must be a number from 0.01 to 1024, like 1.5`);
  }
  return n;
}

/** `--pids-limit N`: a positive whole number, or -1 for unlimited. */
export function parsePidsLimit(text: string): number {
  const n = /^(-1|[1-9][0-9]{0,9})$/.test(text) ? Number(text) : NaN;
  if (!(n === -1 || (n >= 1 && n <= 4194304))) {
    throw new InvalidArgument(
      `--pids-limit "${text}" must be a whole number from 1 to 4194304, or -1 (unlimited)`,
    );
  }
  return n;
}

/** Parses the three options (undefined: not given) into Limits. */
export function parseLimits(
  o: { memory: string | undefined; cpus: string | undefined; pidsLimit: string | undefined },
): Limits {
  const out: Limits = {};
  if (o.memory !== undefined) out.memory = parseMemory(o.memory);
  if (o.cpus !== undefined) out.cpus = parseCpus(o.cpus);
  if (o.pidsLimit !== undefined) out.pidsLimit = parsePidsLimit(o.pidsLimit);
  return out;
}

/** The CFS quota (µs per period) for `cpus`. */
export function cpuQuota(cpus: number): number {
  return Math.round(cpus * CPU_PERIOD_US);
}

/**
 * Writes `limits` into `config.linux.resources` (memory with swap equal
 * to it where the host accounts swap, so the limit is not escaped by
 * swapping; a CFS quota; pids).
 */
export function applyLimits(
  config: { linux?: Record<string, unknown> },
  limits: Limits,
  host: { swapAccounting: boolean },
): void {
  if (limits.memory === undefined && limits.cpus === undefined && limits.pidsLimit === undefined) {
    return;
  }
  const linux = (config.linux ??= {});
  const resources = (linux.resources ??= {}) as Record<string, Record<string, unknown>>;
  if (limits.memory !== undefined) {
    const memory = (resources.memory ??= {});
    memory.limit = limits.memory;
    if (host.swapAccounting) memory.swap = limits.memory;
    else delete memory.swap;
  }
  if (limits.cpus !== undefined) {
    const cpu = (resources.cpu ??= {});
    cpu.quota = cpuQuota(limits.cpus);
    cpu.period = CPU_PERIOD_US;
  }
  if (limits.pidsLimit !== undefined) (resources.pids ??= {}).limit = limits.pidsLimit;
}

/** The `runc update` flags that set `limits`. */
export function updateFlags(limits: Limits, host: { swapAccounting: boolean }): string[] {
  const args: string[] = [];
  if (limits.memory !== undefined) {
    args.push("--memory", String(limits.memory));
    if (host.swapAccounting) args.push("--memory-swap", String(limits.memory));
  }
  if (limits.cpus !== undefined) {
    args.push("--cpu-period", String(CPU_PERIOD_US), "--cpu-quota", String(cpuQuota(limits.cpus)));
  }
  if (limits.pidsLimit !== undefined) args.push("--pids-limit", String(limits.pidsLimit));
  return args;
}

/** A size for people: `16.0MiB`. */
export function humanSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n}B` : `${v.toFixed(1)}${units[i]}`;
}
