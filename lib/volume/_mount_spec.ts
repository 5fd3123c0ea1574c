/**
 * The mount options of `create`/`run` (`-v SRC:DST[:ro]`, `--mount
 * type=bind|volume|tmpfs,src=…,dst=…[,ro]`, `--tmpfs DST[:size=N]`),
 * parsed into one normalized form, {@linkcode MountSpec}, which the state
 * records (so `inspect`, `restart` and `generate systemd` reproduce it)
 * and which {@linkcode ociMount} turns into an OCI mount. Parsing touches
 * nothing on disk; {@linkcode checkBindSources} only looks.
 *
 * @module
 */

import { InvalidArgument, isNotFound } from "../host/errors.ts";
import { normalize } from "../_std/path.ts";
import type { MountSpec } from "../container/state_file.ts";
import { validateVolumeName } from "./_names.ts";
import { parseSize } from "../host/size.ts";

export type { MountSpec };

/** Checks that `path` is an absolute, normalized path inside the container, not `/`. */
function destination(path: string, what: string): string {
  if (/[,\n]/.test(path)) {
    throw new InvalidArgument(`${what}: destination "${path}" must not contain , or a newline`);
  }
  if (!path.startsWith("/")) {
    throw new InvalidArgument(`${what}: destination "${path}" is not an absolute path`);
  }
  if (path.split("/").includes("..")) {
    throw new InvalidArgument(`${what}: destination "${path}" must not contain ".."`);
  }
  const dst = normalize(path);
  if (dst === "/") throw new InvalidArgument(`${what}: cannot mount over "/"`);
  return dst;
}

/** A bind source: absolute; a volume: a valid name; anything else is a relative path. */
function source(src: string, what: string): Pick<MountSpec, "type" | "source"> {
  if (/[,\n]/.test(src)) {
    throw new InvalidArgument(`${what}: source "${src}" must not contain , or a newline`);
  }
  if (src.startsWith("/")) {
    if (src.split("/").includes("..")) {
      throw new InvalidArgument(`${what}: source "${src}" must not contain ".."`);
    }
    return { type: "bind", source: normalize(src) };
  }
  if (src.includes("/") || src.startsWith(".") || src === "") {
    throw new InvalidArgument(
      `${what}: source "${src}" is a relative path (give an absolute path or a volume name)`,
    );
  }
  return { type: "volume", source: validateVolumeName(src, what) };
}

/** Parses one `-v SRC:DST[:ro|rw]`. */
export function parseVolumeFlag(value: string): MountSpec {
  const what = `-v "${value}"`;
  const parts = value.split(":");
  if (parts.length < 2 || parts.length > 3) {
    throw new InvalidArgument(`${what}: must look like SRC:DST or SRC:DST:ro`);
  }
  const [src, dst, mode] = parts as [string, string, string | undefined];
  if (mode !== undefined && mode !== "ro" && mode !== "rw") {
    throw new InvalidArgument(`${what}: unknown mode "${mode}" (ro or rw)`);
  }
  return { ...source(src, what), destination: destination(dst, what), readOnly: mode === "ro" };
}

