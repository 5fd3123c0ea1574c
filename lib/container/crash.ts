/**
 * Named crash points for fault injection: when `BERTH_CRASH_AT` names a
 * point, the berth process SIGKILLs itself there, exactly as a power loss
 * of the process would stop it. Tests iterate {@linkcode CRASH_POINTS} and
 * check that the next command or `berth gc` repairs what is left.
 *
 * Two variants serve rollback tests: `NAME@N` acts on the Nth pass of a
 * point that is passed more than once (one pass per volume made, say), and
 * `fail:NAME` (or `fail:NAME@N`) throws a RuntimeError there instead of
 * dying, as a failed write or syscall would: the process's own undo runs.
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";

/** Every crash point, by operation, in the order they are passed. */
export const CRASH_POINTS = {
  create: [
    "create:bundle", // bundle and work directory made, nothing mounted
    "create:mounted", // rootfs mounted, no state yet
    "create:recorded", // state saved with op "create", runtime not called
    "create:runtime", // runtime created the container, state not final
  ],
  start: ["start:recorded", "start:runtime"],
  pause: ["pause:recorded", "pause:runtime"],
  resume: ["resume:recorded", "resume:runtime"],
  // exec -t: the runtime started the process and sent its terminal, not yet received.
  exec: ["exec:terminal"],
  // Network set-up and tear-down (lib/network/_attach.ts), on a bridge network.
  network: [
    "network:lease", // the host-wide lease written (network dir), no attachment record yet
    "network:netns-file", // the namespace's file made, nothing bound on it yet
    "network:netns", // namespace made, no CNI ADD yet
    "network:allocated", // berth's own set-up: the address reserved (host-local's file), no link yet
    "network:partial", // the bridge plugin's ADD done (berth's own: links and address made, result recorded), portmap and firewall (the rules) not
    "network:added", // every ADD done, hosts file and runtime not yet
    "network:dns", // the container's name recorded for the resolver, its files and the resolver not yet
    "network:del-dns", // delete: the name record removed, CNI DEL not yet
    "network:del-partial", // DEL of the firewall plugin done, portmap and bridge not (berth's own: the rules gone, veth and address not)
    "network:del-unlinked", // berth's own tear-down: rules gone (a shared namespace's veth pair too), namespace and address not
    "network:deleted", // every DEL done, namespace still mounted
    "network:unrecorded", // record removed, the host-wide lease not yet
  ],
  pull: [
    "pull:manifest", // manifest and config fetched and verified, nothing stored
    "pull:partial", // a layer half unpacked in the store's tmp/
    "pull:layer", // a layer committed, no image recorded
    "pull:blobs", // manifest and config stored, no image recorded
  ],
  push: [
    "push:blob", // a blob uploaded (or found there), the manifest not yet put
  ],
  commit: [
    "commit:paused", // the running container paused for the commit (pausedBy saved), nothing read
    "commit:layer", // the new layer's blob written in tmp/, nothing published
    "commit:published", // the layer published (blob and directory), no config or image yet
    "commit:blobs", // config and manifest stored, no image recorded
  ],
  build: [
    "build:container", // a RUN step's container created, not started
    "build:ran", // a RUN step's container exited, its upper not yet committed
    "build:step", // a step's image recorded (a cache entry), the build not done
  ],
  save: [
    "save:partial", // a layer written into the temp archive, more to come
    "save:written", // the temp archive complete, not yet synced and renamed into place
  ],
  // export -o: the temp tar complete, not yet synced and renamed into place.
  export: ["export:written"],
  checkpoint: ["checkpoint:recorded", "checkpoint:runtime"],
  restore: ["restore:recorded", "restore:runtime"],
  // restart of a stopped container: op "start" saved / the runtime started it, state not final.
  restart: ["restart:recorded", "restart:runtime"],
  // update: op "update" saved with its limits / the runtime applied them, config and state not yet.
  update: ["update:recorded", "update:runtime"],
  // Named volumes (volume create, or create/run with -v NAME:DST made on first use).
  volume: [
    "volume:built", // .tmp-* directory complete, not renamed into place
    "volume:renamed", // volume rm: renamed to .trash-*, not removed
  ],
  // network connect / disconnect on a container with a network (beside the
  // set-up's and tear-down's own network:* points, which they pass too).
  connect: [
    "connect:forgotten", // disconnect: the state no longer names the attachment, not torn down
  ],
  // network rm (and a stale bridge removed in the way): the bridge device
  // deleted, its firewall rules not yet (gc removes the rules of a device that is gone).
  networkRm: ["network-rm:device"],
  // compose up/down (lib/compose): what a killed one leaves is found by the containers' labels.
  compose: [
    "compose:networks", // up: the project's networks made, no container yet
    "compose:service", // up: one service's containers made, the others not (passed once per service)
    "compose:containers", // down: every container removed, networks and volumes still there
  ],
  delete: [
    "delete:recorded", // op "delete" saved, nothing done
    "delete:killed", // init reaped, runtime still knows it
    "delete:runtime", // runtime forgot it, rootfs still mounted unless its init had its own PID namespace
    "delete:network", // runtime and network (CNI DEL) done, rootfs mounted as at delete:runtime
    "delete:unmounted", // unmounted, bundle still there
    "delete:renamed", // bundle renamed to .trash-*, not removed
    "delete:bundle", // bundle gone, work directory still there
  ],
} as const;

/** A crash point's name. */
export type CrashPoint = typeof CRASH_POINTS[keyof typeof CRASH_POINTS][number];

/** Passes so far of each point named with `@N` (tests only). */
const passes = new Map<string, number>();

/**
 * Dies here (SIGKILL) if `armed` names this point, or throws if it names
 * it with `fail:` (see the module doc for `@N`).
 */
export function crashPoint(armed: string | null, name: CrashPoint): void {
  if (armed === null) return;
  if (armed === name) Deno.kill(Deno.pid, "SIGKILL");
  const fail = armed.startsWith("fail:");
  const spec = fail ? armed.slice("fail:".length) : armed;
  const at = spec.lastIndexOf("@");
  const point = at < 0 ? spec : spec.slice(0, at);
  if (point !== name) return;
  const pass = (passes.get(name) ?? 0) + 1;
  passes.set(name, pass);
  if (at >= 0 && Number(spec.slice(at + 1)) !== pass) return;
  if (!fail) Deno.kill(Deno.pid, "SIGKILL");
  throw new RuntimeError(`injected failure at ${name}`);
}
