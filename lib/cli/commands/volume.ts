/**
 * `berth volume create|ls|rm|inspect|prune [NAME...]`: named volumes
 * under `--data-root` (see lib/volume/mod.ts).
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import {
  createVolume,
  inspectVolume,
  listVolumes,
  pruneVolumes,
  removeVolume,
  validateVolumeName,
} from "../../volume/mod.ts";
import {
  type OutputFormat,
  outputFormatOf,
  renderTemplate,
  table,
  templateFormatOption,
} from "./format.ts";

/** The subcommands of `volume`. */
export const VOLUME_VERBS = ["create", "ls", "rm", "inspect", "prune"] as const;

/** Options of `volume`. */
export interface VolumeOptions {
  verb: typeof VOLUME_VERBS[number];
  names: string[];
  format: OutputFormat;
  quiet: boolean;
}

const OPTIONS = [
  { ...templateFormatOption(), help: "(ls) table, json, or a Go template ('{{.Name}}')" },
  { name: "quiet", short: "q", type: "boolean" as const, help: "(ls) print names only" },
];

/** How many names each verb takes: [min, max]. */
const ARITY: Record<VolumeOptions["verb"], [number, number]> = {
  create: [1, 1],
  ls: [0, 0],
  rm: [1, Infinity],
  inspect: [1, Infinity],
  prune: [0, 0],
};

/** `volume`. */
export const volumeCommand: Command<VolumeOptions> = {
  name: "volume",
  summary: "manage named volumes (create, ls, rm, inspect, prune)",
  usage:
    "volume create NAME | ls [-q] [--format table|json|TEMPLATE] | rm NAME... | inspect NAME... |\n" +
    "       volume prune",
  description:
    "Named volumes live under --data-root and survive their containers; `-v NAME:DST` makes\n" +
    "one on first use. `rm` is refused (exit 5) while a container (any status) uses the\n" +
    "volume; `prune` removes every volume no container uses.",
  options: OPTIONS,
  positionals: [{ name: "SUBCOMMAND", choices: VOLUME_VERBS }, { name: "NAME" }],
  examples: [
    "berth volume create data",
    "berth run --rm --rootfs /srv/rootfs -v data:/data c1 -- sh -c 'echo hi > /data/f'",
    "berth volume ls",
    "berth volume ls --format '{{.Name}} {{.Mountpoint}}'",
    "berth volume rm data",
  ],
  parse(args) {
    const p = parseCommandArgs("volume", args, OPTIONS);
    noCommand("volume", p.command);
    const [verb, ...names] = p.positionals;
    if (verb === undefined) throw new InvalidArgument(`volume: missing ${VOLUME_VERBS.join("|")}`);
    if (!(VOLUME_VERBS as readonly string[]).includes(verb)) {
      throw new InvalidArgument(
        `volume: unknown subcommand "${verb}" (${VOLUME_VERBS.join(", ")})`,
      );
    }
    const v = verb as VolumeOptions["verb"];
    const [min, max] = ARITY[v];
    if (names.length < min) throw new InvalidArgument(`volume ${v}: missing NAME`);
    if (names.length > max) {
      throw new InvalidArgument(`volume ${v}: unexpected argument "${names[max]}"`);
    }
    for (const n of names) validateVolumeName(n);
    return { verb: v, names, format: outputFormatOf(p.values), quiet: bool(p.values, "quiet") };
  },
  async run(ctx, o) {
    const ns = ctx.globals.namespace;
    switch (o.verb) {
      case "create":
        await createVolume(ctx, ns, o.names[0]!);
        ctx.io.out(`${o.names[0]}\n`);
        return 0;
      case "rm":
        for (const n of o.names) {
          await removeVolume(ctx, ns, n);
          ctx.io.out(`${n}\n`);
        }
        return 0;
      case "prune":
        for (const n of await pruneVolumes(ctx, ns)) ctx.io.out(`${n}\n`);
        return 0;
      case "inspect": {
        const out = [];
        for (const n of o.names) out.push(await inspectVolume(ctx, ns, n));
        ctx.io.out(JSON.stringify(out, null, 2) + "\n");
        return 0;
      }
      case "ls": {
        const all = await listVolumes(ctx, ns);
        if (o.quiet) ctx.io.out(all.map((v) => `${v.name}\n`).join(""));
        else if (o.format.kind === "json") ctx.io.out(JSON.stringify(all, null, 2) + "\n");
        else if (o.format.kind === "template") {
          // podman's field names
          ctx.io.out(renderTemplate(
            o.format,
            all.map((v) => ({
              Name: v.name,
              Driver: "local",
              Mountpoint: v.mountpoint,
              CreatedAt: v.createdAt,
              Scope: "local",
              Labels: {},
              Options: {},
              UsedBy: v.usedBy,
            })),
            { Name: "VOLUME NAME" },
          ));
        } else {
          ctx.io.out(table([
            ["NAME", "CREATED", "USED BY"],
            ...all.map((v) => [v.name, v.createdAt, v.usedBy.join(",") || "-"]),
          ]));
        }
        return 0;
      }
    }
  },
};
