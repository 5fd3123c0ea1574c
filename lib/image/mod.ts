/**
 * Images: references, the local store of images and layers, and what
 * moves images in and out of it (pull, push, load, save, import, commit)
 * or puts one under a container (its layers, config and use records).
 *
 * What it offers, loaded with the door: reference and platform parsing
 * ({@linkcode parseReference}, {@linkcode formatReference},
 * {@linkcode parsePlatform}, {@linkcode parseUnpackedSize}); the store
 * ({@linkcode storeOf}, {@linkcode staleUse}, {@linkcode layerKey},
 * {@linkcode isCacheOnly}, {@linkcode MediaType}); registry credentials
 * ({@linkcode authFilePath}, {@linkcode storeCredentials}); progress lines
 * ({@linkcode quietProgress}, {@linkcode streamProgress}); the run-time
 * loader of node-tar and the node built-ins ({@linkcode loadNode},
 * {@linkcode besideThisModule}); and the unpacker's libc group
 * ({@linkcode unpackCalls}).
 *
 * Loaded on the first call (each function below loads its module then,
 * which is why the synchronous ones return promises here): pulling,
 * pushing, loading, saving, importing and committing images
 * ({@linkcode pullImage}, {@linkcode pushImage}, {@linkcode loadArchive},
 * {@linkcode saveImages}, {@linkcode importTar}, {@linkcode commitTree},
 * {@linkcode commitStep}, {@linkcode checkCommitArgs}); a registry client
 * ({@linkcode registryClient}); a container's image ({@linkcode resolveImage},
 * {@linkcode applyImageConfig}, {@linkcode takeImage},
 * {@linkcode releaseImage}, {@linkcode resolveUser}); a tree as a tar
 * stream ({@linkcode treeTar}); and a layer unpacked
 * ({@linkcode unpackLayer}, {@linkcode openUmask}).
 *
 * Commands that do not work on images (`create`, `run`, `push`, `import`
 * among them) load this door when they start, so only small modules free
 * of `node:`/`npm:` imports are re-exported statically
 * (tests/layers_test.ts checks the latter).
 *
 * This module is the folder's only entry from outside it; the `_`-prefixed
 * modules beside it are private (tests/layers_test.ts checks it).
 *
 * @module
 */

import type * as Archive from "./_archive.ts";
import type * as Commit from "./_commit.ts";
import type * as LayerDiff from "./_layer_diff.ts";
import type * as Pull from "./_pull.ts";
import type * as Push from "./_push.ts";
import type * as Registry from "./_registry.ts";
import type * as Save from "./_save.ts";
import type * as Source from "./_source.ts";
import type * as Unpack from "./_unpack.ts";

export type { ContainerConfigSection } from "./_config_changes.ts";
export type { ImageConfig, Platform } from "./_manifest.ts";
export type { RegistryClient } from "./_registry.ts";
export type { SaveFormat } from "./_save.ts";
export type { ImageSource } from "./_source.ts";
export type { ImageRecord, ImageStore } from "./_store.ts";
export { authFilePath, storeCredentials } from "./_auth.ts";
export { keyValuePairs } from "./_config_changes.ts";
export { unpackCalls } from "./_ffi.ts";
export { parseUnpackedSize } from "./_layer_limits.ts";
export { staleUse, storeOf } from "./_local.ts";
export { MediaType, parsePlatform } from "./_manifest.ts";
export { besideThisModule, loadNode } from "./_node.ts";
export { quietProgress, streamProgress } from "./_progress.ts";
export { formatReference, parseReference } from "./_reference.ts";
export { isCacheOnly, layerKey } from "./_store.ts";

/** `pull` (see `_pull.ts`). */
export async function pullImage(
  ...args: Parameters<typeof Pull.pullImage>
): ReturnType<typeof Pull.pullImage> {
  return await (await import("./_pull.ts")).pullImage(...args);
}

/** `push` (see `_push.ts`). */
export async function pushImage(
  ...args: Parameters<typeof Push.pushImage>
): ReturnType<typeof Push.pushImage> {
  return await (await import("./_push.ts")).pushImage(...args);
}

