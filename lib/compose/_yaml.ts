/**
 * The YAML library (npm:yaml, through `_yaml_entry.ts`), loaded only by
 * compose commands and only at run time: from a checkout the entry module
 * itself, from the bundle (and the compiled binary) `berth-yaml.js` beside
 * it. The specifier is computed so the bundler leaves it out of the CLI's
 * bundle (tests/layers_test.ts checks nothing else loads it).
 *
 * @module
 */

import type * as Entry from "./_yaml_entry.ts";
import { besideThisModule } from "../image/mod.ts";

/** The module. */
export type YamlModule = typeof Entry;

let loaded: Promise<YamlModule> | null = null;

/** Loads the module (once). */
export function loadYaml(): Promise<YamlModule> {
  return loaded ??= import(
    besideThisModule("_yaml_entry.ts", "berth-yaml.js", import.meta.url)
  ) as Promise<YamlModule>;
}
