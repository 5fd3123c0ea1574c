/**
 * Bridge networks, host-wide: one CNI configuration list per network in
 * `--network-dir` (`NAME.conflist`), shared by every root and namespace on
 * the host. Each network is the chain bridge (gateway, default route, IP
 * masquerade unless internal, host-local IPAM) → portmap → firewall. The
 * IPAM `dataDir` is injected at load time: the network directory's runtime
 * directory (`_host_paths.ts`), so addresses are unique across all roots.
 *
 * `bridge` always exists: its definition is written on first use, on
 * 10.88.0.0/16 unless that is taken, else on the first free /16 from
 * 10.90.0.0/16 (`_subnet_choice.ts`); it moves when another interface takes
 * its subnet while no container uses it ({@linkcode ensureNetwork}).
 *
 * Bridge device names carry a hash of the network directory and the
 * network name, never of a root: every root's containers on one network
 * share its bridge.
 *
 * Definitions of an older berth lived per data root (`--data-root/
 * networks`): they are moved into the network directory on first use
 * ({@linkcode migrateLegacy}), keeping their bridge names, so their
 * running containers stay on the same bridge.
 *
 * @module
 */

import { writeFileAtomic } from "../host/atomic_file.ts";
import { InvalidArgument, isNotFound, NotFound, RuntimeError } from "../host/errors.ts";
import { join } from "../_std/path.ts";
import { rootTag } from "../container/paths.ts";
import type { ProcessRunner } from "../host/process.ts";
import type { ConfList } from "./_cni.ts";
import { CNI_VERSION } from "./_cni.ts";
import { hostNetworkPaths, secureNetworkDir } from "./_host_paths.ts";
import { leaseLive, listLeases, writeLease } from "./_leases.ts";
import { readRoutes, type Route } from "./_routes.ts";
import { iptablesInstalled, NetworkFirewall } from "./_firewall.ts";
import {
  currentLinks,
  isStaleBridge,
  type LinkView,
  removeBridgeDevice,
} from "./_stale_bridges.ts";
import {
  contains,
  formatSubnet,
  gatewayOf,
  overlaps,
  parseCidr,
  parseIpv4,
  reservedOverlap,
  type Subnet,
} from "./_subnet.ts";
import { bridgeCandidates, firstFree, networkCandidates, podmanSubnets } from "./_subnet_choice.ts";

/** The network every container joins unless told otherwise. */
export const DEFAULT_NETWORK = "bridge";
/** Its preferred subnet (podman's). */
export const DEFAULT_SUBNET = "10.88.0.0/16";

/** Where networks live, for one root. */
export interface NetworkPaths {
  /** `--network-dir`: the definitions (host-wide). */
  configDir: string;
  /** Beside it: IPAM, leases, the host-wide lock (`_host_paths.ts`). */
  runDir: string;
  /** `--root/networks`: the root's attachment records and namespace files. */
  stateDir: string;
  /** `--data-root/networks`: an older berth's per-root definitions, migrated on use. */
  legacyDir: string;
}

/** The network paths of a root pair and a network directory. */
export function networkPaths(root: string, dataRoot: string, networkDir: string): NetworkPaths {
  const host = hostNetworkPaths(networkDir);
  return {
    configDir: host.configDir,
    runDir: host.runDir,
    stateDir: join(root, "networks"),
    legacyDir: join(dataRoot, "networks"),
  };
}

/** The network paths of a command's context. */
export function contextNetworkPaths(
  ctx: { paths: { root: string; dataRoot: string }; globals: { networkDir: string } },
): NetworkPaths {
  secureNetworkDir(ctx.globals.networkDir);
  return networkPaths(ctx.paths.root, ctx.paths.dataRoot, ctx.globals.networkDir);
}

/** A network as berth sees it. */
export interface Network {
  name: string;
  subnet: string;
  gateway: string;
  /** The bridge device. */
  bridge: string;
  /** The conflist file, or null for `bridge` before its definition is written. */
  file: string | null;
  /** The conflist, with the IPAM dataDir filled in. */
  conf: ConfList;
  /** No route out, no masquerade (`network create --internal`). */
  internal: boolean;
  /** Containers on it resolve each other's names (false with `--disable-dns`, and on `bridge`). */
  dnsEnabled: boolean;
}

