/**
 * The YAML library (npm:yaml) as one module. `deno task build` bundles it
 * for the browser platform (yaml's own ESM build, no Node built-ins) into
 * `dist/berth-yaml.js` beside the CLI's bundle, and `deno task compile`
 * embeds that file; {@linkcode loadYaml} in `_yaml.ts` imports it by a
 * computed specifier, so neither the bundle nor any other command loads it.
 *
 * @module
 */

export { parseAllDocuments, stringify } from "yaml";
