/**
 * Limits: what a container may use, and what it is using.
 *
 * The resource limits of `create`/`run`/`update` (`--memory`, `--cpus`,
 * `--pids-limit`), parsed with one-line errors and written into an OCI
 * config or onto a `runc update` command line ({@linkcode parseLimits},
 * {@linkcode applyLimits}, {@linkcode updateFlags}); the health check
 * options and their durations ({@linkcode parseHealth},
 * {@linkcode parseDuration}); and the container's cgroup on the host, v1
 * or v2, read for `stats`, OOM kills and the frozen state
 * ({@linkcode sampleCgroup}, {@linkcode oomKills}, {@linkcode cgroupFrozen}).
 *
 * This module is the folder's only entry from outside it; the `_`-prefixed
 * modules beside it are private (tests/layers_test.ts checks it).
 *
 * @module
 */

export {
  cgroupFrozen,
  type CgroupSample,
  cgroupVersion,
  netIo,
  oomKills,
  sampleCgroup,
  setCgroupFrozen,
  swapAccounting,
} from "./_cgroup.ts";
export {
  HEALTH_DEFAULTS,
  type HealthConfig,
  parseDuration,
  parseHealth,
} from "./_health_config.ts";
export { applyLimits, humanSize, type Limits, parseLimits, updateFlags } from "./_parse.ts";
