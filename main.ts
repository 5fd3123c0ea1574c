/**
 * berth's entry point: `deno run -A main.ts …` behaves exactly like the
 * compiled binary.
 *
 * @module
 */

import { main } from "./lib/cli.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
