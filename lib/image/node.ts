/**
 * node built-ins and node-tar, loaded at run time only, by image commands
 * that need them. The specifiers are computed so a bundler (`deno task
 * build`) cannot hoist them into static imports, which every berth command
 * would then pay for at start-up (node compatibility costs tens of ms).
 *
 * @module
 */

import type * as Buffer from "node:buffer";
import type * as Crypto from "node:crypto";
import type Process from "node:process";
import type * as Stream from "node:stream";
import type * as Zlib from "node:zlib";
import type * as Tar from "tar";

/** The modules. */
export interface NodeModules {
  Buffer: typeof Buffer.Buffer;
  crypto: typeof Crypto;
  process: typeof Process;
  stream: typeof Stream;
  zlib: typeof Zlib;
  tar: typeof Tar;
}

/** node-tar, pinned (also in deno.json and deno.lock). */
export const TAR_SPECIFIER = "npm:tar@7.5.23";

let loaded: NodeModules | null = null;
let loading: Promise<NodeModules> | null = null;

const load = (spec: string) => import(spec);

/** Loads the modules (once). */
export function loadNode(): Promise<NodeModules> {
  if (loaded !== null) return Promise.resolve(loaded);
  return loading ??= (async () => {
    const n = (name: string) => load(["node", name].join(":"));
    const [buffer, crypto, process, stream, zlib, tar] = await Promise.all([
      n("buffer"),
      n("crypto"),
      n("process"),
      n("stream"),
      n("zlib"),
      load(TAR_SPECIFIER),
    ]);
    loaded = {
      Buffer: buffer.Buffer,
      crypto,
      process: process.default,
      stream,
      zlib,
      tar,
    };
    return loaded;
  })();
}

/** The loaded modules; {@linkcode loadNode} must have resolved first. */
export function nodeSync(): NodeModules {
  if (loaded === null) throw new Error("node modules used before loadNode()");
  return loaded;
}