/** What a definition says beside its subnet. */
export interface NetworkFlags {
  internal: boolean;
  dnsEnabled: boolean;
  /** The gateway (`--gateway`; absent: the subnet's first host). */
  gateway?: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Checks a network name given to `network create`. */
export function validateNetworkName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new InvalidArgument(
      `invalid network name "${name}": use letters, digits, _ . - (at most 63, not starting with _ . -)`,
    );
  }
  if (name === "none" || name === "host") {
    throw new InvalidArgument(`"${name}" is a network mode, not a network name`);
  }
  return name;
}

/**
 * The tag in the comment of the firewall rules of a network directory's
 * networks (_firewall.ts), so `gc` tells its own from another directory's.
 */
export function firewallTag(p: NetworkPaths): string {
  return rootTag(p.configDir);
}

/** The bridge device of network `name` in network directory `networkDir` (≤ 15 bytes). */
export function bridgeName(networkDir: string, name: string): string {
  return `bth-${rootTag(`${hostNetworkPaths(networkDir).configDir}\0${name}`)}`;
}

/** The conflist of a bridge network (without the injected dataDir). */
export function buildConfList(
  name: string,
  subnet: Subnet,
  bridge: string,
  flags: NetworkFlags = { internal: false, dnsEnabled: name !== DEFAULT_NETWORK },
): ConfList {
  return {
    cniVersion: CNI_VERSION,
    name,
    internal: flags.internal,
    dnsEnabled: flags.dnsEnabled,
    plugins: [
      {
        type: "bridge",
        bridge,
        // The gateway address stays on the bridge (the host side, where a
        // resolver answers); an internal network gets no default route and
        // no masquerade, and berth's firewall drops what it forwards out.
        isGateway: true,
        isDefaultGateway: !flags.internal,
        ipMasq: !flags.internal,
        hairpinMode: true,
        capabilities: { ips: true },
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: formatSubnet(subnet), gateway: flags.gateway ?? gatewayOf(subnet) }]],
        },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
      { type: "firewall" },
    ],
  } as ConfList;
}

function confFile(p: NetworkPaths, name: string): string {
  return join(p.configDir, `${name}.conflist`);
}

/** The host-wide IPAM dataDir. */
export function ipamDir(p: NetworkPaths): string {
  return join(p.runDir, "ipam");
}

/** The IPAM dataDir a conflist was run with (null when it names none). */
export function dataDirOf(conf: ConfList): string | null {
  const bridge = conf.plugins.find((pl) => pl.type === "bridge");
  const d = (bridge?.ipam as { dataDir?: unknown } | undefined)?.dataDir;
  return typeof d === "string" ? d : null;
}

function withDataDir(p: NetworkPaths, conf: ConfList): ConfList {
  const plugins = conf.plugins.map((pl) => {
    if (pl.type !== "bridge") return pl;
    const ipam = { ...(pl.ipam as Record<string, unknown>), dataDir: ipamDir(p) };
    // Definitions of an older berth lack the capability --ip needs.
    const capabilities = { ...(pl.capabilities as Record<string, unknown> ?? {}), ips: true };
    return { ...pl, capabilities, ipam };
  });
  return { ...conf, plugins };
}

function describe(p: NetworkPaths, conf: ConfList, file: string | null): Network {
  const bridge = conf.plugins.find((pl) => pl.type === "bridge");
  const range = ((bridge?.ipam as { ranges?: { subnet?: string; gateway?: string }[][] })
    ?.ranges?.[0]?.[0]) ?? {};
  if (bridge === undefined || typeof bridge.bridge !== "string" || !range.subnet) {
    throw new RuntimeError(`network "${conf.name}": ${file} is not a berth bridge network`);
  }
  const extra = conf as ConfList & { internal?: unknown; dnsEnabled?: unknown };
  return {
    name: conf.name,
    subnet: range.subnet,
    gateway: range.gateway ?? "",
    bridge: bridge.bridge,
    file,
    conf: withDataDir(p, conf),
    internal: extra.internal === true,
    dnsEnabled: typeof extra.dnsEnabled === "boolean"
      ? extra.dnsEnabled
      : conf.name !== DEFAULT_NETWORK,
  };
}

/** `bridge` before its definition is written: on its preferred subnet. */
function provisionalBridge(p: NetworkPaths): Network {
  const subnet = parseCidr(DEFAULT_SUBNET)!;
  return describe(
    p,
    buildConfList(DEFAULT_NETWORK, subnet, bridgeName(p.configDir, DEFAULT_NETWORK)),
    null,
  );
}

