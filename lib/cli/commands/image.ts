/**
 * `berth image ls|rm|prune|inspect`: the image subcommands (`ls` and `rm`
 * are `images` and `rmi`).
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { staleUse, storeOf } from "../../image/local.ts";
import { imagesCommand, rmiCommand } from "./images.ts";
import { printable } from "../../host/printable.ts";

/** Parsed `image` arguments. */
export type ImageArgs =
  | { sub: "ls"; args: ReturnType<typeof imagesCommand.parse> }
  | { sub: "rm"; args: ReturnType<typeof rmiCommand.parse> }
  | { sub: "prune" }
  | { sub: "inspect"; refs: string[] };

/** `image`. */
export const imageCommand: Command<ImageArgs> = {
  name: "image",
  summary: "manage images: ls, rm, prune, inspect",
  usage:
    "image ls [-q] [--format table|json] | image rm [-f] REF... | image prune | image inspect REF...",
  description:
    "prune removes the images no name and no container uses, and the layers no image uses; inspect prints the image config JSON.",
  options: [],
  examples: ["berth image ls", "berth image prune", "berth image inspect busybox"],
  parse(args) {
    const [sub, ...rest] = args;
    switch (sub) {
      case "ls":
      case "list":
        return { sub: "ls", args: imagesCommand.parse(rest) };
      case "rm":
        return { sub: "rm", args: rmiCommand.parse(rest) };
      case "prune": {
        const p = parseCommandArgs("image prune", rest, []);
        noCommand("image prune", p.command);
        expectPositionals("image prune", p.positionals, []);
        return { sub: "prune" };
      }
      case "inspect": {
        const p = parseCommandArgs("image inspect", rest, []);
        noCommand("image inspect", p.command);
        if (p.positionals.length === 0) throw new InvalidArgument("image inspect: missing REF");
        return { sub: "inspect", refs: p.positionals };
      }
      default:
        throw new InvalidArgument(
          sub === undefined
            ? "image: missing subcommand (ls, rm, prune, inspect)"
            : `image: unknown subcommand "${sub}"`,
        );
    }
  },
  async run(ctx, o) {
    if (o.sub === "ls") return await imagesCommand.run(ctx, o.args);
    if (o.sub === "rm") return await rmiCommand.run(ctx, o.args);
    const store = storeOf(ctx);
    if (o.sub === "prune") {
      const removed = await store.prune(staleUse(ctx));
      ctx.io.out(removed.map((r) => `removed ${printable(r)}\n`).join(""));
      return 0;
    }
    const recs = o.refs.map((r) => store.get(r));
    const out = recs.map((r) => ({
      Id: r.id,
      RepoTags: r.names,
      Digest: r.manifestDigest,
      ...store.config(r),
    }));
    ctx.io.out(JSON.stringify(out, null, 2) + "\n");
    return 0;
  },
};
