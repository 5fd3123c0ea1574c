/**
 * `berth gc`: reconciles a whole root after crashes, in every direction,
 * one line per action. Every container is examined under its own lock,
 * taken with `tryAcquire`: a busy lock means an operation is under way,
 * and that container is left alone. So gc never races a live operation.
 *
 * What it repairs:
 * - interrupted operations (via {@linkcode repairLocked}): creates rolled
 *   back, deletes finished, status changes settled with the runtime;
 * - containers a killed `commit` left paused (`pausedBy`, not a pause the
 *   user asked for): resumed;
 * - live containers whose init is gone, while no monitor runs: stopped (255);
 * - bundles, work directories and mounts that belong to no container;
 * - mounts a runtime process killed midway left in a container's runtime
 *   state directory (runc's bind mount of its own binary, see
 *   `lib/container/runtime_state.ts`), and such directories of IDs that
 *   have no container;
 * - containers the runtime knows and berth does not (a `runc create` that
 *   finished after berth was killed): `runtime delete --force`;
 * - `.trash-*` leftovers of interrupted removals and `.*.tmp-*` leftovers of
 *   interrupted state saves; an `exec`'s scratch files once it is gone;
 * - lock files of containers that are gone (removed while held, see
 *   `lib/host/lock.ts`, so a waiter can never end up holding a removed file);
 * - a monitor socket no monitor serves;
 * - console sockets (terminal hand-over) whose process died;
 * - network attachments (CNI DEL: veth, address, port forwarding and
 *   firewall rules; the namespace file) of containers that are gone;
 * - host-wide: idle `bth-*` bridges no network directory defines, the
 *   firewall rules of berth's bridges that are gone (any root's), the rules
 *   of this network directory's networks that are gone, and berth's chains
 *   where no berth bridge is left (`lib/network/mod.ts`);
 * - per-container firewall rules (masquerade, port forwarding, the firewall
 *   plugin's) of this root's tokens that no attachment or container names
 *   (`lib/network/mod.ts`);
 * - `.tmp-*`/`.trash-*` leftovers of interrupted volume creations and removals;
 * - the temps a killed `save -o` or `export -o` left beside its target
 *   (found through the journal `writeBeside` keeps, lib/host/atomic_file.ts).
 *
 * After a reboot (`--root` on tmpfs is empty) the work directories under
 * `--data-root`, logs included, belong to no container and are removed.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { isTempName, removeAbandonedTemps } from "../host/atomic_file.ts";
import { execScratchOwner, findLeftovers, removeTree } from "../container/bundle.ts";
import { initGone, isLive, withFreeLock } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { isNotFound, messageOf } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { mountPoints, unmountAll } from "../host/mounts.ts";
import { removeOrphansLocked } from "./orphans.ts";
import { isValidId } from "../container/id.ts";
import { repairLocked } from "./repair.ts";
import { pauseAbandoned } from "../container/paused_by.ts";
import { unmountStaleRuntimeMounts } from "../container/runtime_state.ts";
import { refreshLocked } from "./reconcile.ts";
import { monitorAlive } from "../monitor/alive.ts";

/** Options of {@linkcode gc}. */
export interface GcOptions {
  /** Report what would be done; change nothing. */
  dryRun: boolean;
}

/** What gc did: action lines and failures. */
export interface GcReport {
  actions: string[];
  errors: string[];
}

