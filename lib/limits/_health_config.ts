/**
 * Health check options (`--health-cmd`, `--health-interval`,
 * `--health-timeout`, `--health-retries`, `--health-start-period`) and
 * durations (`500ms`, `2s`, `1m30s`, `1h`), parsed with one-line errors.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import type { HealthConfig } from "../container/state_file.ts";

export type { HealthConfig };

/** Defaults (as docker's). */
export const HEALTH_DEFAULTS = {
  intervalMs: 30_000,
  timeoutMs: 30_000,
  retries: 3,
  startPeriodMs: 0,
} as const;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration: one or more NUMBER+UNIT (ms, s, m, h), e.g. `1m30s`, `0.5s`; a bare `0` is 0. */
export function parseDuration(text: string, what: string): number {
  if (text === "0") return 0;
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null) {
      throw new InvalidArgument(`${what} "${text}" must be a duration like 500ms, 30s or 1m30s`);
    }
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  if (text === "" || !Number.isFinite(ms) || ms > 2 ** 31 - 1) {
    throw new InvalidArgument(`${what} "${text}" must be a duration like 500ms, 30s or 1m30s`);
  }
  return Math.round(ms);
}

/** The raw option values (undefined: not given). */
export interface HealthOptions {
  cmd: string | undefined;
  interval: string | undefined;
  timeout: string | undefined;
  retries: string | undefined;
  startPeriod: string | undefined;
}

/** Builds the health check, or null without `--health-cmd`; throws InvalidArgument. */
export function parseHealth(o: HealthOptions): HealthConfig | null {
  if (o.cmd === undefined) {
    const given = Object.entries(o).find(([, v]) => v !== undefined);
    if (given !== undefined) {
      throw new InvalidArgument(
        "--health-interval, -timeout, -retries and -start-period need --health-cmd",
      );
    }
    return null;
  }
  if (o.cmd.trim() === "") throw new InvalidArgument("--health-cmd must not be empty");
  const intervalMs = o.interval === undefined
    ? HEALTH_DEFAULTS.intervalMs
    : parseDuration(o.interval, "--health-interval");
  const timeoutMs = o.timeout === undefined
    ? HEALTH_DEFAULTS.timeoutMs
    : parseDuration(o.timeout, "--health-timeout");
  if (intervalMs < 100) throw new InvalidArgument("--health-interval must be at least 100ms");
  if (timeoutMs < 100) throw new InvalidArgument("--health-timeout must be at least 100ms");
  let retries: number = HEALTH_DEFAULTS.retries;
  if (o.retries !== undefined) {
    if (!/^[1-9][0-9]{0,3}$/.test(o.retries)) {
      throw new InvalidArgument(
        `--health-retries "${o.retries}" must be a whole number from 1 to 9999`,
      );
    }
    retries = Number(o.retries);
  }
  const startPeriodMs = o.startPeriod === undefined
    ? HEALTH_DEFAULTS.startPeriodMs
    : parseDuration(o.startPeriod, "--health-start-period");
  return { cmd: o.cmd, intervalMs, timeoutMs, retries, startPeriodMs };
}
