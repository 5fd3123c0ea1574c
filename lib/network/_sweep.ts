/**
 * `gc`'s sweep of what berth's networks left on the host, whoever left it
 * (any root, any network directory), in the network namespace it runs in:
 *
 * - **Stale bridges** (`_stale_bridges.ts`): a `bth-*` bridge with no port
 *   that no definition of this network directory names, nor one of the
 *   directory its alias (`berth:DIR`) names. A network directory removed
 *   by hand (a test's, the bench's) leaves its bridges so. Each is checked
 *   again under the lock of the directory its alias names (so a set-up or
 *   `network create` there is never raced); one without an alias (made by
 *   an older berth, or a set-up killed before it marked it) only after a
 *   pause ({@linkcode UNCLAIMED_WAIT_MS}), still the same device and still
 *   without a port: a set-up makes a bridge and its first port at once.
 * - **Rules of bridges that are gone**: a network's own rules (its own
 *   rule, accepts, masquerade: `_firewall.ts`) name its bridge device, and
 *   the device's name is a hash of its network directory and name, so a
 *   rule naming a `bth-*` device this namespace lacks belongs to nobody
 *   (whatever root's tag it carries): a stale bridge deleted without them
 *   (by an older berth, a killed `network rm`, by hand). Left, such a
 *   masquerade would also take the traffic of a later network on its
 *   subnet. Also, as before, the rules of this network directory's tag
 *   whose network is gone (a definition removed by hand), and berth's
 *   chains where no berth bridge is left.
 *
 * The rules: one `iptables-save`, one `iptables-restore --noflush`, under
 * the firewall lock, with the links listed after taking it (a set-up makes
 * its bridge before its rules, under that lock). Where iptables is the
 * nf_tables variant, a listing that found nothing to do leaves a note of
 * the generation it was taken at and of the bridges berth's rules named
 * then ({@linkcode SWEEP_DIR}): the next `gc` that reads the same
 * generation and finds every one of those bridges still there runs no
 * iptables at all.
 *
 * Nothing else is touched: other chains, other programs' rules (podman's,
 * docker's, the CNI plugins'), a rule whose bridge exists (another tag's),
 * any device but an idle `bth-*` bridge. A `gc` whose root never had a
 * network, and whose network directory was never used, sweeps nothing
 * (and runs nothing for it).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { RuntimeError } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { join } from "../_std/path.ts";
import {
  FORWARD_CHAIN,
  iptablesInstalled,
  ISOLATION_CHAIN,
  NAT_CHAIN,
  netRule,
  NetworkFirewall,
  planDrop,
  planRemove,
  PREROUTING_CHAIN,
  rootComment,
  type Saved,
} from "./_firewall.ts";
import { hostNetworkPaths } from "./_host_paths.ts";
import { nftGeneration, readMark, removeAllMarks, removeMark, writeMark } from "./_nft_gen.ts";
import { contextNetworkPaths, firewallTag, listNetworks, type NetworkPaths } from "./_networks.ts";
import type { LinkInfo } from "./_rtnetlink.ts";
import { Rtnl } from "./_rtnetlink.ts";
import { aliasDir, isStaleBridge, linkView, listLinks } from "./_stale_bridges.ts";

/** Where the sweep's note is (one per network namespace, in root's /run). */
export const SWEEP_DIR = "/run/berth-sweep.d";

/**
 * How long a bridge without an alias must stay idle before the sweep
 * removes it (see the module's comment).
 */
export const UNCLAIMED_WAIT_MS = 1000;

/** One thing the sweep removed (or would): `gc` words it with its verb. */
export interface Swept {
  /** `remove` or `release` (`gc` prints `removed …` / `would remove …`). */
  verb: "remove" | "release";
  what: string;
}

/** `gc`: the sweep (see the module's comment); what it removed, or, with `dryRun`, would. */
export async function sweepNetworks(ctx: Context, dryRun: boolean): Promise<Swept[]> {
  const paths = contextNetworkPaths(ctx);
  // A root that never had a network, with a network directory never used,
  // leaves the host's networking alone (and pays nothing for it).
  if (!isDir(paths.stateDir) && !isDir(paths.runDir)) return [];
  const links = listLinks();
  if (links === null) return []; // no rtnetlink: nothing can be told
  const out: Swept[] = [];
  const stale = await sweepBridges(paths, links, dryRun, out);
  if (!iptablesInstalled()) return out;
  const own = await FileLock.acquireExisting(join(paths.runDir, "lock"), "the networks", {
    timeoutMs: 60_000,
  });
  try {
    out.push(...await sweepRules(ctx, paths, dryRun ? new Set(stale) : new Set(), dryRun));
  } finally {
    own?.release();
  }
  return out;
}

