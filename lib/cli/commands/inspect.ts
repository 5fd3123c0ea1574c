/**
 * `berth inspect [-f FORMAT] ID...`: a JSON array in podman's shape, each
 * entry with berth's own (the state object plus `config`) under `Berth`
 * (see ops/inspect.ts); `-f TEMPLATE` prints one line per container.
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { inspectEntry } from "../../ops/inspect.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { loadReconciled } from "../../ops/reconcile.ts";
import {
  type OutputFormat,
  outputFormatOf,
  renderTemplate,
  templateFormatOption,
} from "./format.ts";

const OPTIONS = [templateFormatOption("json", "f")];

/** `inspect`. */
export const inspectCommand: Command<{ refs: string[]; format: OutputFormat }> = {
  name: "inspect",
  summary: "print containers' state and configuration (podman's shape) as a JSON array",
  usage: "inspect [-f json|TEMPLATE] ID...",
  description:
    "Each entry has podman's fields (Id, Name, Created, Path, Args, State, Image, ImageName,\n" +
    "Config, HostConfig, NetworkSettings, Mounts; State.Status is created, running, paused\n" +
    "or exited) and berth's own entry under Berth: the `state` object plus `config` (image,\n" +
    "process, mounts, limits, network, ports, restart policy and count, health).\n" +
    "-f TEMPLATE applies a Go template to each entry: '{{.State.Status}}'.",
  options: OPTIONS,
  positionals: [{ name: "ID" }],
  examples: [
    "berth inspect web1",
    "berth inspect -f '{{.State.Status}}' web1",
    "berth inspect -f '{{.NetworkSettings.IPAddress}}' web1",
    "berth inspect web1 | jq '.[0].Berth.config.mounts'",
  ],
  parse(args) {
    const p = parseCommandArgs("inspect", args, OPTIONS);
    noCommand("inspect", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("inspect: missing ID");
    return { refs: p.positionals, format: outputFormatOf(p.values, "json") };
  },
  async run(ctx, o) {
    const out = [];
    for (const ref of o.refs) {
      const s = await loadReconciled(ctx, await resolveExisting(ctx, ref));
      out.push(await inspectEntry(ctx, s));
    }
    ctx.io.out(
      o.format.kind === "template"
        ? renderTemplate(o.format, out)
        : JSON.stringify(out, null, 2) + "\n",
    );
    return 0;
  },
};
