/**
 * `berth import FILE|- [IMAGE]`: a tar (plain or gzip) as a one-layer image.
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument, NotFound } from "../../host/errors.ts";
import { parseReference } from "../../image/mod.ts";
import { MAX_UNPACKED_SIZE_OPTION, maxUnpackedSizeOf } from "./max_unpacked_size.ts";

/** Options of `import`. */
export interface ImportArgs {
  /** A file, or `-`: stdin. */
  input: string;
  name: string | null;
  maxUnpackedSize: number | undefined;
}

const OPTIONS = [MAX_UNPACKED_SIZE_OPTION];

/** `import`. */
export const importCommand: Command<ImportArgs> = {
  name: "import",
  summary: "make a one-layer image of a tar",
  usage: "import [--max-unpacked-size SIZE] FILE|- [IMAGE]",
  description:
    "The tar (plain or gzip; - reads stdin) becomes the image's one layer, unpacked with the same checks and caps as a pulled layer. Prints the new image's ID; IMAGE names it.",
  options: OPTIONS,
  examples: ["berth import web1.tar web:imported", "berth export web1 | berth import - web:copy"],
  parse(args) {
    const p = parseCommandArgs("import", args, OPTIONS);
    noCommand("import", p.command);
    const [input, name, ...rest] = p.positionals;
    if (input === undefined) throw new InvalidArgument("import: missing FILE|-");
    if (rest.length > 0) throw new InvalidArgument(`import: unexpected argument "${rest[0]}"`);
    if (name !== undefined) parseReference(name);
    return { input, name: name ?? null, maxUnpackedSize: maxUnpackedSizeOf(p) };
  },
  async run(ctx, o) {
    let input: ReadableStream<Uint8Array>;
    if (o.input === "-") input = Deno.stdin.readable;
    else {
      try {
        input = (await Deno.open(o.input, { read: true })).readable;
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          throw new NotFound(`import: ${o.input}: no such file`);
        }
        throw new InvalidArgument(`import: cannot read ${o.input}: ${(err as Error).message}`);
      }
    }
    const { importTar } = await import("../../image/mod.ts");
    const rec = await importTar(ctx, input, {
      name: o.name,
      source: o.input,
      ...(o.maxUnpackedSize !== undefined ? { maxUnpackedSize: o.maxUnpackedSize } : {}),
    });
    ctx.io.out(`${rec.id.slice("sha256:".length)}\n`);
    return 0;
  },
};
