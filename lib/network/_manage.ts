/**
 * `network create|ls|inspect|rm`: the work behind the commands, under the
 * root's network lock (so a create never races an `rm` of its network,
 * and two `network create`s never pick overlapping subnets).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { InvalidArgument, isNotFound, WrongState } from "../host/errors.ts";
import { join } from "../_std/path.ts";
import { type AttachRecord, withNetworkLock } from "./_attach.ts";
import { iptablesInstalled, NetworkFirewall } from "./_firewall.ts";
import { leaseLive, listLeases, removeLease } from "./_leases.ts";
import {
  contextNetworkPaths,
  createNetwork,
  DEFAULT_NETWORK,
  ensureNetwork,
  ipamDir,
  listNetworks,
  loadNetwork,
  migrateLegacy,
  type Network,
  parseSubnetOption,
  removeNetworkFile,
} from "./_networks.ts";
import { removeBridgeDevice } from "./_stale_bridges.ts";
import type { PortMapping } from "./_ports.ts";

/** What `network create` is given beside the name. */
export interface CreateFlags {
  subnet: string | null;
  /** `--gateway` (with `--subnet`), or null: the subnet's first host. */
  gateway?: string | null;
  internal: boolean;
  disableDns: boolean;
}

/** `network create [--subnet CIDR] [--internal] [--disable-dns] NAME`. */
export async function networkCreate(
  ctx: Context,
  name: string,
  o: CreateFlags,
): Promise<Network> {
  const s = o.subnet === null ? null : parseSubnetOption(o.subnet);
  if (o.gateway && s === null) throw new InvalidArgument("--gateway goes with --subnet");
  const p = contextNetworkPaths(ctx);
  return await withNetworkLock(p, async () => {
    // `bridge` settles its subnet first: a new network never takes it.
    await ensureNetwork(p, ctx.runner, DEFAULT_NETWORK);
    return await createNetwork(p, name, s, {
      internal: o.internal,
      dnsEnabled: !o.disableDns,
      ...(o.gateway ? { gateway: o.gateway } : {}),
    });
  });
}

/** What `network inspect` prints for one network. */
export interface NetworkView {
  name: string;
  driver: "bridge";
  subnet: string;
  gateway: string;
  bridge: string;
  internal: boolean;
  dns_enabled: boolean;
  /** The conflist (null for the built-in `bridge`). */
  config: string | null;
  /** The containers on it, of every root. */
  containers: { namespace: string; id: string; ports: PortMapping[] }[];
}

/** Every network, with the containers of every root on it. */
export async function networkList(ctx: Context): Promise<NetworkView[]> {
  const p = contextNetworkPaths(ctx);
  return await withNetworkLock(p, async () => {
    await ensureNetwork(p, ctx.runner, DEFAULT_NETWORK);
    const leases = listLeases(p.runDir).filter(leaseLive);
    return listNetworks(p).map((n) => ({
      name: n.name,
      driver: "bridge",
      subnet: n.subnet,
      gateway: n.gateway,
      bridge: n.bridge,
      internal: n.internal,
      dns_enabled: n.dnsEnabled,
      config: n.file,
      containers: leases.filter((l) => l.network === n.name).map((l) => ({
        namespace: l.ns,
        id: l.id,
        ports: recordPorts(l.record),
      })),
    }));
  });
}

function recordPorts(record: string): PortMapping[] {
  try {
    const r = JSON.parse(Deno.readTextFileSync(record)) as Partial<AttachRecord>;
    return Array.isArray(r.ports) ? r.ports : [];
  } catch {
    return []; // removed meanwhile: none
  }
}

/** `network inspect NAME...`. */
export async function networkInspect(ctx: Context, names: string[]): Promise<NetworkView[]> {
  const all = await networkList(ctx);
  return names.map((name) => {
    const v = all.find((n) => n.name === name);
    if (v === undefined) {
      loadNetwork(contextNetworkPaths(ctx), name); // throws the usual error for a bad or unknown name
      throw new InvalidArgument(`unknown network "${name}"`);
    }
    return v;
  });
}

/**
 * `network rm NAME`: refused (exit 5) while a container of any root is
 * attached; removes its bridge device, its firewall rule (and berth's
 * chains with the last berth bridge), its addresses, the dead leases on
 * it and the conflist.
 */
export async function networkRemove(ctx: Context, name: string): Promise<void> {
  const p = contextNetworkPaths(ctx);
  if (name === DEFAULT_NETWORK) {
    throw new InvalidArgument(`network "${DEFAULT_NETWORK}" is built in and cannot be removed`);
  }
  await withNetworkLock(p, async () => {
    await migrateLegacy(p);
    const net = loadNetwork(p, name);
    if (net.file === null) throw new InvalidArgument(`unknown network "${name}"`);
    const leases = listLeases(p.runDir).filter((l) => l.network === name);
    const user = leases.find(leaseLive);
    if (user !== undefined) {
      throw new WrongState(`cannot remove network "${name}": container "${user.id}" uses it`);
    }
    // The device first: killed midway, the network is still there (its
    // bridge is made again on next use), never a device without a network.
    const device = async () => {
      await removeBridgeDevice(ctx.runner, net.bridge);
      crashPoint(ctx.crashAt, "network-rm:device");
    };
    if (iptablesInstalled()) await new NetworkFirewall(ctx.runner).removeBridge(net.bridge, device);
    else await device();
    try {
      Deno.removeSync(join(ipamDir(p), name), { recursive: true });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    for (const l of leases) removeLease(p.runDir, l.token);
    removeNetworkFile(p, name);
  });
}

/**
 * `network prune` (and `system prune`): removes every network but `bridge`
 * that no container of any root uses, one at a time through
 * {@linkcode networkRemove}, which checks again under the lock: a network
 * taken into use (or removed) meanwhile is skipped. Returns the names
 * removed.
 */
export async function networkPrune(ctx: Context): Promise<string[]> {
  const p = contextNetworkPaths(ctx);
  const candidates = await withNetworkLock(p, async () => {
    await migrateLegacy(p);
    const used = new Set(listLeases(p.runDir).filter(leaseLive).map((l) => l.network));
    return listNetworks(p).map((n) => n.name).filter((n) => n !== DEFAULT_NETWORK && !used.has(n));
  });
  const removed: string[] = [];
  for (const name of candidates) {
    try {
      await networkRemove(ctx, name);
      removed.push(name);
    } catch (err) {
      if (!(err instanceof WrongState || err instanceof InvalidArgument)) throw err;
    }
  }
  return removed;
}
