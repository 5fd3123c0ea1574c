/**
 * Named bridge networks: one CNI configuration list per network under
 * `--data-root/networks/NAME.conflist` (`bridge`, 10.88.0.0/16, always
 * exists and is never written). Each network is the chain bridge (gateway,
 * default route, IP masquerade, host-local IPAM) → portmap → firewall. The
 * IPAM `dataDir` is injected at load time, under `--root`, so address
 * state never lands in /var/lib/cni and belongs to one root.
 *
 * Bridge device names carry a hash of the data root and the network name:
 * several roots on one host (tests in parallel) never share a bridge.
 *
 * @module
 */

import { writeFileAtomic } from "../host/atomic_file.ts";
import { InvalidArgument, isNotFound, NotFound, RuntimeError } from "../host/errors.ts";
import { join } from "../_std/path.ts";
import { rootTag } from "../container/paths.ts";
import type { ConfList } from "./cni.ts";
import { CNI_VERSION } from "./cni.ts";
import { readRoutes } from "./routes.ts";
import {
  formatSubnet,
  gatewayOf,
  overlaps,
  parseCidr,
  reservedOverlap,
  type Subnet,
} from "./subnet.ts";

/** The network every container joins unless told otherwise. */
export const DEFAULT_NETWORK = "bridge";
/** Its subnet (podman's). */
export const DEFAULT_SUBNET = "10.88.0.0/16";

/** Where a root keeps its networks. */
export interface NetworkPaths {
  /** `--data-root/networks`: the conflists. */
  configDir: string;
  /** `--root/networks`: IPAM, attachments, namespace files, the lock. */
  stateDir: string;
  dataRoot: string;
}

/** The network paths of a root pair. */
export function networkPaths(root: string, dataRoot: string): NetworkPaths {
  return {
    configDir: join(dataRoot, "networks"),
    stateDir: join(root, "networks"),
    dataRoot,
  };
}

/** A network as berth sees it. */
export interface Network {
  name: string;
  subnet: string;
  gateway: string;
  /** The bridge device. */
  bridge: string;
  /** The conflist file, or null for the built-in `bridge`. */
  file: string | null;
  /** The conflist, with the IPAM dataDir filled in. */
  conf: ConfList;
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
 * The tag in the comment of the firewall rules of a root's networks
 * (firewall.ts), so `gc` tells its own from another root's.
 */
export function firewallTag(p: NetworkPaths): string {
  return rootTag(p.dataRoot);
}

/** The bridge device of network `name` in `dataRoot` (≤ 15 bytes). */
export function bridgeName(dataRoot: string, name: string): string {
  return `bth-${rootTag(`${dataRoot}\0${name}`)}`;
}

/** The conflist of a bridge network (without the injected dataDir). */
export function buildConfList(name: string, subnet: Subnet, bridge: string): ConfList {
  return {
    cniVersion: CNI_VERSION,
    name,
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: formatSubnet(subnet), gateway: gatewayOf(subnet) }]],
        },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
      { type: "firewall" },
    ],
  };
}

function confFile(p: NetworkPaths, name: string): string {
  return join(p.configDir, `${name}.conflist`);
}

/** The IPAM dataDir of a root. */
export function ipamDir(p: NetworkPaths): string {
  return join(p.stateDir, "ipam");
}

function withDataDir(p: NetworkPaths, conf: ConfList): ConfList {
  const plugins = conf.plugins.map((pl) => {
    if (pl.type !== "bridge") return pl;
    const ipam = { ...(pl.ipam as Record<string, unknown>), dataDir: ipamDir(p) };
    return { ...pl, ipam };
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
  return {
    name: conf.name,
    subnet: range.subnet,
    gateway: range.gateway ?? "",
    bridge: bridge.bridge,
    file,
    conf: withDataDir(p, conf),
  };
}

function builtin(p: NetworkPaths): Network {
  const subnet = parseCidr(DEFAULT_SUBNET)!;
  return describe(
    p,
    buildConfList(DEFAULT_NETWORK, subnet, bridgeName(p.dataRoot, DEFAULT_NETWORK)),
    null,
  );
}

/** Loads network `name`; NotFound-like InvalidArgument when there is none. */
export function loadNetwork(p: NetworkPaths, name: string): Network {
  if (name === DEFAULT_NETWORK) return builtin(p);
  if (!NAME_RE.test(name)) throw new InvalidArgument(`unknown network "${name}"`);
  const file = confFile(p, name);
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    if (isNotFound(err)) throw new InvalidArgument(`unknown network "${name}"`);
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

/** Every network: `bridge` first, then the others by name. */
export function listNetworks(p: NetworkPaths): Network[] {
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(p.configDir)) {
      if (e.isFile && e.name.endsWith(".conflist")) {
        const n = e.name.slice(0, -".conflist".length);
        if (NAME_RE.test(n) && n !== DEFAULT_NETWORK) names.push(n);
      }
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return [builtin(p), ...names.sort().map((n) => loadNetwork(p, n))];
}

/**
 * The first /24 of 10.89.0.0/16 (podman's range for new networks) that no
 * network of the root holds and no interface of the host routes, for
 * `network create` without `--subnet`.
 */
function freeSubnet(existing: Network[]): Subnet {
  const routed = readRoutes().filter((r) => r.dest.bits > 0).map((r) => r.dest);
  for (let i = 0; i < 256; i++) {
    const s = parseCidr(`10.89.${i}.0/24`)!;
    if (existing.some((n) => overlaps(parseCidr(n.subnet)!, s))) continue;
    if (!routed.some((r) => overlaps(r, s))) return s;
  }
  throw new RuntimeError("no free subnet in 10.89.0.0/16: give --subnet");
}

/**
 * Parses `--subnet`: a canonical IPv4 CIDR with room for a gateway and
 * hosts, clear of every reserved range (`RESERVED_SUBNETS` of subnet.ts).
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
 * Writes NAME's conflist. The caller holds the networks lock. Refuses an
 * existing name and a subnet overlapping another network's (exit 2).
 */
export async function createNetwork(
  p: NetworkPaths,
  name: string,
  subnet: Subnet | null,
): Promise<Network> {
  validateNetworkName(name);
  const existing = listNetworks(p);
  if (existing.some((n) => n.name === name)) {
    throw new InvalidArgument(`network "${name}" already exists`);
  }
  const s = subnet ?? freeSubnet(existing);
  const clash = existing.find((n) => overlaps(parseCidr(n.subnet)!, s));
  if (clash !== undefined) {
    throw new InvalidArgument(
      `subnet ${formatSubnet(s)} overlaps network "${clash.name}" (${clash.subnet})`,
    );
  }
  const conf = buildConfList(name, s, bridgeName(p.dataRoot, name));
  Deno.mkdirSync(p.configDir, { recursive: true, mode: 0o700 });
  const file = confFile(p, name);
  await writeFileAtomic(file, JSON.stringify(conf, null, 2) + "\n", { mode: 0o644 });
  return describe(p, conf, file);
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