async function entries(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs gc over the context's roots (all namespaces). */
export async function gc(ctx: Context, options: GcOptions): Promise<GcReport> {
  const report: GcReport = { actions: [], errors: [] };
  const dry = options.dryRun;
  /** Records an action and runs it unless dry. */
  const act = async (done: string, would: string, fn: () => Promise<unknown>) => {
    try {
      if (!dry) await fn();
      report.actions.push(dry ? would : done);
    } catch (err) {
      report.errors.push(`${would.replace(/^would /, "cannot ")}: ${messageOf(err)}`);
    }
  };
  const namespaces = new Set<string>([
    ...(await entries(ctx.paths.namespacesDir)).filter((e) => e.isDirectory).map((e) => e.name),
    ...(await entries(join(ctx.paths.dataRoot, "ns"))).filter((e) => e.isDirectory).map((e) =>
      e.name
    ),
  ]);
  const monitorUp = await monitorAlive(ctx);
  for (const ns of [...namespaces].sort()) {
    await gcNamespace(ctx, ns, dry, monitorUp, act, report);
  }
  await gcMounts(ctx, act, report);
  // Network attachments whose container is gone (after the repairs above).
  try {
    const { networkLeftovers } = await import("../network/mod.ts");
    for (const what of await networkLeftovers(ctx, dry)) {
      report.actions.push(dry ? `would release ${what}` : `released ${what}`);
    }
  } catch (err) {
    report.errors.push(`cannot release network leftovers: ${messageOf(err)}`);
  }
  // Host-wide: stale bth-* bridges, the rules of bridges that are gone (any
  // root's), berth's chains where no berth bridge is left.
  try {
    const { sweepNetworks } = await import("../network/mod.ts");
    for (const s of await sweepNetworks(ctx, dry)) {
      report.actions.push(dry ? `would ${s.verb} ${s.what}` : `${s.verb}d ${s.what}`);
    }
  } catch (err) {
    report.errors.push(`cannot sweep stale bridges and firewall rules: ${messageOf(err)}`);
  }
  // Per-container firewall rules of this root's attachments that are gone.
  try {
    const { staleRuleLeftovers } = await import("../network/mod.ts");
    for (const what of await staleRuleLeftovers(ctx, dry)) {
      report.actions.push(dry ? `would remove ${what}` : `removed ${what}`);
    }
  } catch (err) {
    report.errors.push(`cannot remove stale firewall rules: ${messageOf(err)}`);
  }
  const { cleanVolumeLeftovers, volumeNamespaces } = await import("../volume/mod.ts");
  for (const ns of volumeNamespaces(ctx.paths)) {
    for (const path of await cleanVolumeLeftovers(ctx.paths, ns, false)) {
      await act(
        `removed the leftover ${path}`,
        `would remove the leftover ${path}`,
        () => cleanVolumeLeftovers(ctx.paths, ns, true),
      );
    }
  }
  // Temps of a killed `save -o`/`export -o` beside their target (the journal names them).
  try {
    for (const temp of removeAbandonedTemps(ctx.paths.outputsJournal, dry)) {
      const what = `${temp}, which a killed save or export left`;
      report.actions.push(dry ? `would remove ${what}` : `removed ${what}`);
    }
  } catch (err) {
    report.errors.push(`cannot remove the temps of killed saves and exports: ${messageOf(err)}`);
  }
  const { staleConsoleSockets } = await import("../terminal/mod.ts");
  for (const path of staleConsoleSockets(ctx.paths.consoleDir)) {
    await act(
      `removed the stale console socket ${path}`,
      `would remove the stale console socket ${path}`,
      () => Deno.remove(path),
    );
  }
  // Containers of builds that were killed (their image uses go with them, below).
  try {
    const { removeBuildLeftovers } = await import("./build_leftovers.ts");
    for (const line of await removeBuildLeftovers(ctx, dry)) {
      if (line.startsWith("cannot ")) report.errors.push(line);
      else report.actions.push(line);
    }
  } catch (err) {
    report.errors.push(`cannot remove build containers: ${messageOf(err)}`);
  }
  if (await exists(join(ctx.paths.dataRoot, "image"))) {
    // Images: stale container uses, unnamed unused images, unused layers, partial pulls.
    try {
      const { storeOf, staleUse } = await import("../image/mod.ts");
      const what = await storeOf(ctx).prune(staleUse(ctx), dry);
      for (const w of what) report.actions.push(dry ? `would remove ${w}` : `removed ${w}`);
    } catch (err) {
      report.errors.push(`cannot clean the image store: ${messageOf(err)}`);
    }
  }
  if (!monitorUp && (await exists(ctx.paths.monitorSocket))) {
    await act(
      `removed the stale monitor socket ${ctx.paths.monitorSocket}`,
      `would remove the stale monitor socket ${ctx.paths.monitorSocket}`,
      () => Deno.remove(ctx.paths.monitorSocket),
    );
  }
  return report;
}

type Act = (done: string, would: string, fn: () => Promise<unknown>) => Promise<void>;

/**
 * How long gc waits for the container locks that were busy, all together
 * (not each: among 50 containers being stopped that would be 100 s),
 * before it leaves the ones still held alone.
 */
const GC_LOCK_WAIT_MS = 2000;

async function gcNamespace(
  ctx: Context,
  ns: string,
  dry: boolean,
  monitorUp: boolean,
  act: Act,
  report: GcReport,
): Promise<void> {
  const containersDir = ctx.paths.containersDir(ns);
  const dataDir = ctx.paths.dataNsDir(ns);
  // Containers the runtime knows (a runtime create may have finished after berth was killed).
  const runtimeIds = new Set<string>();
  if (await exists(ctx.paths.runtimeRoot(ns))) {
    try {
      for (const id of await ctx.runtime.list(ctx.paths.runtimeRoot(ns), "/dev/null")) {
        runtimeIds.add(id);
      }
    } catch (err) {
      report.errors.push(`cannot list the runtime's containers in ${ns}: ${messageOf(err)}`);
    }
  }
  const visible = async (dir: string) =>
    (await entries(dir)).filter((e) => !e.name.startsWith(".")).map((e) => e.name);
  // Runtime state directories the runtime does not list (no state.json:
  // a create killed early), with what a killed runtime process left in them.
  const runtimeDirs = (await visible(ctx.paths.runtimeRoot(ns))).filter(isValidId);
  const ids = new Set([
    ...await visible(containersDir),
    ...await visible(dataDir),
    ...runtimeIds,
    ...runtimeDirs,
  ]);
  // One entry that cannot be handled (its lock file is a directory, …) is
  // reported; the others are still repaired. Each container whose lock is
  // free is examined at once; then the busy ones, whose locks may be held
  // for a moment (the monitor recording an exit, a command finishing), are
  // waited for within one GC_LOCK_WAIT_MS in all. A lock still held after
  // that is an operation under way: that container is left alone.
  const examine = (id: string, waitMs: number) =>
    withFreeLock(ctx, ns, id, async () => {
      const s = await ctx.store.tryLoad(ns, id).catch((err) => {
        report.errors.push(`cannot read ${ns}/${id}: ${messageOf(err)}`);
        return undefined;
      });
      if (s === undefined) return;
      if (s === null) {
        const knows = runtimeIds.has(id);
        const found = await removeOrphansLocked(ctx, ns, id, true, knows);
        if (found.length === 0) return;
        const what = `${found.join(", ")} (no such container)`;
        await act(
          `removed ${what}`,
          `would remove ${what}`,
          () => removeOrphansLocked(ctx, ns, id, false, knows),
        );
        return;
      }
      const bundle = ctx.paths.bundleDir(ns, id);
      for (const f of await entries(bundle)) {
        const execOwner = execScratchOwner(f.name);
        if (execOwner !== null && !(await exists(`/proc/${execOwner}`))) {
          const path = join(bundle, f.name);
          await act(
            `removed ${path} (its exec is gone)`,
            `would remove ${path}`,
            () => Deno.remove(path),
          );
          continue;
        }
        if (!isTempName(f.name)) continue;
        const path = join(bundle, f.name);
        await act(`removed ${path}`, `would remove ${path}`, () => Deno.remove(path));
      }
      if (s.op !== null) {
        const [verb, done] = s.op.name === "create"
          ? ["roll back", "rolled back"]
          : s.op.name === "delete"
          ? ["finish", "finished"]
          : ["settle", "settled"];
        await act(
          `${done} the interrupted ${s.op.name} of ${ns}/${id}`,
          `would ${verb} the interrupted ${s.op.name} of ${ns}/${id}`,
          () => repairLocked(ctx, s),
        );
        return;
      }
      if (pauseAbandoned(s) && s.status === "paused") {
        await act(
          `resumed ${ns}/${id}, which a killed commit had paused`,
          `would resume ${ns}/${id}, which a killed commit had paused`,
          () => repairLocked(ctx, s),
        );
      }
      // A mount a runtime process killed midway left in its state directory
      // (runc's bind mount of its binary), once no runtime process of it runs.
      for (const m of await unmountStaleRuntimeMounts(ctx.paths, ns, id, s.pid, true)) {
        await act(
          `unmounted ${m}, which a killed runtime process of ${ns}/${id} left`,
          `would unmount ${m}, which a killed runtime process of ${ns}/${id} left`,
          () => unmountStaleRuntimeMounts(ctx.paths, ns, id, s.pid),
        );
      }
      if (isLive(s) && s.pid !== null && initGone(s) && !monitorUp) {
        await act(
          `marked ${ns}/${id} stopped (exit 255: its process is gone)`,
          `would mark ${ns}/${id} stopped (exit 255: its process is gone)`,
          () => refreshLocked(ctx, s),
        );
      }
    }, waitMs).catch((err) => {
      report.errors.push(`cannot examine ${ns}/${id}: ${messageOf(err)}`);
      return true;
    });
  const busy: string[] = [];
  for (const id of [...ids].sort()) {
    if (!(await examine(id, 0))) busy.push(id);
  }
  const until = ctx.clock.monotonic() + GC_LOCK_WAIT_MS;
  for (const id of busy) await examine(id, Math.max(0, until - ctx.clock.monotonic()));
  // Leftovers of interrupted removals (of any ID).
  for (const path of await findLeftovers([containersDir, dataDir])) {
    await act(`removed the leftover ${path}`, `would remove the leftover ${path}`, async () => {
      await unmountAll(path);
      removeTree(path);
    });
  }
  // Lock files of containers that are gone.
  for (const e of await entries(ctx.paths.locksDir(ns))) {
    if (!e.name.endsWith(".lock")) continue;
    const id = e.name.slice(0, -".lock".length);
    try {
      await gcLockFile(ctx, ns, id, dry, report);
    } catch (err) {
      report.errors.push(`cannot examine the lock file of ${ns}/${id}: ${messageOf(err)}`);
    }
  }
}

async function gcLockFile(
  ctx: Context,
  ns: string,
  id: string,
  dry: boolean,
  report: GcReport,
): Promise<void> {
  if (await ctx.store.exists(ns, id)) return;
  const lock = await FileLock.tryAcquire(ctx.paths.lockFile(ns, id));
  if (lock === null) return; // in use
  try {
    if (await ctx.store.exists(ns, id)) return;
    if (dry) report.actions.push(`would remove the stale lock file of ${ns}/${id}`);
    else {
      await lock.releaseAndRemove();
      report.actions.push(`removed the stale lock file of ${ns}/${id}`);
    }
  } finally {
    lock.release();
  }
}

/**
 * The container `{ns, id}` whose bundle, runtime state directory or work
 * directory holds mount point `m`, or null when `m` is not in berth's own layout (a mount an
 * administrator made elsewhere under a root is never touched).
 */
export function layoutOwner(
  paths: { root: string; dataRoot: string },
  m: string,
): { ns: string; id: string } | null {
  for (
    const [base, re] of [
      [paths.root, /^\/ns\/([^/]+)\/containers\/([^/]+)(?:\/.*)?$/],
      [paths.root, /^\/ns\/([^/]+)\/runc\/([^/]+)(?:\/.*)?$/],
      [paths.dataRoot, /^\/ns\/([^/]+)\/([^/]+)(?:\/.*)?$/],
    ] as const
  ) {
    if (!m.startsWith(base + "/")) continue;
    const found = re.exec(m.slice(base.length));
    if (found === null) continue;
    const [, ns, id] = found as unknown as [string, string, string];
    if (isValidId(ns) && isValidId(id)) return { ns, id };
  }
  return null;
}

/** Mounts in berth's layout under either root that belong to no container. */
async function gcMounts(ctx: Context, act: Act, report: GcReport): Promise<void> {
  const all = await mountPoints();
  for (const m of [...new Set(all)]) {
    const owner = layoutOwner(ctx.paths, m);
    if (owner === null) continue; // not berth's (a .trash-* one goes with its leftover)
    const { ns, id } = owner;
    if (await ctx.store.exists(ns, id)) continue;
    const unmount = () =>
      act(
        `unmounted ${m}, which belongs to no container`,
        `would unmount ${m}, which belongs to no container`,
        () => unmountAll(m),
      );
    await withFreeLock(ctx, ns, id, async () => {
      if (!(await ctx.store.exists(ns, id))) await unmount();
    }).catch((err) => report.errors.push(`cannot examine ${m}: ${messageOf(err)}`));
  }
}
