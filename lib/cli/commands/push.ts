/**
 * `berth push [-q] [--tls-verify=false] IMAGE [DEST]`: sends an image to a
 * registry.
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { parseReference } from "../../image/mod.ts";
import { insecureOf, TLS_VERIFY_OPTION } from "./tls_verify.ts";

/** Options of `push`. */
export interface PushArgs {
  image: string;
  dest: string | null;
  quiet: boolean;
  insecure: boolean;
}

const OPTIONS = [
  {
    name: "quiet",
    short: "q",
    type: "boolean" as const,
    help: "no progress; print the manifest digest only",
  },
  TLS_VERIFY_OPTION,
];

/** `push`. */
export const pushCommand: Command<PushArgs> = {
  name: "push",
  summary: "send an image to a registry",
  usage: "push [-q] [--tls-verify=false] IMAGE [DEST]",
  description:
    "DEST (default: IMAGE's name) is REGISTRY/NAME[:TAG], optionally docker://. Blobs the registry has are skipped; a blob that an image of the store is named with in another repository of that registry (the image's own other name, or the base it was built FROM) is mounted from there instead of uploaded; blobs above 4 MiB are streamed from their file (BERTH_PUSH_CHUNK_SIZE=BYTES: in chunks of that size). The manifest is sent as pulled, so its digest (printed at the end) is unchanged. Credentials come from berth login. Images pulled before berth kept layer blobs must be pulled again.",
  options: OPTIONS,
  examples: [
    "berth push 127.0.0.1:5000/app:1.0",
    "berth push busybox 127.0.0.1:5000/mirror/busybox:latest",
  ],
  parse(args) {
    const p = parseCommandArgs("push", args, OPTIONS);
    noCommand("push", p.command);
    const [image, dest, ...rest] = p.positionals;
    if (image === undefined) throw new InvalidArgument("push: missing IMAGE");
    if (rest.length > 0) throw new InvalidArgument(`push: unexpected argument "${rest[0]}"`);
    if (dest !== undefined) parseReference(dest.replace(/^docker:\/\//, ""));
    return {
      image,
      dest: dest ?? null,
      quiet: bool(p.values, "quiet"),
      insecure: insecureOf(p),
    };
  },
  async run(ctx, o) {
    const { pushImage } = await import("../../image/mod.ts");
    const r = await pushImage(ctx, o.image, o.dest, {
      ...(o.insecure ? { insecure: true } : {}),
      ...(o.quiet ? {} : { log: (line: string) => ctx.io.err(`${line}\n`) }),
    });
    if (!o.quiet) ctx.io.err(`Pushed ${r.dest}\n`);
    ctx.io.out(`${r.digest}\n`);
    return 0;
  },
};