/** `load` (see `_archive.ts`). */
export async function loadArchive(
  ...args: Parameters<typeof Archive.loadArchive>
): ReturnType<typeof Archive.loadArchive> {
  return await (await import("./_archive.ts")).loadArchive(...args);
}

/** `save` (see `_save.ts`). */
export async function saveImages(...args: Parameters<typeof Save.saveImages>): Promise<void> {
  await (await import("./_save.ts")).saveImages(...args);
}

/** `import` (see `_commit.ts`). */
export async function importTar(
  ...args: Parameters<typeof Commit.importTar>
): ReturnType<typeof Commit.importTar> {
  return await (await import("./_commit.ts")).importTar(...args);
}

/** `commit`: checks its arguments before anything is locked (see `_commit.ts`). */
export async function checkCommitArgs(
  ...args: Parameters<typeof Commit.checkCommitArgs>
): Promise<void> {
  (await import("./_commit.ts")).checkCommitArgs(...args);
}

/** `commit` (see `_commit.ts`). */
export async function commitTree(
  ...args: Parameters<typeof Commit.commitTree>
): ReturnType<typeof Commit.commitTree> {
  return await (await import("./_commit.ts")).commitTree(...args);
}

/** `build`: one step's layer committed (see `_commit.ts`). */
export async function commitStep(
  ...args: Parameters<typeof Commit.commitStep>
): ReturnType<typeof Commit.commitStep> {
  return await (await import("./_commit.ts")).commitStep(...args);
}

/** A client of a registry (see `_registry.ts`). */
export async function registryClient(
  ...args: ConstructorParameters<typeof Registry.RegistryClient>
): Promise<Registry.RegistryClient> {
  return new (await import("./_registry.ts")).RegistryClient(...args);
}

/** `create`: the image of a container, pulled if need be (see `_source.ts`). */
export async function resolveImage(
  ...args: Parameters<typeof Source.resolveImage>
): ReturnType<typeof Source.resolveImage> {
  return await (await import("./_source.ts")).resolveImage(...args);
}

/** `create`: an image's config applied to a container's OCI config (see `_source.ts`). */
export async function applyImageConfig(
  ...args: Parameters<typeof Source.applyImageConfig>
): Promise<ReturnType<typeof Source.applyImageConfig>> {
  return (await import("./_source.ts")).applyImageConfig(...args);
}

/** Records that a container uses an image (see `_source.ts`). */
export async function takeImage(...args: Parameters<typeof Source.takeImage>): Promise<void> {
  await (await import("./_source.ts")).takeImage(...args);
}

/** Forgets a container's use of its image (see `_source.ts`). */
export async function releaseImage(...args: Parameters<typeof Source.releaseImage>): Promise<void> {
  (await import("./_source.ts")).releaseImage(...args);
}

/** A user name or number resolved in an image's layers (see `_source.ts`). */
export async function resolveUser(
  ...args: Parameters<typeof Source.resolveUser>
): Promise<ReturnType<typeof Source.resolveUser>> {
  return (await import("./_source.ts")).resolveUser(...args);
}

/** A tree as a tar stream, as `export` writes it (see `_layer_diff.ts`). */
export async function* treeTar(
  ...args: Parameters<typeof LayerDiff.treeTar>
): ReturnType<typeof LayerDiff.treeTar> {
  return yield* (await import("./_layer_diff.ts")).treeTar(...args);
}

/** A layer unpacked into a directory (see `_unpack.ts`). */
export async function unpackLayer(
  ...args: Parameters<typeof Unpack.unpackLayer>
): ReturnType<typeof Unpack.unpackLayer> {
  return await (await import("./_unpack.ts")).unpackLayer(...args);
}

/** Opens the process umask for unpacking; returns its restorer (see `_unpack.ts`). */
export async function openUmask(): Promise<() => void> {
  return (await import("./_unpack.ts")).openUmask();
}
