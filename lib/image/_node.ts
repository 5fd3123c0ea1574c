/**
 * node built-ins and node-tar (`_node_entry.ts`), loaded at run time only,
 * by image commands that need them. The specifier is computed so neither
 * Deno's module graph nor the bundler (`deno task build`) puts them on the
 * start-up path of every berth command (node compatibility costs tens of
 * ms). From a checkout the entry is `_node_entry.ts`; from the bundle (and
 * the compiled binary) it is `berth-node.js`, bundled beside it.
 *
 * @module
 */

import type * as Entry from "./_node_entry.ts";

/** The modules. */
export type NodeModules = typeof Entry;

let loaded: NodeModules | null = null;
let loading: Promise<NodeModules> | null = null;

/**
 * The URL of a module berth loads at run time: `ts` beside this file in a
 * checkout (lib/image/), or its bundle `js` beside the bundle the code
 * runs from (dist/, embedded in the compiled binary), where `deno task
 * build` writes it.
 */
export function besideThisModule(ts: string, js: string, here: string = import.meta.url): string {
  return new URL(here.endsWith(".ts") ? `./${ts}` : `./${js}`, here).href;
}

/** Loads the modules (once; concurrent callers share the load). */
export function loadNode(): Promise<NodeModules> {
  if (loaded !== null) return Promise.resolve(loaded);
  return loading ??= (async () => {
    const url = besideThisModule("_node_entry.ts", "berth-node.js");
    loaded = await import(url) as NodeModules;
    return loaded;
  })();
}

/** The loaded modules; {@linkcode loadNode} must have resolved first. */
export function nodeSync(): NodeModules {
  if (loaded === null) throw new Error("node modules used before loadNode()");
  return loaded;
}
