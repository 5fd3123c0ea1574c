/**
 * The node built-ins and node-tar that image commands use, as one module.
 * `deno task build` bundles it (node-tar and its dependencies inlined, the
 * built-ins left as imports) into `dist/berth-node.js` beside the CLI's
 * bundle, and `deno task compile` embeds that file in the binary, so a
 * pull needs no npm resolution at run time. {@linkcode loadNode} in
 * `_node.ts` imports it only when an image command needs it: the first
 * `node:` import initialises Deno's Node compatibility layer, which no
 * container command should pay for.
 *
 * @module
 */

import stream from "node:stream";

export { Buffer } from "node:buffer";
export * as crypto from "node:crypto";
export * as zlib from "node:zlib";
export * as tar from "tar";
export * as v8 from "node:v8";
export * as vm from "node:vm";
/** node:stream (it is `export =`, so it is imported, then exported). */
export { stream };
