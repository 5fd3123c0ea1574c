/**
 * Caps on what one layer may unpack to: its uncompressed size
 * (`BERTH_MAX_LAYER_SIZE`, default 64g) and its number of tar entries
 * (`BERTH_MAX_LAYER_ENTRIES`, default 2000000), so a small compressed blob
 * (a gzip bomb: 500 KB of zeros is 500 MB) cannot fill the data root or its
 * inodes. A layer over a cap fails while it streams, before more is
 * written; `none` lifts a cap.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

/** The caps one layer is unpacked under. */
export interface LayerLimits {
  /** Uncompressed bytes (the tar stream), at most. */
  maxBytes: number;
  /** Tar entries (headers of files, directories, links, whiteouts…), at most. */
  maxEntries: number;
}

/** The defaults: far above any real layer, well below a bomb's reach. */
export const DEFAULT_LAYER_LIMITS: Readonly<LayerLimits> = {
  maxBytes: 64 * 1024 ** 3,
  maxEntries: 2_000_000,
};

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

function parseCap(text: string, what: string, units: boolean): number {
  if (text.trim().toLowerCase() === "none") return Number.POSITIVE_INFINITY;
  const m = (units ? /^([0-9]+)([kmgt]?)b?$/i : /^([0-9]+)()$/).exec(text.trim());
  const n = m === null ? NaN : Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgument(
      units
        ? `${what} "${text}" must be a size like 512m, 10g or none`
        : `${what} "${text}" must be a positive whole number or none`,
    );
  }
  return n;
}

/**
 * The caps from `BERTH_MAX_LAYER_SIZE` (a size: `512m`, `10g`, bytes) and
 * `BERTH_MAX_LAYER_ENTRIES`; a bad value is InvalidArgument (exit 2).
 */
export function layerLimitsFrom(env: (key: string) => string | undefined): LayerLimits {
  const size = env("BERTH_MAX_LAYER_SIZE") || undefined;
  const entries = env("BERTH_MAX_LAYER_ENTRIES") || undefined;
  return {
    maxBytes: size === undefined
      ? DEFAULT_LAYER_LIMITS.maxBytes
      : parseCap(size, "BERTH_MAX_LAYER_SIZE", true),
    maxEntries: entries === undefined
      ? DEFAULT_LAYER_LIMITS.maxEntries
      : parseCap(entries, "BERTH_MAX_LAYER_ENTRIES", false),
  };
}

/** `1.5 GiB`-style text for error messages. */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
