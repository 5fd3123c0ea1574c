/**
 * berth's own set-up and tear-down of an attachment to one of its bridge
 * networks: what the CNI chain bridge (host-local) → portmap → firewall
 * and loopback make, made in-process: the address allocated on
 * host-local's files (`_host_local.ts`), the bridge, the veth pair, the
 * addresses and the default route over rtnetlink (`_rtnetlink.ts`). The
 * bridge and firewall plugins' per-container masquerade and accepts are
 * the network's, once (`_firewall.ts`, as netavark makes them): a
 * container without published ports has no rule of its own, and its
 * set-up runs no iptables at all where nf_tables' generation says nothing
 * changed since a listing showed the network's rules (`_nft_gen.ts`).
 * Published ports get portmap's rules, rule for rule
 * (`_native_rules.ts`), in one `iptables-restore --noflush` after one
 * `iptables-save` (none where the generation and the `.ports` note say
 * portmap's chains are there and the ports free). Tear-down removes them
 * in one restore, not waiting out its exit (a listing first only when that
 * fails: a set-up cut short); the namespace's removal takes the veth pair
 * with it (a shared namespace's is deleted here), then the address is
 * released. Records of an older berth (no `netRules`) keep their
 * per-container rules and tear-down.
 *
 * Everything is found again from the record and names derived from its
 * token (the host end of the veth is `bve` + the token's last 12 digits,
 * the chains are the plugins' `CNI-HASH`/`CNI-DN-HASH`, the address is
 * host-local's file naming the CNI container ID), so a tear-down after a
 * kill at any point of a set-up (or of a tear-down) removes what is there
 * and nothing else. The plugins' own DEL can remove what this made (and
 * `_stale_rules.ts` finds its rules by token), as this removes theirs.
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";
import { join } from "../_std/path.ts";
import type { ConfList } from "./_cni.ts";
import { closeFd, openFd } from "./_ffi.ts";
import type { NetworkFirewall, NetworkRules, Plan, Saved } from "./_firewall.ts";
import { planEnsureTables } from "./_firewall.ts";
import { allocate, allocatedTo, release } from "./_host_local.ts";
import {
  markCurrent,
  nftGeneration,
  PORTS_MARK,
  readMark,
  removeMark,
  writeMark,
} from "./_nft_gen.ts";
import {
  type ContainerRules,
  containerRules,
  mergeTables,
  planAdd,
  planDel,
  restoreInput,
  type RuleInput,
  sharedComplete,
  sharedOnly,
} from "./_native_rules.ts";
import type { PortMapping } from "./_ports.ts";
import type { CniResult } from "./_result.ts";
import { EEXIST, randomMac, Rtnl } from "./_rtnetlink.ts";
import { formatSubnet, parseCidr, type Subnet } from "./_subnet.ts";
import { ErrnoError } from "../host/libc.ts";

/** The bridge network a conflist describes, when berth can set it up itself. */
export interface NativeNet {
  name: string;
  bridge: string;
  subnet: Subnet;
  gateway: string;
  dataDir: string;
  isGateway: boolean;
  defaultRoute: boolean;
  masquerade: boolean;
  hairpin: boolean;
  portmap: boolean;
  firewall: boolean;
}

const BRIDGE_KEYS = new Set([
  "type",
  "bridge",
  "isGateway",
  "isDefaultGateway",
  "ipMasq",
  "hairpinMode",
  "capabilities",
  "ipam",
]);

/**
 * `conf` read as one of berth's bridge networks (its own shape: bridge
 * with host-local on one range, then portmap and firewall as berth writes
 * them); null for anything else, which the CNI plugins run.
 */
