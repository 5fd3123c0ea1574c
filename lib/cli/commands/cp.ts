/**
 * `berth cp [-a] SRC DST`: copies files between a container and the host.
 *
 * @module
 */

import { bool, checkShape, type OptionSpec, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { copy, type CpEndpoint, parseCpArgs } from "../../ops/cp.ts";

const OPTIONS: OptionSpec[] = [
  {
    name: "archive",
    short: "a",
    type: "boolean",
    help: "keep the source's owner (uid/gid); otherwise the copy is owned by root",
  },
];

const POSITIONALS = [{ name: "SRC" }, { name: "DST" }];

/** `cp`. */
export const cpCommand: Command<{ src: CpEndpoint; dst: CpEndpoint; archive: boolean }> = {
  name: "cp",
  summary: "copy files between a container and the host (running or stopped)",
  usage: "cp [-a] NAME:SRC_PATH DST_PATH|- | cp [-a] SRC_PATH|- NAME:DST_PATH",
  description:
    "Copies a file or a directory tree. Container paths are resolved inside the container's\n" +
    "root: its symlinks (absolute ones included) and `..` never lead out of it, and a copy\n" +
    "into a running container's volume, bind or tmpfs mount lands in that mount.\n" +
    "As docker cp: a directory DST receives SRC under its own name (SRC/. copies the\n" +
    "contents); a missing DST is created (a missing DST/ is an error for a file); a file\n" +
    "DST is replaced. Symlinks are copied as symlinks; modes and times are kept.\n" +
    "- as SRC reads a tar stream from stdin into the directory DST (entries with .. are\n" +
    "refused); - as DST writes SRC to stdout as a tar stream. A copy to the host drops\n" +
    "setuid/setgid bits and makes no device nodes (FIFOs are made).",
  options: OPTIONS,
  positionals: POSITIONALS,
  command: "none",
  examples: [
    "berth cp ./app.conf web1:/etc/app.conf",
    "berth cp web1:/var/log/app ./logs",
    "berth cp -a ./data/. web1:/srv/data",
    "berth cp web1:/etc - | tar t",
    "tar -c conf | berth cp - web1:/srv",
  ],
  parse(args) {
    const p = parseCommandArgs("cp", args, OPTIONS);
    checkShape("cp", p, POSITIONALS);
    const { src, dst } = parseCpArgs(p.positionals[0]!, p.positionals[1]!);
    return { src, dst, archive: bool(p.values, "archive") };
  },
  async run(ctx, o) {
    await copy(ctx, o.src, o.dst, { archive: o.archive });
    return 0;
  },
};
