/**
 * `network create|ls|inspect|rm`: the work behind the commands, under the
 * root's network lock (so a create never races an `rm` of its network,
 * and two `network create`s never pick overlapping subnets).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { InvalidArgument, isNotFound, WrongState } from "../host/errors.ts";
import { join } from "../_std/path.ts";
import { listRecords, withNetworkLock } from "./attach.ts";
import { iptablesInstalled, NetworkFirewall } from "./firewall.ts";
import {
  createNetwork,
  DEFAULT_NETWORK,
  ipamDir,
  listNetworks,
  loadNetwork,
  type Network,
  networkPaths,
  parseSubnetOption,
  removeNetworkFile,
} from "./networks.ts";

function pathsOf(ctx: Context) {
  return networkPaths(ctx.paths.root, ctx.paths.dataRoot);
}

/** `network create [--subnet CIDR] NAME`. */
export async function networkCreate(
  ctx: Context,
  name: string,
  subnet: string | null,
): Promise<Network> {
  const s = subnet === null ? null : parseSubnetOption(subnet);
  const p = pathsOf(ctx);
  return await withNetworkLock(p, () => createNetwork(p, name, s));
}

/** What `network inspect` prints for one network. */
export interface NetworkView {
  name: string;
  driver: "bridge";
  subnet: string;
  gateway: string;
  bridge: string;
  /** The conflist (null for the built-in `bridge`). */
  config: string | null;
  containers: { namespace: string; id: string; ports: unknown[] }[];
}

/** Every network, with the containers on it. */
export function networkList(ctx: Context): NetworkView[] {
  const p = pathsOf(ctx);
  const records = listRecords(p);
  return listNetworks(p).map((n) => ({
    name: n.name,
    driver: "bridge",
    subnet: n.subnet,
    gateway: n.gateway,
    bridge: n.bridge,
    config: n.file,
    containers: records.filter((r) => r.network === n.name).map((r) => ({
      namespace: r.ns,
      id: r.id,
      ports: r.ports,
    })),
  }));
}

/** `network inspect NAME...`. */
export function networkInspect(ctx: Context, names: string[]): NetworkView[] {
  const all = networkList(ctx);
  return names.map((name) => {
    const v = all.find((n) => n.name === name);
    if (v === undefined) {
      loadNetwork(pathsOf(ctx), name); // throws the usual error for a bad or unknown name
      throw new InvalidArgument(`unknown network "${name}"`);
    }
    return v;
  });
}

/**
 * `network rm NAME`: refused (exit 5) while a container is attached;
 * removes its bridge device, its firewall rule (and berth's chains with
 * the last berth bridge), its IPAM directory and the conflist.
 */
export async function networkRemove(ctx: Context, name: string): Promise<void> {
  const p = pathsOf(ctx);
  if (name === DEFAULT_NETWORK) {
    throw new InvalidArgument(`network "${DEFAULT_NETWORK}" is built in and cannot be removed`);
  }
  await withNetworkLock(p, async () => {
    const net = loadNetwork(p, name);
    const users = listRecords(p).filter((r) => r.network === name);
    if (users.length > 0) {
      throw new WrongState(
        `cannot remove network "${name}": container "${users[0]!.id}" uses it`,
      );
    }
    // The device first: killed midway, the network is still there (its
    // bridge is made again on next use), never a device without a network.
    await removeBridge(ctx, net.bridge);
    if (iptablesInstalled()) await new NetworkFirewall(ctx.runner).removeBridge(net.bridge);
    try {
      Deno.removeSync(join(ipamDir(p), name), { recursive: true });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    removeNetworkFile(p, name);
  });
}

/**
 * Removes a bridge device berth's network made (the plugin never does);
 * none there is no error. Asks `ip`, not /sys/class/net: sysfs shows the
 * devices of the namespace it was mounted in, not always berth's own.
 */
async function removeBridge(ctx: Context, bridge: string): Promise<void> {
  await ctx.runner.exec({
    argv: ["ip", "link", "delete", bridge, "type", "bridge"],
    timeoutMs: 10_000,
  });
}