export function nativeNet(conf: ConfList): NativeNet | null {
  const [bridge, ...rest] = conf.plugins;
  if (bridge?.type !== "bridge" || typeof bridge.bridge !== "string") return null;
  if (Object.keys(bridge).some((k) => !BRIDGE_KEYS.has(k))) return null;
  const ipam = bridge.ipam as {
    type?: unknown;
    ranges?: { subnet?: unknown; gateway?: unknown }[][];
    dataDir?: unknown;
  } | undefined;
  if (ipam?.type !== "host-local" || typeof ipam.dataDir !== "string") return null;
  if (Object.keys(ipam).some((k) => !["type", "ranges", "dataDir"].includes(k))) return null;
  const range = ipam.ranges?.length === 1 && ipam.ranges[0]?.length === 1
    ? ipam.ranges[0][0]
    : undefined;
  const subnet = parseCidr(typeof range?.subnet === "string" ? range.subnet : "");
  if (subnet === null || typeof range?.gateway !== "string") return null;
  if (Object.keys(range!).some((k) => k !== "subnet" && k !== "gateway")) return null;
  let portmap = false;
  let firewall = false;
  for (const p of rest) {
    if (p.type === "portmap" && !portmap && p.snat === true) portmap = true;
    else if (p.type === "firewall" && !firewall && Object.keys(p).length === 1) firewall = true;
    else return null;
  }
  return {
    name: conf.name,
    bridge: bridge.bridge,
    subnet,
    gateway: range.gateway,
    dataDir: ipam.dataDir,
    isGateway: bridge.isGateway === true,
    defaultRoute: bridge.isDefaultGateway === true,
    masquerade: bridge.ipMasq === true,
    hairpin: bridge.hairpinMode === true,
    portmap,
    firewall,
  };
}

/** The host end of an attachment's veth pair (≤ 15 bytes, from its token). */
export function hostVeth(token: string): string {
  return `bve${token.slice(-12)}`;
}

/** What one set-up or tear-down works on. */
export interface NativeAttachment {
  net: NativeNet;
  containerId: string;
  token: string;
  netns: string;
  ifName: string;
  /** Whether the namespace is another attachment's (its loopback is up already). */
  sharedNetns: boolean;
  ports: PortMapping[];
  /** `--ip`'s address, when given. */
  ip: string | null;
  /**
   * The network's shared accepts and masquerade stand for the firewall and
   * bridge plugins' per-container rules (only published ports get rules of
   * their own); false: an older berth's attachment, with those rules.
   */
  netRules: boolean;
}

/** berth's own rules around the bridge, planned together with the container's. */
export interface BridgeRules {
  tag: string;
  internal: boolean;
}

function ruleInput(a: NativeAttachment, ip: string): RuleInput {
  return {
    network: a.net.name,
    containerId: a.containerId,
    ip,
    subnet: formatSubnet(a.net.subnet),
    masquerade: a.net.masquerade && !a.netRules,
    firewall: a.net.firewall && !a.netRules,
    ports: a.net.portmap ? a.ports : [],
  };
}

function writeSysctl(path: string, value: string): void {
  try {
    if (Deno.readTextFileSync(path).trim() === value) return;
  } catch { /* written below, or reported there */ }
  Deno.writeTextFileSync(path, value);
}

/**
 * Allocates the address (host-local's files): step one of a set-up, so
 * the record can carry it before anything else is made.
 */
export function nativeAllocate(a: NativeAttachment): string {
  return allocate(
    a.net.dataDir,
    a.net.name,
    a.net.subnet,
    a.net.gateway,
    a.containerId,
    a.ifName,
    a.ip,
  );
}

/**
 * Makes the links: the bridge (with the gateway address, up), the veth
 * pair (host end a port of the bridge, container end `ifName` in the
 * namespace with the address and the default route), loopback up. A
 * bridge made here gets `alias` (whose it is: `_stale_bridges.ts`) at once.
 * Returns the result the plugins would have given.
 */