function readDefinition(p: NetworkPaths, file: string, name: string): Network | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  let conf: ConfList;
  try {
    conf = JSON.parse(text);
  } catch {
    throw new RuntimeError(`network "${name}": ${file} is not valid JSON`);
  }
  if (conf.name !== name || !Array.isArray(conf.plugins)) {
    throw new RuntimeError(`network "${name}": ${file} is not a conflist for "${name}"`);
  }
  return describe(p, conf, file);
}

/**
 * Loads network `name` (InvalidArgument when there is none). `bridge`
 * always loads: before its definition is written, on its preferred subnet
 * ({@linkcode ensureNetwork} writes it).
 */
export function loadNetwork(p: NetworkPaths, name: string): Network {
  if (!NAME_RE.test(name)) throw new InvalidArgument(`unknown network "${name}"`);
  const net = readDefinition(p, confFile(p, name), name) ??
    readDefinition(p, join(p.legacyDir, `${name}.conflist`), name);
  if (net !== null) return net.file?.startsWith(p.legacyDir + "/") ? { ...net, file: null } : net;
  if (name === DEFAULT_NETWORK) return provisionalBridge(p);
  throw new InvalidArgument(`unknown network "${name}"`);
}

function definedNames(dir: string): string[] {
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && e.name.endsWith(".conflist")) {
        const n = e.name.slice(0, -".conflist".length);
        if (NAME_RE.test(n)) names.push(n);
      }
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return names;
}

/** Every network of the network directory: `bridge` first, then the others by name. */
export function listNetworks(p: NetworkPaths): Network[] {
  const names = definedNames(p.configDir).filter((n) => n !== DEFAULT_NETWORK).sort();
  const bridge = readDefinition(p, confFile(p, DEFAULT_NETWORK), DEFAULT_NETWORK) ??
    provisionalBridge(p);
  return [bridge, ...names.map((n) => readDefinition(p, confFile(p, n), n)!).filter((n) => n)];
}

/**
 * Moves an older berth's per-root definitions (`--data-root/networks`)
 * into the network directory, keeping their bridge names (their running
 * containers stay on them): a name already defined there, with the same
 * subnet, is the same network (the old file goes); one that clashes
 * (another subnet under that name, or a subnet another network holds)
 * stays where it is, renamed `NAME.conflist.unmigrated`. The caller holds
 * the host-wide network lock. Killed midway, the next use finishes it.
 */
export async function migrateLegacy(p: NetworkPaths): Promise<string[]> {
  const names = definedNames(p.legacyDir);
  if (names.length === 0 || p.legacyDir === p.configDir) return [];
  const moved: string[] = [];
  for (const name of names) {
    const old = join(p.legacyDir, `${name}.conflist`);
    let net: Network | null = null;
    try {
      net = readDefinition(p, old, name);
    } catch { /* not a berth network: set aside below */ }
    const existing = listNetworks(p).filter((n) => n.file !== null);
    const same = existing.find((n) => n.name === name);
    if (net !== null && same?.subnet === net.subnet) {
      await adoptAttachments(p, name);
      Deno.removeSync(old);
      continue;
    }
    const clash = net === null || same !== undefined ||
      existing.some((n) => overlaps(parseCidr(n.subnet)!, parseCidr(net!.subnet)!));
    if (clash) {
      Deno.renameSync(old, `${old}.unmigrated`);
      continue;
    }
    Deno.mkdirSync(p.configDir, { recursive: true, mode: 0o755 });
    await writeFileAtomic(confFile(p, name), Deno.readTextFileSync(old), { mode: 0o644 });
    await adoptAttachments(p, name);
    Deno.removeSync(old);
    moved.push(name);
  }
  return moved;
}

/**
 * The root's attachments on a network being migrated become host-wide:
 * a lease each, and their addresses copied into the host-wide IPAM, so
 * no container of any root is given an address one of them still holds,
 * and `network rm` sees them. Can run again (a migration killed midway).
 */
