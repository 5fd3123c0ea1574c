/**
 * Volumes: what a container mounts besides its root file system.
 *
 * Two halves. The mount options of `create`/`run` (`-v`, `--mount`,
 * `--tmpfs`) parsed into the one form the state records, and turned into
 * OCI mounts ({@linkcode parseMounts}, {@linkcode checkBindSources},
 * {@linkcode ociMount}). And named volumes, one directory each under the
 * data root, made on first use by `create` under the namespace's volumes
 * lock and removed by `volume rm`/`prune` only when no container's state
 * names them ({@linkcode ensureVolumesLocked}, {@linkcode listVolumes},
 * {@linkcode removeVolume}, {@linkcode cleanVolumeLeftovers} for `gc`).
 *
 * This module is the folder's only entry from outside it; the `_`-prefixed
 * modules beside it are private (tests/layers_test.ts checks it).
 *
 * @module
 */

export { checkBindSources, ociMount, parseMounts, volumeNames } from "./_mount_spec.ts";
export { validateVolumeName } from "./_names.ts";
export {
  cleanVolumeLeftovers,
  createVolume,
  ensureVolumesLocked,
  inspectVolume,
  listVolumes,
  lockVolumes,
  pruneVolumes,
  removeUnusedVolumes,
  removeVolume,
  volumeDataPath,
  volumeNamespaces,
} from "./_store.ts";
