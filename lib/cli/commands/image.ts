/**
 * `berth image ls|rm|prune|inspect`: the image subcommands (`ls` and `rm`
 * are `images` and `rmi`).
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import {
  type ImageConfig,
  type ImageRecord,
  type ImageStore,
  layerKey,
  MediaType,
  staleUse,
  storeOf,
} from "../../image/mod.ts";
import { imagesCommand, rmiCommand } from "./images.ts";
import { printable } from "../../host/printable.ts";
import {
  type OutputFormat,
  outputFormatOf,
  renderTemplate,
  templateFormatOption,
} from "./format.ts";

const INSPECT_OPTIONS = [templateFormatOption("json", "f")];

/** What {@linkcode podmanImage} reads from the store besides the record and config. */
export interface ImageExtras {
  /** The manifest's media type, or "" when its blob is not readable. */
  manifestType: string;
  /** The image's unpacked layer directories, bottom first. */
  layerDirs: string[];
}

/**
 * An image in podman's `image inspect` shape (podman 4: `Id` without
 * `sha256:`, `Created` in RFC 3339, `Size` the unpacked size, `History`
 * null when the config has none, `GraphDriver` naming the top layer's
 * directory and the ones below), its OCI config whole under `Berth`.
 */
export function podmanImage(
  r: ImageRecord,
  config: ImageConfig,
  extras: ImageExtras = { manifestType: "", layerDirs: [] },
): Record<string, unknown> {
  const c = (config.config ?? {}) as Record<string, unknown>;
  const full = config as { history?: unknown[]; author?: unknown };
  const repos = [...new Set(r.names.map((n) => n.replace(/(:[^:/@]+)?(@.*)?$/, "")))];
  const dirs = [...extras.layerDirs].reverse(); // top first, as overlay's lowerdir
  const data: Record<string, string> = {};
  if (dirs.length > 1) data.LowerDir = dirs.slice(1).join(":");
  if (dirs.length > 0) data.UpperDir = dirs[0]!;
  return {
    Id: r.id.replace(/^sha256:/, ""),
    Digest: r.manifestDigest,
    RepoTags: r.names,
    RepoDigests: repos.map((n) => `${n}@${r.manifestDigest}`),
    Parent: "",
    Comment: "",
    Created: r.created ?? config.created ?? "",
    Config: c,
    Version: "",
    Author: typeof full.author === "string" ? full.author : "",
    Architecture: config.architecture ?? "",
    Os: config.os ?? "",
    Size: r.size,
    VirtualSize: r.size,
    GraphDriver: { Name: "overlay", Data: data },
    RootFS: { Type: config.rootfs?.type ?? "layers", Layers: config.rootfs?.diff_ids ?? [] },
    Labels: (c.Labels as Record<string, string> | undefined) ?? {},
    Annotations: {},
    ManifestType: extras.manifestType,
    User: (c.User as string | undefined) ?? "",
    History: Array.isArray(full.history) ? full.history : null,
    NamesHistory: r.names,
    Berth: { id: r.id, names: r.names, manifestDigest: r.manifestDigest, config },
  };
}

/** The {@linkcode ImageExtras} of `r` in `store`. */
function extrasOf(store: ImageStore, r: ImageRecord): ImageExtras {
  let manifestType = "";
  try {
    const m = JSON.parse(new TextDecoder().decode(store.readBlob(r.manifestDigest)));
    if (typeof m?.mediaType === "string") manifestType = m.mediaType;
    else if (m?.schemaVersion === 2) manifestType = MediaType.ociManifest; // OCI may omit it
  } catch { /* not stored: left empty */ }
  return { manifestType, layerDirs: r.layers.map((l) => store.layerDir(layerKey(l))) };
}

/** Parsed `image` arguments. */
export type ImageArgs =
  | { sub: "ls"; args: ReturnType<typeof imagesCommand.parse> }
  | { sub: "rm"; args: ReturnType<typeof rmiCommand.parse> }
  | { sub: "prune" }
  | { sub: "inspect"; refs: string[]; format: OutputFormat };

/** `image`. */
export const imageCommand: Command<ImageArgs> = {
  name: "image",
  summary: "manage images: ls, rm, prune, inspect",
  usage: "image ls [-q] [--format table|json|TEMPLATE] | image rm [-f] REF... | image prune |\n" +
    "       image inspect [-f json|TEMPLATE] REF...",
  description:
    "prune removes the images no name and no container uses, and the layers no image uses; inspect prints podman's image shape (Id, Digest, RepoTags, Created, Config, RootFS,\n" +
    "History, Size) with the OCI config under Berth.",
  options: INSPECT_OPTIONS,
  examples: [
    "berth image ls",
    "berth image prune",
    "berth image inspect busybox",
    "berth image inspect -f '{{.Id}} {{json .Config.Cmd}}' busybox",
  ],
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
        const p = parseCommandArgs("image inspect", rest, INSPECT_OPTIONS);
        noCommand("image inspect", p.command);
        if (p.positionals.length === 0) throw new InvalidArgument("image inspect: missing REF");
        return { sub: "inspect", refs: p.positionals, format: outputFormatOf(p.values, "json") };
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
      const removed = await store.prune(staleUse(ctx), false, true); // build cache too
      ctx.io.out(removed.map((r) => `removed ${printable(r)}\n`).join(""));
      return 0;
    }
    const recs = o.refs.map((r) => store.get(r));
    const out = recs.map((r) => podmanImage(r, store.config(r), extrasOf(store, r)));
    ctx.io.out(
      o.format.kind === "template"
        ? renderTemplate(o.format, out)
        : JSON.stringify(out, null, 2) + "\n",
    );
    return 0;
  },
};