async function adoptAttachments(p: NetworkPaths, name: string): Promise<void> {
  const dir = join(p.stateDir, "attach");
  for (const file of namesIn(dir)) {
    const token = file.slice(0, -".json".length);
    if (!file.endsWith(".json") || !/^[0-9a-f]{16}(?:[0-9a-f]{8})?$/.test(token)) continue;
    let r: { network?: unknown; ns?: unknown; id?: unknown; conf?: ConfList };
    try {
      r = JSON.parse(Deno.readTextFileSync(join(dir, file)));
    } catch {
      continue;
    }
    if (r.network !== name || typeof r.ns !== "string" || typeof r.id !== "string") continue;
    await writeLease(p.runDir, {
      token,
      network: name,
      record: join(dir, file),
      ns: r.ns,
      id: r.id,
    });
    const from = r.conf === undefined ? null : dataDirOf(r.conf);
    if (from === null || from === ipamDir(p)) continue;
    for (const ip of namesIn(join(from, name))) {
      if (!/^[0-9.]+$/.test(ip)) continue;
      const text = Deno.readTextFileSync(join(from, name, ip));
      if (text.split(/\r?\n/)[0]?.trim() !== `berth-${token}`) continue;
      Deno.mkdirSync(join(ipamDir(p), name), { recursive: true, mode: 0o755 });
      try {
        Deno.writeTextFileSync(join(ipamDir(p), name, ip), text, { createNew: true, mode: 0o644 });
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      }
    }
  }
}

function namesIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** Bridges the definitions name. */
function definedBridges(nets: Network[]): Set<string> {
  return new Set(nets.map((n) => n.bridge));
}

/**
 * The subnets taken for network `self` (null: a new one): routes of
 * interfaces other than its bridge (stale berth bridges aside, see
 * {@linkcode removeStaleInTheWay}), the other definitions, podman's.
 */
function takenSubnets(
  nets: Network[],
  self: Network | null,
  routes: Route[],
  podman: Subnet[],
  links: LinkView = currentLinks(),
): Subnet[] {
  const defined = definedBridges(nets);
  return [
    ...routes.filter((r) =>
      r.dest.bits > 0 && r.iface !== self?.bridge && !isStaleBridge(r.iface, defined, links)
    ).map((r) => r.dest),
    ...nets.filter((n) => n.name !== self?.name && n.file !== null).map((n) =>
      parseCidr(n.subnet)!
    ),
    ...podman,
  ];
}

/**
 * Deletes the stale berth bridges (`_stale_bridges.ts`) that route part of
 * `subnet`, each with its rules (as `network rm`: the device first, then
 * its rules, under the firewall lock; killed between, `gc` removes the
 * rules of a device that is gone).
 */
export async function removeStaleInTheWay(
  runner: ProcessRunner,
  nets: Network[],
  subnet: Subnet,
  routes: Route[] = readRoutes(),
  links: LinkView = currentLinks(),
): Promise<string[]> {
  const defined = definedBridges(nets);
  const out: string[] = [];
  for (const r of routes) {
    if (r.dest.bits === 0 || !overlaps(r.dest, subnet) || out.includes(r.iface)) continue;
    if (!isStaleBridge(r.iface, defined, links)) continue;
    const device = () => removeBridgeDevice(runner, r.iface);
    if (iptablesInstalled()) await new NetworkFirewall(runner).removeBridge(r.iface, device);
    else await device();
    out.push(r.iface);
  }
  return out;
}

/** True while a live lease (any root's container) holds network `name`. */
export function networkInUse(p: NetworkPaths, name: string): boolean {
  return listLeases(p.runDir).some((l) => l.network === name && leaseLive(l));
}

/**
 * Network `name`, ready for a container (the caller holds the host-wide
 * network lock): an older berth's definitions migrated; stale berth
 * bridges on its subnet removed; `bridge`'s definition written on first
 * use, and moved to a free subnet when its own is taken (routed by
 * another interface, defined by podman) while no container uses it.
 */
export async function ensureNetwork(
  p: NetworkPaths,
  runner: ProcessRunner,
  name: string,
  podman: () => Subnet[] = () => podmanSubnets(),
): Promise<Network> {
  await migrateLegacy(p);
  const nets = listNetworks(p);
  let net = nets.find((n) => n.name === name) ?? loadNetwork(p, name);
  const routes = readRoutes();
  const links = currentLinks();
  if (name === DEFAULT_NETWORK) {
    const taken = takenSubnets(nets, net, routes, podman(), links);
    const current = parseCidr(net.subnet)!;
    const free = !taken.some((t) => overlaps(t, current));
    if (net.file === null || (!free && !networkInUse(p, name))) {
      const s = firstFree(bridgeCandidates(), taken);
      if (s === null) {
        throw new RuntimeError(
          `network "${name}": no free subnet in 10.88.0.0/16 or 10.90.0.0/16 … 10.255.0.0/16`,
        );
      }
      if (net.file !== null) {
        // Moving: the device still holds the old gateway and its route.
        await removeBridgeDevice(runner, net.bridge);
      }
      const conf = buildConfList(name, s, net.bridge);
      Deno.mkdirSync(p.configDir, { recursive: true, mode: 0o755 });
      const file = confFile(p, name);
      await writeFileAtomic(file, JSON.stringify(conf, null, 2) + "\n", { mode: 0o644 });
      net = describe(p, conf, file);
    }
  }
  await removeStaleInTheWay(runner, nets, parseCidr(net.subnet)!, routes, links);
  return net;
}

