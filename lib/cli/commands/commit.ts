/**
 * `berth commit [-c INSTRUCTION]... [-m MSG] [-a AUTHOR] [--pause=false]
 * NAME [IMAGE]`: a container's changes as a new image.
 *
 * @module
 */

import { choice, noCommand, parseCommandArgs, str, strs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import type { CommitOptions } from "../../ops/commit.ts";

/** Options of `commit`. */
export interface CommitArgs extends CommitOptions {
  container: string;
  quiet: boolean;
}

const PAUSE = {
  name: "pause",
  type: "string" as const,
  value: "true|false",
  choices: ["true", "false"] as const,
  default: "true",
  help: "pause a running container while its changes are read (false: read them as it runs)",
};

const OPTIONS = [
  {
    name: "change",
    short: "c",
    type: "string" as const,
    multiple: true,
    value: "INSTRUCTION",
    help:
      "apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, USER, WORKDIR, STOPSIGNAL, VOLUME",
  },
  {
    name: "message",
    short: "m",
    type: "string" as const,
    value: "MSG",
    help: "the commit message (the history entry's comment)",
  },
  { name: "author", short: "a", type: "string" as const, value: "AUTHOR", help: "the author" },
  PAUSE,
  {
    name: "quiet",
    short: "q",
    type: "boolean" as const,
    help: "print the image ID only (as always)",
  },
];

/** `commit`. */
export const commitCommand: Command<CommitArgs> = {
  name: "commit",
  summary: "make an image from a container's changes",
  usage: "commit [-c INSTRUCTION]... [-m MSG] [-a AUTHOR] [--pause=false] NAME [IMAGE]",
  description:
    "The container's changes (its overlay's upper directory) become one new layer on its image, with deleted files as whiteouts; the config is the image's with the container's command (as Cmd), -e, --cwd and --user, then the -c changes. A container made with --rootfs or --bundle commits its whole root as a one-layer image. A running container is paused meanwhile unless --pause=false. Prints the new image's ID; IMAGE names it.",
  options: OPTIONS,
  examples: [
    "berth commit web1 web:snapshot",
    "berth commit -c 'CMD [\"echo\",\"hi\"]' -m 'add hi' web1 hi:1",
  ],
  parse(args) {
    const p = parseCommandArgs("commit", args, OPTIONS);
    noCommand("commit", p.command);
    const [container, name, ...rest] = p.positionals;
    if (container === undefined) throw new InvalidArgument("commit: missing NAME");
    if (rest.length > 0) throw new InvalidArgument(`commit: unexpected argument "${rest[0]}"`);
    return {
      container,
      name: name ?? null,
      changes: strs(p.values, "change"),
      message: str(p.values, "message") ?? null,
      author: str(p.values, "author") ?? null,
      pause: choice(p.values, PAUSE, "true") === "true",
      quiet: p.values["quiet"] === true,
    };
  },
  async run(ctx, o) {
    const { commitContainer } = await import("../../ops/commit.ts");
    const rec = await commitContainer(ctx, o.container, o);
    ctx.io.out(`${rec.id.slice("sha256:".length)}\n`);
    return 0;
  },
};
