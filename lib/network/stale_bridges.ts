/**
 * Stale berth bridges: a `bth-*` device that no network definition names
 * and that has no port (no container's veth) is left over: by a network
 * directory removed by hand, a root of an older berth (whose bridge names
 * carried the data root), a `network rm` killed midway. Such a bridge
 * still routes its subnet, and would block every later network on it;
 * berth removes it where it is in the way, and never any other device.
 *
 * @module
 */

import type { ProcessRunner } from "../host/process.ts";

/** The ports of bridge `dev` (null when it is no bridge of this namespace's sysfs). */
export function bridgePorts(dev: string): string[] | null {
  try {
    return [...Deno.readDirSync(`/sys/class/net/${dev}/brif`)].map((e) => e.name);
  } catch {
    return null;
  }
}

/** True for a `bth-*` bridge with no port that none of `defined` names. */
export function isStaleBridge(dev: string, defined: ReadonlySet<string>): boolean {
  if (!dev.startsWith("bth-") || defined.has(dev)) return false;
  return bridgePorts(dev)?.length === 0;
}

/** Deletes bridge `dev` (gone already is no error). */
export async function removeBridgeDevice(runner: ProcessRunner, dev: string): Promise<void> {
  await runner.exec({ argv: ["ip", "link", "delete", dev, "type", "bridge"], timeoutMs: 10_000 });
}
