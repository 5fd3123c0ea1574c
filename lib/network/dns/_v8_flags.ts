/**
 * The resolver's V8 settings, apart so the door (and `scripts/bench.ts`)
 * can name them without loading the start-up code of `_ensure.ts`.
 *
 * @module
 */

/**
 * V8 settings of the resolver (the monitor's): a small young generation,
 * no helper threads, `gc()` before it trims its memory.
 */
export const RESOLVER_V8_FLAGS =
  "--max-semi-space-size=1,--single-threaded,--expose-gc,--optimize-for-size,--lite-mode,--max-lazy";
