/**
 * Stale berth bridges: a `bth-*` device that no network definition names
 * and that has no port (no container's veth) is left over: by a network
 * directory removed by hand, a root of an older berth (whose bridge names
 * carried the data root), a `network rm` killed midway. Such a bridge
 * still routes its subnet, and would block every later network on it;
 * berth removes it (with its rules) where it is in the way, and `gc`
 * removes every one (`_sweep.ts`); never any other device.
 *
 * Which definitions count: those of the asking network directory, and
 * those of the directory the bridge itself names. berth marks each bridge
 * it uses with its network directory (the device's alias, `berth:DIR`), so
 * the idle bridge of another directory that still defines it (tests that
 * move `--network-dir`, several at once) is never taken for stale.
 *
 * Ports and aliases are read over rtnetlink ({@linkcode currentLinks}):
 * sysfs shows the network namespace it was mounted in, not necessarily
 * the caller's (`unshare --net` without a new sysfs).
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { ProcessRunner } from "../host/process.ts";
import { type LinkInfo, Rtnl } from "./_rtnetlink.ts";

/** What a stale-bridge check reads of a device: its ports and its alias. */
export interface LinkView {
  /** The ports of bridge `dev` (null when it is no bridge here). */
  ports(dev: string): string[] | null;
  /** Its alias ("" when none). */
  alias(dev: string): string;
}

/** The devices as sysfs shows them (the namespace sysfs was mounted in). */
export const SYSFS_LINKS: LinkView = { ports: bridgePorts, alias: aliasOf };

/** A view of one listing of the links ({@linkcode Rtnl.links}). */
export function linkView(links: readonly LinkInfo[]): LinkView {
  const byName = new Map(links.map((l) => [l.name, l]));
  return {
    ports(dev) {
      const br = byName.get(dev);
      if (br === undefined || br.kind !== "bridge") return null;
      return links.filter((l) => l.master === br.index).map((l) => l.name);
    },
    alias: (dev) => byName.get(dev)?.alias ?? "",
  };
}

/**
 * The links of the current network namespace, through rtnetlink (right
 * where sysfs shows another namespace's: `unshare --net` without a new
 * sysfs); null where it cannot be read.
 */
export function listLinks(): LinkInfo[] | null {
  let rtnl: Rtnl;
  try {
    rtnl = Rtnl.open();
  } catch {
    return null;
  }
  try {
    return rtnl.links();
  } catch {
    return null;
  } finally {
    rtnl.close();
  }
}

/**
 * {@linkcode linkView} of {@linkcode listLinks} (or sysfs where that
 * fails), listed on its first question: a check that asks none lists nothing.
 */
export function currentLinks(): LinkView {
  let view: LinkView | null = null;
  const get = () => {
    if (view === null) {
      const links = listLinks();
      view = links === null ? SYSFS_LINKS : linkView(links);
    }
    return view;
  };
  return { ports: (dev) => get().ports(dev), alias: (dev) => get().alias(dev) };
}

/** The alias berth gives the bridges of network directory `dir`. */
export function bridgeAlias(dir: string): string {
  return `berth:${dir}`;
}

/** The ports of bridge `dev` (null when it is no bridge of this namespace's sysfs). */
export function bridgePorts(dev: string): string[] | null {
  try {
    return [...Deno.readDirSync(`/sys/class/net/${dev}/brif`)].map((e) => e.name);
  } catch {
    return null;
  }
}

function aliasOf(dev: string): string {
  try {
    return Deno.readTextFileSync(`/sys/class/net/${dev}/ifalias`).trim();
  } catch {
    return "";
  }
}

/** The network directory bridge `dev`'s alias names (null: none). */
export function aliasDir(dev: string, view: LinkView = SYSFS_LINKS): string | null {
  const alias = view.alias(dev);
  return alias.startsWith("berth:/") ? alias.slice("berth:".length) : null;
}

/** True when the directory `dev`'s alias names still has a definition naming `dev`. */
function claimedElsewhere(dev: string, view: LinkView): boolean {
  const dir = aliasDir(dev, view);
  if (dir === null) return false;
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".conflist")).map((e) =>
      e.name
    );
  } catch {
    return false;
  }
  return names.some((n) => {
    try {
      const conf = JSON.parse(Deno.readTextFileSync(join(dir, n))) as {
        plugins?: { type?: unknown; bridge?: unknown }[];
      };
      return (conf.plugins ?? []).some((p) => p.type === "bridge" && p.bridge === dev);
    } catch {
      return false;
    }
  });
}

/**
 * True for a `bth-*` bridge with no port that none of `defined` names, nor
 * a definition of the network directory its alias names.
 */
export function isStaleBridge(
  dev: string,
  defined: ReadonlySet<string>,
  view: LinkView = SYSFS_LINKS,
): boolean {
  if (!dev.startsWith("bth-") || defined.has(dev)) return false;
  if (view.ports(dev)?.length !== 0) return false;
  return !claimedElsewhere(dev, view);
}

/** Deletes bridge `dev` (gone already is no error). */
export async function removeBridgeDevice(runner: ProcessRunner, dev: string): Promise<void> {
  await runner.exec({ argv: ["ip", "link", "delete", dev, "type", "bridge"], timeoutMs: 10_000 });
}

/** Marks bridge `dev` as network directory `dir`'s (once: a read of sysfs when it is). */
export async function markBridge(runner: ProcessRunner, dev: string, dir: string): Promise<void> {
  if (aliasOf(dev) === bridgeAlias(dir)) return;
  await runner.exec({
    argv: ["ip", "link", "set", "dev", dev, "alias", bridgeAlias(dir)],
    timeoutMs: 10_000,
  });
}
