/**
 * The registry client's time limits from the environment, shared by
 * `pull` and `push` (a module of its own, so `push` loads no unpacking code).
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import type { RegistryOptions } from "./_registry.ts";

/**
 * The registry client's time limits from the environment (for tests, and
 * for links too slow for the defaults): `BERTH_REGISTRY_TIMEOUT_MS` (the
 * headers, a small body's deadline, a blob's longest silence) and
 * `BERTH_REGISTRY_RATE_WINDOW_MS` (a blob must give 64 KiB per window).
 */
export function registryLimitsOf(env: (k: string) => string | undefined): RegistryOptions {
  const ms = (name: string): number | undefined => {
    const v = env(name);
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new InvalidArgument(`${name} must be a whole number of milliseconds, not "${v}"`);
    }
    return n;
  };
  const timeoutMs = ms("BERTH_REGISTRY_TIMEOUT_MS");
  const windowMs = ms("BERTH_REGISTRY_RATE_WINDOW_MS");
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(windowMs !== undefined ? { minRate: { bytes: 64 << 10, windowMs } } : {}),
  };
}
