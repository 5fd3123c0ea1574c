/**
 * `berth load -i FILE|DIR [--max-unpacked-size SIZE]`: loads a docker-archive tar, an OCI archive tar
 * or an OCI image-layout directory.
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { MAX_UNPACKED_SIZE_OPTION, maxUnpackedSizeOf } from "./max_unpacked_size.ts";
import { printable } from "../../host/printable.ts";

/** Options of `load`. */
export interface LoadArgs {
  input: string;
  quiet: boolean;
  /** `--max-unpacked-size` in bytes (Infinity: none), or undefined when not given. */
  maxUnpackedSize: number | undefined;
}

const OPTIONS = [
  {
    name: "input",
    short: "i",
    type: "string" as const,
    value: "FILE|DIR",
    help: "the archive or OCI layout",
  },
  { name: "quiet", short: "q", type: "boolean" as const, help: "no progress" },
  MAX_UNPACKED_SIZE_OPTION,
];

/** `load`. */
export const loadCommand: Command<LoadArgs> = {
  name: "load",
  summary: "load images from a docker-archive, an OCI archive or an OCI layout directory",
  usage: "load -i FILE|DIR [--max-unpacked-size SIZE]",
  options: OPTIONS,
  examples: ["berth load -i busybox.tar", "berth load -i ./oci-layout-dir"],
  parse(args) {
    const p = parseCommandArgs("load", args, OPTIONS);
    noCommand("load", p.command);
    expectPositionals("load", p.positionals, []);
    const input = str(p.values, "input");
    if (input === undefined) throw new InvalidArgument("load: give -i FILE|DIR");
    return { input, quiet: bool(p.values, "quiet"), maxUnpackedSize: maxUnpackedSizeOf(p) };
  },
  async run(ctx, o) {
    const { loadArchive } = await import("../../image/mod.ts");
    const { quietProgress, streamProgress } = await import("../../image/mod.ts");
    const progress = o.quiet
      ? quietProgress
      : streamProgress((s) => ctx.io.err(s), Deno.stderr.isTerminal());
    const recs = await loadArchive(ctx, o.input, progress, o.maxUnpackedSize);
    for (const r of recs) {
      ctx.io.out(
        r.names.length > 0
          ? r.names.map((n) => `Loaded image: ${printable(n)}\n`).join("")
          : `Loaded image: ${r.id}\n`,
      );
    }
    return 0;
  },
};
