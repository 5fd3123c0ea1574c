/**
 * `berth images` (`image ls`), `berth rmi` (`image rm`) and `berth tag`:
 * the local images, their removal and their names.
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import {
  type ImageRecord,
  isCacheOnly,
  parseReference,
  staleUse,
  storeOf,
} from "../../image/mod.ts";
import {
  type OutputFormat,
  outputFormatOf,
  renderTemplate,
  table,
  templateFormatOption,
} from "./format.ts";
import { printable } from "../../host/printable.ts";
import { ago, humanSize } from "./human.ts";

/** Options of `images`. */
export interface ImagesArgs {
  quiet: boolean;
  format: OutputFormat;
}

const LS_OPTIONS = [
  { name: "quiet", short: "q", type: "boolean" as const, help: "print image IDs only" },
  templateFormatOption(),
];

/** Splits `registry/repo:tag` (or `…@digest`) into repository and tag. */
function repoTag(name: string): [string, string] {
  const at = name.indexOf("@");
  if (at >= 0) return [name.slice(0, at), "<none>"];
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/")
    ? [name.slice(0, colon), name.slice(colon + 1)]
    : [name, "latest"];
}

/** One row of `images --format TEMPLATE` (podman's field names), per name. */
function templateRows(recs: ImageRecord[], now: number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const r of recs) {
    const names = r.names.length > 0 ? r.names : ["<none>:<none>"];
    for (const n of names) {
      const [repo, tag] = n === "<none>:<none>" ? ["<none>", "<none>"] : repoTag(n);
      rows.push({
        ID: r.id.slice(7, 19),
        Id: r.id,
        Repository: repo,
        Tag: tag,
        Digest: r.manifestDigest,
        Created: ago(r.created, now, "<unknown>"),
        CreatedAt: r.created ?? "",
        Size: humanSize(r.size),
        Names: r.names,
      });
    }
  }
  return rows;
}

/** The JSON form of an image in `images --format json` (`created` in ISO 8601, `size` in bytes). */
function jsonOf(r: ImageRecord) {
  return {
    id: r.id,
    names: r.names,
    digest: r.manifestDigest,
    created: r.created,
    size: r.size,
    layers: r.layers.length,
  };
}

/** `images`. */
export const imagesCommand: Command<ImagesArgs> = {
  name: "images",
  summary: "list local images",
  usage: "images [-q] [--format table|json|TEMPLATE]",
  options: LS_OPTIONS,
  examples: [
    "berth images",
    "berth images -q",
    "berth image ls --format json",
    "berth images --format '{{.Repository}}:{{.Tag}}'",
  ],
  parse(args) {
    const p = parseCommandArgs("images", args, LS_OPTIONS);
    noCommand("images", p.command);
    expectPositionals("images", p.positionals, []);
    return { quiet: bool(p.values, "quiet"), format: outputFormatOf(p.values) };
  },
  run(ctx, o) {
    const recs = storeOf(ctx).list().filter((r) => !isCacheOnly(r)).sort((a, b) =>
      (b.created ?? "").localeCompare(a.created ?? "")
    );
    if (o.quiet) ctx.io.out(recs.map((r) => r.id.slice(7, 19) + "\n").join(""));
    else if (o.format.kind === "json") {
      ctx.io.out(JSON.stringify(recs.map(jsonOf), null, 2) + "\n");
    } else if (o.format.kind === "template") {
      ctx.io.out(
        renderTemplate(o.format, templateRows(recs, ctx.clock.now().getTime()), { ID: "IMAGE ID" }),
      );
    } else {
      const now = ctx.clock.now().getTime();
      const rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]];
      for (const r of recs) {
        const names = r.names.length > 0 ? r.names : ["<none>:<none>"];
        for (const n of names) {
          const [repo, tag] = n === "<none>:<none>" ? ["<none>", "<none>"] : repoTag(n);
          rows.push([
            repo,
            tag,
            r.id.slice(7, 19),
            ago(r.created, now, "<unknown>"),
            humanSize(r.size),
          ]);
        }
      }
      ctx.io.out(table(rows));
    }
    return Promise.resolve(0);
  },
};

/** Options of `rmi`. */
export interface RmiArgs {
  refs: string[];
  force: boolean;
}

const RM_OPTIONS = [
  {
    name: "force",
    short: "f",
    type: "boolean" as const,
    help: "untag even while a container uses the image (its layers stay until it is deleted)",
  },
];

/** `rmi`. */
export const rmiCommand: Command<RmiArgs> = {
  name: "rmi",
  summary: "remove images (refused while a container uses one, unless -f: untag only)",
  usage: "rmi [-f] REF...",
  options: RM_OPTIONS,
  examples: ["berth rmi busybox", "berth rmi -f 127.0.0.1:5000/app:1.0"],
  parse(args) {
    const p = parseCommandArgs("rmi", args, RM_OPTIONS);
    noCommand("rmi", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("rmi: missing REF");
    return { refs: p.positionals, force: bool(p.values, "force") };
  },
  async run(ctx, o) {
    const lines = await storeOf(ctx).remove(o.refs, o.force, staleUse(ctx));
    ctx.io.out(lines.map((l) => printable(l) + "\n").join(""));
    return 0;
  },
};

/** Options of `tag`. */
export interface TagArgs {
  src: string;
  dst: string;
}

/** `tag`. */
export const tagCommand: Command<TagArgs> = {
  name: "tag",
  summary: "add a name to an image",
  usage: "tag SRC DST",
  options: [],
  examples: ["berth tag busybox 127.0.0.1:5000/mybox:1"],
  parse(args) {
    const p = parseCommandArgs("tag", args, []);
    noCommand("tag", p.command);
    const [src, dst] = expectPositionals("tag", p.positionals, ["SRC", "DST"]);
    if (parseReference(dst!).digest !== null) {
      throw new InvalidArgument(`tag: "${dst}" must not have a digest`);
    }
    return { src: src!, dst: dst! };
  },
  async run(ctx, o) {
    await storeOf(ctx).tag(o.src, o.dst);
    return 0;
  },
};