/** Parses one `--mount type=…,src=…,dst=…[,ro][,size=N]`. */
export function parseMountFlag(value: string): MountSpec {
  const what = `--mount "${value}"`;
  const fields: Record<string, string> = {};
  let readOnly = false;
  for (const item of value.split(",")) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const v = eq < 0 ? null : item.slice(eq + 1);
    if (key === "ro" || key === "readonly") {
      if (v !== null && v !== "true" && v !== "false") {
        throw new InvalidArgument(`${what}: ${key} takes true or false, not "${v}"`);
      }
      readOnly = v !== "false";
      continue;
    }
    const canonical = ({
      type: "type",
      src: "src",
      source: "src",
      dst: "dst",
      destination: "dst",
      target: "dst",
      size: "size",
      "tmpfs-size": "size",
    } as Record<string, string>)[key];
    if (canonical === undefined || v === null) {
      throw new InvalidArgument(`${what}: unknown field "${item}"`);
    }
    if (fields[canonical] !== undefined) {
      throw new InvalidArgument(`${what}: "${canonical}" given twice`);
    }
    fields[canonical] = v;
  }
  const type = fields.type;
  if (type !== "bind" && type !== "volume" && type !== "tmpfs") {
    throw new InvalidArgument(`${what}: type must be bind, volume or tmpfs`);
  }
  if (fields.dst === undefined) throw new InvalidArgument(`${what}: dst= is missing`);
  const dst = destination(fields.dst, what);
  if (type === "tmpfs") {
    if (fields.src !== undefined) throw new InvalidArgument(`${what}: a tmpfs takes no src=`);
    return {
      type,
      source: null,
      destination: dst,
      readOnly,
      ...(fields.size === undefined ? {} : { size: parseSize(fields.size, what) }),
    };
  }
  if (fields.size !== undefined) throw new InvalidArgument(`${what}: size= is for tmpfs only`);
  if (fields.src === undefined) throw new InvalidArgument(`${what}: src= is missing`);
  const src = source(fields.src, what);
  if (src.type !== type) {
    throw new InvalidArgument(
      type === "bind"
        ? `${what}: a bind source must be an absolute path`
        : `${what}: a volume source must be a volume name`,
    );
  }
  return { ...src, destination: dst, readOnly };
}

/** Parses one `--tmpfs DST[:size=N]` (also `DST:size=N,mode=…` is refused: size only). */
export function parseTmpfsFlag(value: string): MountSpec {
  const what = `--tmpfs "${value}"`;
  const colon = value.indexOf(":");
  const dst = destination(colon < 0 ? value : value.slice(0, colon), what);
  const spec: MountSpec = { type: "tmpfs", source: null, destination: dst, readOnly: false };
  if (colon >= 0) {
    for (const opt of value.slice(colon + 1).split(",")) {
      const m = /^size=(.*)$/.exec(opt);
      if (m !== null) spec.size = parseSize(m[1]!, what);
      else if (opt === "ro") spec.readOnly = true;
      else throw new InvalidArgument(`${what}: unknown option "${opt}" (size=N or ro)`);
    }
  }
  return spec;
}

/**
 * All mounts of one create, in the order given (`-v`, then `--mount`, then
 * `--tmpfs`); two mounts on one destination are refused.
 */
export function parseMounts(
  volumes: readonly string[],
  mounts: readonly string[],
  tmpfs: readonly string[],
): MountSpec[] {
  const out = [
    ...volumes.map(parseVolumeFlag),
    ...mounts.map(parseMountFlag),
    ...tmpfs.map(parseTmpfsFlag),
  ];
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.destination)) {
      throw new InvalidArgument(`two mounts on ${m.destination}`);
    }
    seen.add(m.destination);
  }
  return out;
}

/** Checks that every bind source exists (exit 2 for one that does not). */
export function checkBindSources(specs: readonly MountSpec[]): void {
  for (const m of specs) {
    if (m.type !== "bind") continue;
    try {
      Deno.statSync(m.source!);
    } catch (err) {
      if (isNotFound(err) || err instanceof Deno.errors.NotADirectory) {
        throw new InvalidArgument(`bind mount source ${m.source} does not exist`);
      }
      throw err;
    }
  }
}

/** The names of the named volumes among `specs`, once each. */
export function volumeNames(specs: readonly MountSpec[]): string[] {
  return [...new Set(specs.filter((m) => m.type === "volume").map((m) => m.source!))];
}

/** One OCI mount. */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/**
 * The OCI mount of `m`; `volumePath(name)` is where a named volume's data
 * lives on the host.
 */
export function ociMount(m: MountSpec, volumePath: (name: string) => string): OciMount {
  const access = m.readOnly ? "ro" : "rw";
  if (m.type === "tmpfs") {
    return {
      destination: m.destination,
      type: "tmpfs",
      source: "tmpfs",
      options: [
        "nosuid",
        "nodev",
        "mode=1777",
        access,
        ...(m.size === undefined ? [] : [`size=${m.size}`]),
      ],
    };
  }
  return {
    destination: m.destination,
    type: "bind",
    source: m.type === "bind" ? m.source! : volumePath(m.source!),
    options: ["rbind", "rprivate", access],
  };
}
