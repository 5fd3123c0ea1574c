/**
 * The YAML library (npm:yaml), loaded only by compose commands: an `npm:`
 * module initialises Deno's Node compatibility layer, which no other
 * command pays for (tests/layers_test.ts checks that nothing else loads it).
 *
 * @module
 */

import type * as Yaml from "yaml";

/** The module. */
export type YamlModule = typeof Yaml;

let loaded: Promise<YamlModule> | null = null;

/** Loads the module (once). */
export function loadYaml(): Promise<YamlModule> {
  return loaded ??= import("yaml");
}