export function nativeLinks(
  a: NativeAttachment,
  ip: string,
  alias: string | null = null,
): CniResult {
  const bits = a.net.subnet.bits;
  const host = Rtnl.open();
  const peerMac = randomMac();
  const veth = hostVeth(a.token);
  try {
    const br = host.ensureBridge(a.net.bridge, alias);
    if (a.net.isGateway) host.addAddress(br, a.net.gateway, bits);
    host.up(br);
    if (a.net.isGateway) writeSysctl("/proc/sys/net/ipv4/ip_forward", "1");
    const nsFd = openFd(a.netns);
    try {
      try {
        host.addVeth(veth, br, a.ifName, nsFd, peerMac);
      } catch (err) {
        // A set-up cut short made it: made again from scratch.
        if (!(err instanceof ErrnoError && err.errno === EEXIST)) throw err;
        host.deleteLink(veth);
        host.addVeth(veth, br, a.ifName, nsFd, peerMac);
      }
    } finally {
      closeFd(nsFd);
    }
    if (a.net.hairpin) {
      const idx = host.linkIndex(veth);
      if (idx === null) throw new RuntimeError(`the interface ${veth} did not appear`);
      host.setHairpin(idx);
    }
  } finally {
    host.close();
  }
  const c = Rtnl.open(a.netns);
  try {
    if (!a.sharedNetns) c.up(1);
    const idx = c.linkIndex(a.ifName);
    if (idx === null) throw new RuntimeError(`the interface ${a.ifName} did not appear`);
    c.addAddress(idx, ip, bits);
    c.up(idx);
    if (a.net.defaultRoute) {
      try {
        c.addDefaultRoute(idx, a.net.gateway);
      } catch (err) {
        // A second network's (network connect): the first keeps the default route.
        if (!(a.sharedNetns && err instanceof ErrnoError && err.errno === EEXIST)) throw err;
      }
    }
  } finally {
    c.close();
  }
  return {
    cniVersion: "1.0.0",
    interfaces: [
      { name: a.net.bridge },
      { name: veth },
      { name: a.ifName, mac: peerMac, sandbox: a.netns },
    ],
    ips: [{ address: `${ip}/${bits}`, gateway: a.net.gateway, interface: 2 }],
    routes: a.net.defaultRoute ? [{ dst: "0.0.0.0/0", gw: a.net.gateway }] : [],
  };
}

/**
 * Makes the container's rules and berth's own rules of its bridge, in
 * one restore after one listing (under the firewall lock).
 */
export async function nativeRules(
  fw: Pick<NetworkFirewall, "batch" | "batchSeen" | "restoreAt">,
  a: NativeAttachment,
  ip: string,
  berth: BridgeRules,
): Promise<void> {
  const input = ruleInput(a, ip);
  const own = await containerRules(input);
  const net = networkRules(a);
  const bridge = a.net.bridge;
  // nf_tables' generation before any listing below: a mark written from
  // one is tagged with it (were the listing later, the mark never matches).
  const gen = net === null ? null : nftGeneration();
  const current = markCurrent(bridge, gen);
  if (net !== null && own.rules.length === 0 && own.ownChains.length === 0) {
    // Nothing of the container's own: the network's rules, there since
    // the last listing when nf_tables' generation has not moved.
    if (current) return;
    await fw.batchSeen(
      (saved, g) => {
        notePorts(saved, g);
        const t = planEnsureTables(saved, bridge, berth.tag, berth.internal, net);
        return { chains: t.chains, restore: restoreInput(t.tables) };
      },
      nftGeneration,
      (g) => writeMark(bridge, g),
    );
    return;
  }
  if (input.ports.length > 0) {
    // portmap's: the DNAT of 127.0.0.1 needs the bridge to route it.
    writeSysctl(`/proc/sys/net/ipv4/conf/${a.net.bridge}/route_localnet`, "1");
  }
  if (current && input.ports.length > 0 && portsFree(input, gen)) {
    // Nothing changed since a listing showed the network's rules and
    // portmap's shared chains complete and none of these ports forwarded
    // by anyone: the container's own rules alone, no listing.
    const mine = planAdd(sharedOnly(input), input, own);
    notePortsAdded(input, gen!);
    if (await fw.restoreAt(gen!, restoreInput(mine.tables))) return;
  }
  // One listing, then one restore of additions only: a restore that
  // deletes anything waits for the kernel's RCU grace period when it ends
  // (nf_tables, 10-25 ms here), an iptables-save does not.
  let shared = true;
  // The network's rules are all there once this change is: noted (a mark)
  // where the generation says so, so the next set-up needs no listing.
  const seen = net === null ? undefined : (g: number) => writeMark(bridge, g);
  await fw.batch(planWith(a, input, own, berth, net, gen, (s) => (shared = s)), seen);
  if (net !== null && input.ports.length > 0 && !shared) {
    // portmap's shared chains were made just now: one more listing notes
    // them (the first -p of the host), so the next set-up needs none.
    await fw.batch(planWith(a, input, own, berth, net, nftGeneration()), seen);
  }
}