/** Whether link `name` is there (one request); a dry run's `going` counts as gone. */
function linkExists(name: string, going: ReadonlySet<string>): boolean {
  if (going.has(name)) return false;
  let rtnl: Rtnl;
  try {
    rtnl = Rtnl.open();
  } catch {
    return true; // cannot tell: kept
  }
  try {
    return rtnl.linkIndex(name) !== null;
  } catch {
    return true;
  } finally {
    rtnl.close();
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The bridges the definitions of `paths` name (its directory's and an older berth's per-root ones). */
function definedBridges(paths: NetworkPaths): Set<string> {
  const out = new Set(listNetworks(paths).map((n) => n.bridge));
  try {
    for (const e of Deno.readDirSync(paths.legacyDir)) {
      if (!e.name.endsWith(".conflist")) continue;
      try {
        const conf = JSON.parse(Deno.readTextFileSync(join(paths.legacyDir, e.name))) as {
          plugins?: { type?: unknown; bridge?: unknown }[];
        };
        for (const p of conf.plugins ?? []) {
          if (p.type === "bridge" && typeof p.bridge === "string") out.add(p.bridge);
        }
      } catch { /* not a definition */ }
    }
  } catch { /* none */ }
  return out;
}

function why(dir: string | null): string {
  return dir === null
    ? "no port, no network directory claims it"
    : `no port, network directory ${dir} no longer defines it`;
}

/**
 * Removes the stale bridges (unless `dryRun`), each checked again under the
 * lock of its alias's directory; returns those it found.
 */
async function sweepBridges(
  paths: NetworkPaths,
  links: LinkInfo[],
  dryRun: boolean,
  out: Swept[],
): Promise<string[]> {
  const view = linkView(links);
  const defined = definedBridges(paths);
  const stale = links.filter((l) => l.kind === "bridge" && isStaleBridge(l.name, defined, view));
  if (dryRun) {
    for (const l of stale) {
      out.push({
        verb: "remove",
        what: `the stale bridge ${l.name} (${why(aliasDir(l.name, view))})`,
      });
    }
    return stale.map((l) => l.name);
  }
  if (stale.some((l) => aliasDir(l.name, view) === null)) {
    await new Promise((r) => setTimeout(r, UNCLAIMED_WAIT_MS));
  }
  for (const l of stale) {
    const dir = aliasDir(l.name, view);
    const lock = await FileLock.acquireExisting(
      join(hostNetworkPaths(dir ?? paths.configDir).runDir, "lock"),
      "the networks",
      { timeoutMs: 60_000 },
    );
    try {
      const now = listLinks() ?? [];
      const same = now.find((x) => x.name === l.name);
      if (same === undefined || same.index !== l.index) continue; // gone, or made again
      const v = linkView(now);
      if (aliasDir(l.name, v) !== dir || !isStaleBridge(l.name, definedBridges(paths), v)) {
        continue; // taken into use meanwhile
      }
      const rtnl = Rtnl.open();
      try {
        rtnl.deleteLink(l.name);
      } finally {
        rtnl.close();
      }
      out.push({ verb: "remove", what: `the stale bridge ${l.name} (${why(dir)})` });
    } finally {
      lock?.release();
    }
  }
  return [];
}

/** What berth's network rules in a listing name: `[bridge, comment]`, and whether its chains are there. */
interface Note {
  rules: [string, string][];
  chains: boolean;
}

function noteOf(saved: Saved): Note {
  const rules = new Map<string, [string, string]>();
  for (const r of saved.rules) {
    const n = netRule(r);
    if (n !== null) rules.set(`${n.bridge} ${n.comment}`, [n.bridge, n.comment]);
  }
  const chains = [
    `raw/${PREROUTING_CHAIN}`,
    `filter/${FORWARD_CHAIN}`,
    `filter/${ISOLATION_CHAIN}`,
    `nat/${NAT_CHAIN}`,
  ].some((c) => saved.chains.has(c));
  return { rules: [...rules.values()], chains };
}

/**
 * The name of a note (`what`: which) of the current network namespace in
 * {@linkcode SWEEP_DIR}; null where the namespace cannot be told.
 */
export function noteName(what: string): string | null {
  try {
    return `${what}-${Deno.statSync("/proc/thread-self/ns/net").ino}`;
  } catch {
    return null;
  }
}

/** The change a listing asks for: restore input ("" for none), and what it removes. */
export interface SweepPlan {
  restore: string;
  swept: Swept[];
  /** The bridges whose rules it removes. */
  bridges: string[];
  /** Whether it removes berth's chains. */
  chains: boolean;
}

/**
 * What removes, from listing `saved`, the network rules `gone` selects (by
 * bridge and comment), and berth's chains with their jumps where
 * `anyBridge` is false. `missing`: whether a bridge's device is gone (its
 * line says so).
 */
export function planSweep(
  saved: Saved,
  gone: (bridge: string, comment: string) => boolean,
  anyBridge: boolean,
  missing: (bridge: string) => boolean,
): SweepPlan {
  const removal = planRemove(saved, gone);
  const swept: Swept[] = removal.bridges.map((b) =>
    missing(b)
      ? { verb: "remove", what: `the firewall rules of bridge ${b} (no such device)` }
      : { verb: "release", what: `the firewall rule of bridge ${b}` }
  );
  const drop = anyBridge ? "" : planDrop(saved);
  if (drop === "") {
    return { restore: removal.restore, swept, bridges: removal.bridges, chains: false };
  }
  swept.push({
    verb: "release",
    what:
      `berth's firewall chains (${PREROUTING_CHAIN}, ${FORWARD_CHAIN}, ${ISOLATION_CHAIN}, ${NAT_CHAIN}: no berth bridge is left)`,
  });
  // Flushing the chains takes their rules with them.
  return { restore: drop, swept, bridges: removal.bridges, chains: true };
}

/**
 * The rules' part, under the firewall lock: skipped where the note says
 * nothing can be stale; else one listing and one restore (read again
 * and retried, a few times, where another program changed the tables
 * between the two). `going`: bridges a dry run would remove.
 */
function sweepRules(
  ctx: Context,
  paths: NetworkPaths,
  going: ReadonlySet<string>,
  dryRun: boolean,
): Promise<Swept[]> {
  const fw = new NetworkFirewall(ctx.runner);
  const comment = rootComment(firewallTag(paths));
  const name = noteName("rules");
  return fw.exclusive(async () => {
    let why = "";
    for (let attempt = 0;; attempt++) {
      // The generation, then the links, then the definitions: whatever a
      // listing after them shows was made for a device and a definition
      // seen here (set-ups make both before their rules).
      const gen = nftGeneration();
      const links = listLinks();
      if (links === null) return [];
      const devices = new Set(links.map((l) => l.name).filter((n) => !going.has(n)));
      const anyBridge = [...devices].some((n) => n.startsWith("bth-"));
      const defined = definedBridges(paths);
      // Asked again by name before a device counts as gone (the dump is
      // the listing; this, one link's word for it).
      const missing = (b: string) =>
        b.startsWith("bth-") && !devices.has(b) && !linkExists(b, going);
      const gone = (b: string, c: string) => missing(b) || (c === comment && !defined.has(b));
      if (attempt === 0 && name !== null) {
        const text = readMark(name, gen, SWEEP_DIR);
        if (text !== null) {
          try {
            const note = JSON.parse(text) as Note;
            if (!note.rules.some(([b, c]) => gone(b, c)) && !(note.chains && !anyBridge)) {
              return [];
            }
          } catch { /* a torn note: list */ }
        }
      }
      const saved = await fw.save();
      const plan = planSweep(saved, gone, anyBridge, missing);
      if (plan.restore === "") {
        if (gen !== null && name !== null) {
          writeMark(name, gen, SWEEP_DIR, JSON.stringify(noteOf(saved)));
        }
        return [];
      }
      if (dryRun) return plan.swept;
      if (attempt === 3) throw new RuntimeError(`cannot remove stale firewall rules: ${why}`);
      // Before the rules: a mark left would say they are there.
      for (const b of plan.bridges) removeMark(b);
      if (plan.chains) removeAllMarks();
      why = await fw.restoreLocked(plan.restore);
      if (why === "") return plan.swept;
    }
  });
}
