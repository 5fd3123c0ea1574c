/**
 * Caps on what one layer may unpack to: its uncompressed size
 * (`pull`/`load`/`--image` option `--max-unpacked-size SIZE`; else the
 * host-wide `BERTH_MAX_LAYER_SIZE`; else none, as the contract says) and
 * its number of tar entries (`BERTH_MAX_LAYER_ENTRIES`, default 2000000),
 * so a small compressed blob (a gzip bomb: 500 KB of zeros is 500 MB)
 * cannot fill the data root or its inodes. A layer over a cap fails while
 * it streams, before more is written; `none` lifts a cap.
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
  /** What set `maxBytes` (`--max-unpacked-size`, `BERTH_MAX_LAYER_SIZE`), for the error. */
  bytesCap?: string;
}

/** The defaults: no size cap (the contract's); an entry count far above any real layer. */
export const DEFAULT_LAYER_LIMITS: Readonly<LayerLimits> = {
  maxBytes: Number.POSITIVE_INFINITY,
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
 * `--max-unpacked-size SIZE` (`512m`, `10g`, bytes, `none`; the grammar of
 * berth's other sizes); a bad value is InvalidArgument (exit 2).
 */
export function parseUnpackedSize(text: string): number {
  return parseCap(text, "--max-unpacked-size", true);
}

/**
 * The caps: `maxUnpackedSize` (the option, already parsed) or else
 * `BERTH_MAX_LAYER_SIZE` (a size), and `BERTH_MAX_LAYER_ENTRIES`; a bad
 * value is InvalidArgument (exit 2).
 */
export function layerLimitsFrom(
  env: (key: string) => string | undefined,
  maxUnpackedSize?: number,
): LayerLimits {
  const size = env("BERTH_MAX_LAYER_SIZE") || undefined;
  const entries = env("BERTH_MAX_LAYER_ENTRIES") || undefined;
  const maxEntries = entries === undefined
    ? DEFAULT_LAYER_LIMITS.maxEntries
    : parseCap(entries, "BERTH_MAX_LAYER_ENTRIES", false);
  if (maxUnpackedSize !== undefined) {
    return { maxBytes: maxUnpackedSize, maxEntries, bytesCap: "--max-unpacked-size" };
  }
  if (size === undefined) return { maxBytes: DEFAULT_LAYER_LIMITS.maxBytes, maxEntries };
  return {
    maxBytes: parseCap(size, "BERTH_MAX_LAYER_SIZE", true),
    maxEntries,
    bytesCap: "BERTH_MAX_LAYER_SIZE",
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