/**
 * Adds `input`'s ports to {@linkcode PORTS_MARK} (current at `gen`) before
 * its rules are made: another root asking for one of them later is refused
 * as a listing would refuse it; a set-up that fails or is killed leaves
 * the note only more careful. (Under the host-wide port lock the whole
 * set-up holds: no other -p set-up reads the note meanwhile.)
 */
function notePortsAdded(input: RuleInput, gen: number): void {
  const text = readMark(PORTS_MARK, gen);
  if (text === null) return;
  try {
    const note = JSON.parse(text) as PortsNote;
    const ports = new Set(note.forwarded);
    for (const p of input.ports) ports.add(`${p.protocol}/${p.hostPort}`);
    writeMark(PORTS_MARK, gen, undefined, JSON.stringify({ ...note, forwarded: [...ports] }));
  } catch {
    removeMark(PORTS_MARK);
  }
}

/** What {@linkcode PORTS_MARK} carries. */
interface PortsNote {
  /** `PROTO/PORT`s forwarded on the host (portmap's DNAT chain), by anyone. */
  forwarded: string[];
  /** Whether portmap's shared chains and jumps were all there. */
  shared: boolean;
}

/**
 * Notes what listing `saved` (taken at `gen` or later) shows of portmap's
 * side, with the ports this set-up is about to forward (`adding`). Every
 * later -p set-up adds its own before making them (the note advances
 * with berth's own commits); ports berth unforwarded since stay in it (a
 * listing then decides): the note can only send a set-up to a listing.
 */
function notePorts(saved: Saved, gen: number | null, adding: PortMapping[] = []): boolean {
  if (gen === null) return true;
  const probe: RuleInput = {
    network: "",
    containerId: "",
    ip: "",
    subnet: "",
    masquerade: false,
    firewall: false,
    ports: [{ hostIP: "", hostPort: 1, containerPort: 1, protocol: "tcp" }],
  };
  const note: PortsNote = {
    forwarded: [
      ...new Set([
        ...forwardedIn(saved, ""),
        // This set-up's own, before they are made (see notePortsAdded).
        ...adding.map((p) => `${p.protocol}/${p.hostPort}`),
      ]),
    ],
    shared: sharedComplete(saved, probe),
  };
  writeMark(PORTS_MARK, gen, undefined, JSON.stringify(note));
  return note.shared;
}

/** Whether {@linkcode PORTS_MARK} is current at `gen` and clears `input`'s ports. */
function portsFree(input: RuleInput, gen: number | null): boolean {
  const text = readMark(PORTS_MARK, gen);
  if (text === null) return false;
  try {
    const note = JSON.parse(text) as PortsNote;
    const taken = new Set(note.forwarded);
    return note.shared === true &&
      input.ports.every((p) => !taken.has(`${p.protocol}/${p.hostPort}`));
  } catch {
    return false;
  }
}

/** The network's shared rules, where the attachment relies on them. */
function networkRules(a: NativeAttachment): NetworkRules | null {
  return a.netRules ? { subnet: formatSubnet(a.net.subnet), masquerade: a.net.masquerade } : null;
}