/**
 * Parses `--subnet`: a canonical IPv4 CIDR with room for a gateway and
 * hosts, clear of every reserved range (`RESERVED_SUBNETS` of _subnet.ts).
 */
export function parseSubnetOption(text: string): Subnet {
  const s = parseCidr(text);
  if (s === null) {
    throw new InvalidArgument(
      `invalid subnet "${text}": expected an IPv4 network like 10.90.0.0/24 (host bits zero)`,
    );
  }
  const reserved = reservedOverlap(s);
  if (reserved !== null) {
    throw new InvalidArgument(
      `invalid subnet "${text}": it overlaps ${
        formatSubnet(reserved.subnet)
      } (${reserved.what}), which a bridge network may not route`,
    );
  }
  if (s.bits < 8 || s.bits > 29) {
    throw new InvalidArgument(`invalid subnet "${text}": the prefix must be /8 to /29`);
  }
  return s;
}

/**
 * Writes NAME's conflist. The caller holds the host-wide network lock.
 * Refuses an existing name and a subnet overlapping another network's
 * (exit 2). Without `subnet`: the first /24 of 10.89.0.0/16 that is not
 * taken (`_subnet_choice.ts`).
 */
export async function createNetwork(
  p: NetworkPaths,
  name: string,
  subnet: Subnet | null,
  flags: NetworkFlags = { internal: false, dnsEnabled: true },
  podman: () => Subnet[] = () => podmanSubnets(),
): Promise<Network> {
  validateNetworkName(name);
  await migrateLegacy(p);
  const existing = listNetworks(p);
  if (existing.some((n) => n.name === name)) {
    throw new InvalidArgument(`network "${name}" already exists`);
  }
  const s = subnet ??
    firstFree(networkCandidates(), takenSubnets(existing, null, readRoutes(), podman()));
  if (s === null) throw new RuntimeError("no free subnet in 10.89.0.0/16: give --subnet");
  const clash = existing.find((n) => n.file !== null && overlaps(parseCidr(n.subnet)!, s));
  if (clash !== undefined) {
    throw new InvalidArgument(
      `subnet ${formatSubnet(s)} overlaps network "${clash.name}" (${clash.subnet})`,
    );
  }
  if (flags.gateway !== undefined) checkGateway(s, flags.gateway);
  const conf = buildConfList(name, s, bridgeName(p.configDir, name), flags);
  Deno.mkdirSync(p.configDir, { recursive: true, mode: 0o755 });
  const file = confFile(p, name);
  await writeFileAtomic(file, JSON.stringify(conf, null, 2) + "\n", { mode: 0o644 });
  return describe(p, conf, file);
}

/** `--gateway`: a host address of the subnet (not its network or broadcast address). */
function checkGateway(s: Subnet, gateway: string): void {
  const ip = parseIpv4(gateway);
  const last = (s.base + 2 ** (32 - s.bits) - 1) >>> 0;
  if (ip === null || !contains(s, ip) || ip === s.base || ip === last) {
    throw new InvalidArgument(
      `invalid gateway "${gateway}": expected a host address of ${formatSubnet(s)}`,
    );
  }
}

/** Removes NAME's conflist (the caller checked that nothing uses it). */
export function removeNetworkFile(p: NetworkPaths, name: string): void {
  if (name === DEFAULT_NETWORK) {
    throw new InvalidArgument(`network "${DEFAULT_NETWORK}" is built in and cannot be removed`);
  }
  try {
    Deno.removeSync(confFile(p, name));
  } catch (err) {
    if (isNotFound(err)) throw new NotFound(`network "${name}" not found`);
    throw err;
  }
}
