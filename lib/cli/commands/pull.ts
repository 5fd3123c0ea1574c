/**
 * `berth pull [--platform OS/ARCH[/VARIANT]] [-q] [--max-unpacked-size SIZE] REF`:
 * fetches an image.
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { parsePlatform, parseReference, type Platform } from "../../image/mod.ts";
import { insecureOf, TLS_VERIFY_OPTION } from "./tls_verify.ts";
import { MAX_UNPACKED_SIZE_OPTION, maxUnpackedSizeOf } from "./max_unpacked_size.ts";

/** Options of `pull`. */
export interface PullArgs {
  ref: string;
  quiet: boolean;
  platform: Platform | null;
  insecure: boolean;
  /** `--max-unpacked-size` in bytes (Infinity: none), or undefined when not given. */
  maxUnpackedSize: number | undefined;
}

const OPTIONS = [
  {
    name: "quiet",
    short: "q",
    type: "boolean" as const,
    help: "no progress; print the image ID only",
  },
  {
    name: "platform",
    type: "string" as const,
    value: "OS/ARCH[/VARIANT]",
    help: "the platform to pick from a multi-platform image (default: this host's)",
  },
  TLS_VERIFY_OPTION,
  MAX_UNPACKED_SIZE_OPTION,
];

/** `pull`. */
export const pullCommand: Command<PullArgs> = {
  name: "pull",
  summary: "fetch an image from a registry",
  usage:
    "pull [--platform OS/ARCH[/VARIANT]] [-q] [--tls-verify=false] [--max-unpacked-size SIZE] REF",
  description:
    "Every manifest, config and layer is verified against its digest; layers are stored once and shared. A REF without a registry means docker.io. --max-unpacked-size caps what one layer may unpack to (default: no cap), so a small compressed layer cannot fill the disk.",
  options: OPTIONS,
  examples: [
    "berth pull busybox",
    "berth pull 127.0.0.1:5000/app:1.0",
    "berth pull -q --platform linux/arm64 alpine",
    "berth pull --max-unpacked-size 2g 127.0.0.1:5000/untrusted:latest",
  ],
  parse(args) {
    const p = parseCommandArgs("pull", args, OPTIONS);
    noCommand("pull", p.command);
    const [ref] = expectPositionals("pull", p.positionals, ["REF"]);
    parseReference(ref!);
    const platform = str(p.values, "platform");
    return {
      ref: ref!,
      quiet: bool(p.values, "quiet"),
      platform: platform === undefined ? null : parsePlatform(platform),
      insecure: insecureOf(p),
      maxUnpackedSize: maxUnpackedSizeOf(p),
    };
  },
  async run(ctx, o) {
    const { pullImage } = await import("../../image/mod.ts");
    const { quietProgress, streamProgress } = await import("../../image/mod.ts");
    const progress = o.quiet
      ? quietProgress
      : streamProgress((s) => ctx.io.err(s), Deno.stderr.isTerminal());
    const rec = await pullImage(ctx, o.ref, {
      progress,
      ...(o.platform !== null ? { platform: o.platform } : {}),
      ...(o.insecure ? { insecure: true } : {}),
      ...(o.maxUnpackedSize !== undefined ? { maxUnpackedSize: o.maxUnpackedSize } : {}),
    });
    ctx.io.out(`${rec.id}\n`);
    return 0;
  },
};
