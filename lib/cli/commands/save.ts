/**
 * `berth save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`:
 * writes images to an archive `load` (and docker, podman, skopeo) reads.
 *
 * @module
 */

import { choice, noCommand, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import type { SaveFormat } from "../../image/mod.ts";

/** Options of `save`. */
export interface SaveArgs {
  images: string[];
  /** A file, or null: stdout. */
  output: string | null;
  format: SaveFormat;
}

const FORMAT = {
  name: "format",
  type: "string" as const,
  value: "FORMAT",
  choices: ["docker-archive", "oci-archive"] as const,
  default: "docker-archive",
  help: "docker-archive (docker save's) or oci-archive (an OCI image layout in a tar)",
};

const OPTIONS = [
  {
    name: "output",
    short: "o",
    type: "string" as const,
    value: "FILE",
    help: "the archive to write (- or none: stdout, unless it is a terminal)",
  },
  FORMAT,
];

/** `save`. */
export const saveCommand: Command<SaveArgs> = {
  name: "save",
  summary: "write images to a docker-archive or OCI archive",
  usage: "save [-o FILE] [--format docker-archive|oci-archive] IMAGE...",
  description:
    "Layers shared by the images are stored once. FILE is written beside itself and renamed into place, so a failed or killed save never leaves a partial FILE. Images pulled before berth kept layer blobs must be pulled again.",
  options: OPTIONS,
  examples: [
    "berth save -o busybox.tar busybox",
    "berth save --format oci-archive -o app.tar app:1 app:2",
    "berth save busybox | gzip > busybox.tar.gz",
  ],
  parse(args) {
    const p = parseCommandArgs("save", args, OPTIONS);
    noCommand("save", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("save: missing IMAGE");
    const out = str(p.values, "output");
    if (out === "") throw new InvalidArgument("save: -o needs a file name");
    return {
      images: p.positionals,
      output: out === undefined || out === "-" ? null : out,
      format: choice(p.values, FORMAT, "docker-archive"),
    };
  },
  async run(ctx, o) {
    if (o.output === null && Deno.stdout.isTerminal()) {
      throw new InvalidArgument("save: refusing to write an archive to a terminal: give -o FILE");
    }
    const { saveImages } = await import("../../image/mod.ts");
    await saveImages(ctx, o.images, { format: o.format, output: o.output });
    return 0;
  },
};
