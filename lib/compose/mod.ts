/**
 * Compose: a project of services from `compose.yaml` files, brought up and
 * down through the operations (create, start, stop, delete).
 *
 * It offers the model: {@linkcode loadProject} reads, merges, interpolates
 * and checks the files into one {@linkcode Project} (`config` prints it
 * with {@linkcode configYaml}); what each service's containers look like
 * ({@linkcode createRequestOf}, {@linkcode configHash}, {@linkcode imageOf},
 * the labels read by {@linkcode serviceOf} and {@linkcode numberOf}); and
 * the verbs that act on containers: {@linkcode up}, {@linkcode down},
 * {@linkcode streamLogs}, {@linkcode projectContainers}. Compose keeps no
 * state of its own: a project's containers are found by their labels.
 *
 * The verbs bring the operations with them (create, delete, start, stop,
 * reconcile: some 60 modules), so each is loaded on its first call and
 * `config` or `ps` from a checkout does not load `up`.
 *
 * This module is the folder's only entry from outside it; the `_`-prefixed
 * modules beside it are private (tests/layers_test.ts checks it).
 *
 * @module
 */

import type * as Containers from "./_containers.ts";
import type * as Down from "./_down.ts";
import type * as Logs from "./_logs.ts";
import type * as Up from "./_up.ts";

export { dependenciesOf, loadProject, selectServices } from "./_load.ts";
export type { Project } from "./_model.ts";
export { configHash, createRequestOf, imageOf, numberOf, serviceOf } from "./_plan.ts";
export { configYaml } from "./_print.ts";

/** The project's containers, reconciled, by service and number (`_containers.ts`). */
export async function projectContainers(
  ...a: Parameters<typeof Containers.projectContainers>
): ReturnType<typeof Containers.projectContainers> {
  return await (await import("./_containers.ts")).projectContainers(...a);
}

/** `compose up`: networks, images, then the services' containers in dependency order. */
export async function up(...a: Parameters<typeof Up.up>): ReturnType<typeof Up.up> {
  return await (await import("./_up.ts")).up(...a);
}

/** Makes the project's networks the services use; a missing external one is exit 2 (`_up.ts`). */
export async function ensureNetworks(
  ...a: Parameters<typeof Up.ensureNetworks>
): ReturnType<typeof Up.ensureNetworks> {
  return await (await import("./_up.ts")).ensureNetworks(...a);
}

/** Pulls the missing images of services (all with `pull_policy: always`; `_up.ts`). */
export async function pullImages(
  ...a: Parameters<typeof Up.pullImages>
): ReturnType<typeof Up.pullImages> {
  return await (await import("./_up.ts")).pullImages(...a);
}

/** `compose down`: the project's containers, its networks, its volumes and images as asked. */
export async function down(...a: Parameters<typeof Down.down>): ReturnType<typeof Down.down> {
  return await (await import("./_down.ts")).down(...a);
}

/** Streams the logs of containers, stdout to berth's stdout and stderr to its stderr. */
export async function streamLogs(
  ...a: Parameters<typeof Logs.streamLogs>
): ReturnType<typeof Logs.streamLogs> {
  return await (await import("./_logs.ts")).streamLogs(...a);
}
