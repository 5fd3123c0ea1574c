/**
 * The hook of `create --image`: the image's layers as overlay lower
 * directories and its config as the container's defaults. Loaded only
 * when a create names an image (the registry client and node-tar only
 * when it must be pulled).
 *
 * @module
 */

import { parseUnpackedSize } from "./_layer_limits.ts";
import type { Context } from "../container/context.ts";
import { InvalidArgument, NotFound } from "../host/errors.ts";
import { readInRoot } from "../host/read_in_root.ts";
import { capabilitySets, PODMAN_CAPABILITIES } from "../host/security.ts";
import type { OciConfig } from "../host/spec.ts";
import type { ImageConfig } from "./_manifest.ts";
import { formatReference, parseReference } from "./_reference.ts";
import { type ImageRecord, layerKey } from "./_store.ts";
import { storeOf } from "./_local.ts";

export { staleUse, storeOf } from "./_local.ts";
import { quietProgress, streamProgress } from "./_progress.ts";

/** `--pull` policies. */
export type PullPolicy = "missing" | "always" | "never";

/** What a container made from an image gets. */
export interface ImageSource {
  /** The reference as given, and the image ID. */
  ref: string;
  id: string;
  /** Layer directories, bottom first. */
  layers: string[];
  config: ImageConfig;
}

/**
 * Finds (or pulls, per `policy`) the image `ref`; `insecure`:
 * `--tls-verify=false`; `maxUnpackedSize`: `--max-unpacked-size` as given.
 */
export async function resolveImage(
  ctx: Context,
  ref: string,
  policy: PullPolicy,
  o: { insecure?: boolean; maxUnpackedSize?: string } = {},
): Promise<ImageSource> {
  const insecure = o.insecure === true;
  const maxUnpackedSize = o.maxUnpackedSize === undefined
    ? undefined
    : parseUnpackedSize(o.maxUnpackedSize);
  const store = storeOf(ctx);
  let rec: ImageRecord | null = policy === "always" ? null : store.find(ref);
  if (rec === null) {
    if (policy === "never") throw new NotFound(`image "${ref}" not found (--pull never)`);
    parseReference(ref); // exit 2 before any network
    const { pullImage } = await import("./_pull.ts");
    const tty = Deno.stderr.isTerminal();
    rec = await pullImage(ctx, ref, {
      progress: tty ? streamProgress((s) => ctx.io.err(s), true) : quietProgress,
      ...(insecure ? { insecure: true } : {}),
      ...(maxUnpackedSize !== undefined ? { maxUnpackedSize } : {}),
    });
  }
  return {
    ref,
    id: rec.id,
    layers: rec.layers.map((l) => store.layerDir(layerKey(l))),
    config: store.config(rec),
  };
}

/**
 * Records that container NS/ID uses the image (under the store lock, so
 * a racing prune cannot remove its layers); call under the container's lock.
 */
export async function takeImage(
  ctx: Context,
  ns: string,
  id: string,
  src: ImageSource,
): Promise<void> {
  await storeOf(ctx).takeUse(ns, id, src.id);
}

/** Drops container NS/ID's use of its image. */
export function releaseImage(ctx: Context, ns: string, id: string): void {
  storeOf(ctx).dropUse(ns, id);
}

/**
 * Resolves `user` (NAME, UID, UID:GID, NAME:GROUP) against the image's
 * /etc/passwd and /etc/group, read with `readInRoot`: a link, a file that
 * is not a regular one or one over 4 MiB is no file (a name is then not
 * found; a number still works).
 */
export function resolveUser(layers: string[], user: string): { uid: number; gid: number } {
  const [u, g] = user.split(":", 2) as [string, string | undefined];
  const topFirst = [...layers].reverse();
  const table = (file: string): string[][] =>
    (readInRoot(topFirst, `etc/${file}`) ?? "").split("\n").map((l) => l.split(":"));
  const numeric = (s: string | undefined): boolean => /^\d+$/.test(s ?? "");
  let uid: number;
  let gid = 0;
  if (numeric(u)) {
    uid = Number(u);
    const byUid = table("passwd").find((f) => f[2] === u);
    if (byUid !== undefined && numeric(byUid[3])) gid = Number(byUid[3]);
  } else {
    const f = table("passwd").find((f) => f[0] === u);
    if (f === undefined || !numeric(f[2]) || !numeric(f[3])) {
      throw new InvalidArgument(`user "${u}" is not in the image's /etc/passwd`);
    }
    uid = Number(f[2]);
    gid = Number(f[3]);
  }
  if (g !== undefined) {
    if (numeric(g)) gid = Number(g);
    else {
      const f = table("group").find((f) => f[0] === g);
      if (f === undefined || !numeric(f[2])) {
        throw new InvalidArgument(`group "${g}" is not in the image's /etc/group`);
      }
      gid = Number(f[2]);
    }
  }
  return { uid, gid };
}

/**
 * Applies the image config's defaults to `base` (in place): Entrypoint +
 * Cmd (`command`, when given, replaces Cmd), Env (the caller's `-e` come
 * later and win), WorkingDir, User (unless `userGiven`: a `--user` replaces
 * it, and the image's is then not resolved at all), StopSignal (as the OCI
 * annotation), and podman's default capabilities.
 */
export function applyImageConfig(
  base: OciConfig,
  src: ImageSource,
  command: string[],
  userGiven = false,
  entrypoint?: string[],
): OciConfig {
  const c = src.config.config ?? {};
  const p = (base.process ??= {});
  // --entrypoint replaces Entrypoint, and the image's Cmd then goes too (podman, docker).
  const args = entrypoint !== undefined
    ? [...entrypoint, ...command]
    : [...(c.Entrypoint ?? []), ...(command.length > 0 ? command : (c.Cmd ?? []))];
  if (args.length === 0) {
    throw new InvalidArgument(
      `image "${src.ref}" has no Entrypoint or Cmd: give a command after --`,
    );
  }
  p.args = args;
  const env = [...(p.env ?? [])];
  for (const kv of c.Env ?? []) {
    const key = kv.slice(0, kv.indexOf("="));
    const at = env.findIndex((e) => e.startsWith(key + "="));
    if (at >= 0) env[at] = kv;
    else env.push(kv);
  }
  p.env = env;
  if (typeof c.WorkingDir === "string" && c.WorkingDir.startsWith("/")) p.cwd = c.WorkingDir;
  if (!userGiven && typeof c.User === "string" && c.User !== "") {
    const { uid, gid } = resolveUser(src.layers, c.User);
    (p as Record<string, unknown>).user = { uid, gid };
  }
  p.capabilities = capabilitySets(PODMAN_CAPABILITIES);
  if (typeof c.StopSignal === "string" && c.StopSignal !== "") {
    base.annotations = {
      ...(base.annotations as Record<string, string> | undefined),
      "org.opencontainers.image.stopSignal": c.StopSignal,
    };
  }
  return base;
}

/** The canonical name of `ref`, for messages. */
export function canonical(ref: string): string {
  return formatReference(parseReference(ref));
}
