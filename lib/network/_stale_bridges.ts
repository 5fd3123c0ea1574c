/**
 * Stale berth bridges: a `bth-*` device that no network definition names
 * and that has no port (no container's veth) is left over: by a network
 * directory removed by hand, a root of an older berth (whose bridge names
 * carried the data root), a `network rm` killed midway. Such a bridge
 * still routes its subnet, and would block every later network on it;
 * berth removes it where it is in the way, and never any other device.
 *
 * Which definitions count: those of the asking network directory, and
 * those of the directory the bridge itself names. berth marks each bridge
 * it uses with its network directory (the device's alias, `berth:DIR`), so
 * the idle bridge of another directory that still defines it (tests that
 * move `--network-dir`, several at once) is never taken for stale.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { ProcessRunner } from "../host/process.ts";

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

/** True when the directory `dev`'s alias names still has a definition naming `dev`. */
function claimedElsewhere(dev: string): boolean {
  const alias = aliasOf(dev);
  if (!alias.startsWith("berth:/")) return false;
  const dir = alias.slice("berth:".length);
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
export function isStaleBridge(dev: string, defined: ReadonlySet<string>): boolean {
  if (!dev.startsWith("bth-") || defined.has(dev)) return false;
  if (bridgePorts(dev)?.length !== 0) return false;
  return !claimedElsewhere(dev);
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
