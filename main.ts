/**
 * berth's entry point: `deno run -A main.ts …` behaves exactly like the
 * compiled binary.
 *
 * @module
 */

import { main } from "./lib/cli/cli.ts";
import { selfCommand } from "./lib/container/context.ts";

if (import.meta.main) {
  // This module's own URL: main.ts in a checkout, or dist/berth.js when
  // bundled (`deno task build`); the monitor is started from the same one.
  Deno.exit(await main(Deno.args, { self: selfCommand(import.meta.url) }));
}