function planWith(
  a: NativeAttachment,
  input: RuleInput,
  own: ContainerRules,
  berth: BridgeRules,
  net: NetworkRules | null,
  gen: number | null,
  sharedSeen: (complete: boolean) => void = () => {},
): (saved: Saved) => Plan {
  return (saved: Saved) => {
    sharedSeen(notePorts(saved, gen, input.ports));
    // Another root's (or another CNI runtime's) container may forward one
    // of the ports (portmap's DNAT chain): read from this same listing,
    // under the host's port lock.
    const forwarded = forwardedIn(saved, a.containerId);
    for (const p of input.ports) {
      if (forwarded.has(`${p.protocol}/${p.hostPort}`)) {
        throw new RuntimeError(
          `host port ${p.hostPort}/${p.protocol} is already forwarded to a container on this host`,
        );
      }
    }
    const mine = planAdd(saved, input, own);
    const theirs = planEnsureTables(saved, a.net.bridge, berth.tag, berth.internal, net);
    return {
      chains: [...mine.chains, ...theirs.chains],
      restore: restoreInput(mergeTables(mine.tables, theirs.tables)),
    };
  };
}

/**
 * The `PROTO/PORT`s portmap's `CNI-HOSTPORT-DNAT` chain forwards in
 * `saved`, but for container `ownId`'s.
 */
export function forwardedIn(saved: Saved, ownId: string): Set<string> {
  const out = new Set<string>();
  for (const r of saved.rules) {
    if (r.table !== "nat" || r.chain !== "CNI-HOSTPORT-DNAT") continue;
    const at = (flag: string) => {
      const i = r.args.indexOf(flag);
      return i < 0 ? undefined : r.args[i + 1];
    };
    if (at("--comment")?.includes(`id: "${ownId}"`)) continue;
    const proto = at("-p");
    const ports = at("--dports");
    if ((proto !== "tcp" && proto !== "udp") || ports === undefined) continue;
    for (const p of ports.split(",")) {
      const [lo, hi] = p.split(":").map(Number);
      for (let n = lo!; n <= (hi ?? lo!) && n - lo! < 65536; n++) out.add(`${proto}/${n}`);
    }
  }
  return out;
}

/** The address of the attachment: the record's result's, else host-local's file. */
export function nativeAddress(a: NativeAttachment, result: CniResult | null): string | null {
  const cached = result?.ips?.[0]?.address;
  if (cached !== undefined) return cached.slice(0, cached.indexOf("/"));
  return allocatedTo(a.net.dataDir, a.net.name, a.containerId);
}

/**
 * Removes the container's rules (one restore; a listing first only when
 * some were never made).
 */
export async function nativeDelRules(
  fw: Pick<NetworkFirewall, "restoreOr">,
  a: NativeAttachment,
  ip: string,
): Promise<void> {
  const own: ContainerRules = await containerRules(ruleInput(a, ip));
  // No rules of its own (the network's shared ones stay): no iptables.
  if (own.rules.length === 0 && own.ownChains.length === 0) return;
  // Its ports are free once the deletion is committed: the ports note
  // (advanced with it) says so, and the next -p set-up of one of them
  // needs no listing.
  const unforwarded = ruleInput(a, ip).ports.map((p) => `${p.protocol}/${p.hostPort}`);
  await fw.restoreOr(
    restoreInput(planDel(null, own)),
    (saved) => ({ chains: [], restore: restoreInput(planDel(saved, own)), unforwarded }),
    unforwarded,
  );
}

/** Deletes the veth pair (both ends go with the host end). */
export function nativeDelLinks(a: NativeAttachment): void {
  const host = Rtnl.open();
  try {
    host.deleteLink(hostVeth(a.token));
  } finally {
    host.close();
  }
}

/** Releases the address. */
export function nativeRelease(a: NativeAttachment): void {
  release(a.net.dataDir, a.net.name, a.containerId);
}

/** The IPAM directory of `net` (for messages). */
export function ipamDirOf(net: NativeNet): string {
  return join(net.dataDir, net.name);
}
