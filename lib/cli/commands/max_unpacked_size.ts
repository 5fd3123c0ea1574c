/**
 * `--max-unpacked-size SIZE`, shared by the commands that unpack layers
 * (`pull`, `load`, and `create`/`run` with `--image`): the cap on one
 * layer's uncompressed size. Default: none (or the host's
 * `BERTH_MAX_LAYER_SIZE`).
 *
 * @module
 */

import { type ParsedArgs, str } from "../args.ts";
import { parseUnpackedSize } from "../../image/mod.ts";

/** The `--max-unpacked-size` option spec. */
export const MAX_UNPACKED_SIZE_OPTION = {
  name: "max-unpacked-size",
  type: "string" as const,
  value: "SIZE",
  help: "refuse a layer that unpacks to more than SIZE (512m, 10g, none; default: none)",
};

/** The option's value in bytes (Infinity for `none`), or undefined when not given; bad: exit 2. */
export function maxUnpackedSizeOf(p: ParsedArgs): number | undefined {
  const v = str(p.values, "max-unpacked-size");
  return v === undefined ? undefined : parseUnpackedSize(v);
}
