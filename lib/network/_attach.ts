/**
 * A container's place on a network, as a recorded operation.
 *
 * Set-up (under the host-wide network lock, and the host's port lock when
 * it publishes ports): the network made ready (`ensureNetwork`: `bridge`'s
 * definition, stale bridges in the way); refuse a subnet another interface
 * routes, a host port another live attachment holds, a requested address
 * that is taken; write the host-wide lease (`_leases.ts`), then the
 * attachment record
 * (`--root/networks/attach/TOKEN.json`: owner, network, ports, the exact
 * conflist); make the persistent namespace; CNI ADD of the network's chain
 * (bridge → portmap, when ports are published → firewall), caching the
 * result in the record after each plugin, with `loopback`'s ADD beside it;
 * berth's own rules around the bridge (_firewall.ts: no way into the host's
 * 127.0.0.0/8, no way to another network) made complete;
 * the caller writes `/etc/hosts` and `/etc/resolv.conf` into the bundle. The container's state names the record's TOKEN before
 * any of this starts, so a berth killed anywhere leaves a state whose
 * interrupted `create` is rolled back by the next command or `gc` — and the
 * rollback, like every delete, tears down.
 *
 * berth's own bridge networks (the shape `buildConfList` writes) are set
 * up without the plugins where the caller allows it (`nativeFirewall`):
 * `_native.ts` makes the same things in-process (address, links, rules in
 * one restore), and the record says so (`native`): its tear-down is
 * `_native.ts`'s too. Other conflists (a user's) run the plugins.
 *
 * Tear-down: CNI DEL of the chain, last plugin first, with the cached
 * result (or, when ADD was cut short before a result was cached, one
 * rebuilt from host-local's allocation for the container), while the
 * namespace still exists; then the namespace goes, then the record, then
 * the lease.
 * DEL is repeated once when it fails: the bridge plugin of 1.1.1 fails a
 * DEL whose masquerade chain was never made, after it released the rest;
 * the rules the repeated DEL cannot find then are removed by the token
 * (`_stale_rules.ts`). A tear-down first waits for the plugins of an ADD
 * whose berth was killed to end (`_orphan_plugins.ts`).
 *
 * @module
 */

import { writeFileAtomic } from "../host/atomic_file.ts";
import { InvalidArgument, isNotFound, RuntimeError, WrongState } from "../host/errors.ts";
import type { Libc } from "../host/libc.ts";
import { FileLock } from "../host/lock.ts";
import { dirname, join } from "../_std/path.ts";
import type { ProcessRunner } from "../host/process.ts";
import { type Attachment, CniClient, type ConfList } from "./_cni.ts";
import { NetworkFirewall } from "./_firewall.ts";
import {
  nativeAddress,
  nativeAllocate,
  type NativeAttachment,
  nativeDelLinks,
  nativeDelRules,
  nativeLinks,
  nativeNet,
  nativeRelease,
  nativeRules,
} from "./_native.ts";
import { createNetns, isNetnsMounted, removeNetns } from "./_netns.ts";
import { dataDirOf, firewallTag, ipamDir, type NetworkPaths } from "./_networks.ts";
import { type Lease, leaseLive, listLeases, removeLease, writeLease } from "./_leases.ts";
import { type PortMapping, portsClash } from "./_ports.ts";
import { type CniResult, containerIpv4 } from "./_result.ts";
import { checkSubnetUnrouted } from "./_routes.ts";
import { contains, formatIpv4, parseCidr, parseIpv4 } from "./_subnet.ts";
import { waitForOrphanPlugins } from "./_orphan_plugins.ts";
import { removeTokenRules } from "./_stale_rules.ts";
import { bridgeAlias, markBridge } from "./_stale_bridges.ts";

/**
 * Where every root on the host takes turns claiming published ports
 * (outside the roots by necessity: portmap's rules are host-wide; /run is
 * root's, unlike the world-writable /run/lock).
 */
export const HOST_PORTS_LOCK = "/run/berth-ports.lock";

/** The interface name inside the container. */
export const IFNAME = "eth0";

/** What `--root/networks/attach/TOKEN.json` holds. */
export interface AttachRecord {
  token: string;
  /** The owner container. */
  ns: string;
  id: string;
  network: string;
  netns: string;
  ports: PortMapping[];
  /** The conflist ADD ran with (DEL runs with the same). */
  conf: ConfList;
  /** The result so far (after the last plugin whose ADD finished), or null. */
  result: CniResult | null;
  /** The address asked for (`--ip`, as host-local's `ips`), when one was. */
  ips?: string[];
  /** The interface inside the container (absent: eth0). */
  ifName?: string;
  /**
   * Set up by berth itself (`_native.ts`), not by the plugins: torn down
   * the same way.
   */
  native?: boolean;
  /**
   * Set up by berth itself with its network's shared accepts and
   * masquerade (`_firewall.ts`), not the firewall and bridge plugins'
   * rules per container: only published ports have rules of their own.
   * Absent (an older berth's record): torn down with the per-container
   * rules.
   */
  netRules?: boolean;
  /**
   * A later network's (`network connect`): the namespace is the first
   * attachment's, neither made nor removed with this one.
   */
  sharedNetns?: boolean;
}

/** What set-up and tear-down need from berth. */
export interface NetEnv {
  paths: NetworkPaths;
  cni: CniClient;
  runner: ProcessRunner;
  libc: Libc;
  /**
   * berth's own rules around its bridges (_firewall.ts): made complete for
   * the network's bridge on every set-up, once the chain's ADD made it.
   */
  firewall: Pick<NetworkFirewall, "ensure">;
  /**
   * When given, berth's own bridge networks are set up without the
   * plugins (`_native.ts`), their rules changed through this; absent: every
   * network through the plugins. Records made that way are torn down that
   * way whatever this says.
   */
  nativeFirewall?: Pick<NetworkFirewall, "batch" | "batchSeen" | "restoreAt" | "restoreOr">;
  /** The host-wide lock file of port claims (default {@linkcode HOST_PORTS_LOCK}). */
  hostPortsLock?: string;
  /** Fault injection: called at the named points. */
  crash?: (
    point:
      | "lease"
      | "netns-file"
      | "netns"
      | "allocated"
      | "partial"
      | "added"
      | "dns"
      | "del-dns"
      | "del-partial"
      | "del-unlinked"
      | "deleted"
      | "unrecorded",
  ) => void;
}

/** The CNI container ID of an attachment (unique on the host: random token). */
export function cniContainerId(token: string): string {
  return `berth-${token}`;
}

/**
 * What a token looks like (it names files: checked wherever one is read):
 * the root's tag (8 hex digits) and 16 random ones; 16 random ones alone
 * in records made before tokens carried their root.
 */
export const TOKEN_RE = /^[0-9a-f]{16}(?:[0-9a-f]{8})?$/;

/**
 * A fresh attachment token: `tag`, the root's (`rootTag(--root)`), then 16
 * random hex digits. The tag is what lets a root's `gc` tell its own
 * leftover firewall rules from another root's (`_stale_rules.ts`).
 */
export function newToken(tag: string): string {
  return tag + crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

function attachDir(p: NetworkPaths): string {
  return join(p.stateDir, "attach");
}
function recordFile(p: NetworkPaths, token: string): string {
  return join(attachDir(p), `${token}.json`);
}
/** The namespace file of an attachment. */
export function netnsFile(p: NetworkPaths, token: string): string {
  return join(p.stateDir, "netns", token);
}

/**
 * Runs `fn` under the host-wide network lock (beside the network
 * directory: every root's set-ups, tear-downs and network changes take
 * turns).
 */
export async function withNetworkLock<T>(p: NetworkPaths, fn: () => Promise<T>): Promise<T> {
  const lock = await FileLock.acquire(join(p.runDir, "lock"), "the networks", {
    timeoutMs: 60_000,
  });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Reads one record; null when there is none (or it is unreadable). */
export function readRecord(p: NetworkPaths, token: string): AttachRecord | null {
  try {
    return JSON.parse(Deno.readTextFileSync(recordFile(p, token))) as AttachRecord;
  } catch (err) {
    if (isNotFound(err) || err instanceof SyntaxError) return null;
    throw err;
  }
}

/** Every record of the root. */
export function listRecords(p: NetworkPaths): AttachRecord[] {
  const out: AttachRecord[] = [];
  try {
    for (const e of Deno.readDirSync(attachDir(p))) {
      if (!e.name.endsWith(".json") || !TOKEN_RE.test(e.name.slice(0, -5))) continue;
      const r = readRecord(p, e.name.slice(0, -5));
      if (r !== null) out.push(r);
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return out;
}

async function saveRecord(p: NetworkPaths, r: AttachRecord): Promise<void> {
  Deno.mkdirSync(attachDir(p), { recursive: true, mode: 0o700 });
  // Not durable: a record describes a namespace mount, links, an address
  // in use and rules, none of which outlives a machine crash (a killed
  // berth still leaves a whole record: the rename is atomic; a torn one
  // after a power cut reads as none, and gc releases what it named). Two
  // fsyncs fewer per write, 2-10 ms on a loaded disk.
  await writeFileAtomic(recordFile(p, r.token), JSON.stringify(r), { durable: false });
}

/** A set-up request. */
export interface SetUpRequest {
  token: string;
  ns: string;
  id: string;
  network: string;
  /**
   * The conflist to run, or what makes it under the lock (the network
   * made ready: `ensureNetwork`).
   */
  conf: ConfList | (() => Promise<ConfList>);
  ports: PortMapping[];
  /** An address asked for (`--ip`), or none: host-local picks. */
  ip?: string | null;
  /** Whether the network is internal (berth's firewall drops what leaves its bridge). */
  internal?: boolean;
  /**
   * `network connect`: the container's namespace (made by its first
   * attachment) and the interface to add there; absent: a namespace of its
   * own, eth0.
   */
  join?: { netns: string; ifName: string };
  /**
   * Called under the lock once everything is made (the caller records the
   * attachment in the owner's state: killed before, gc tears it down).
   */
  onAdded?: (ip: string) => Promise<void>;
  /**
   * Leave berth's own firewall work (the rules of a bridge network,
   * `nativeRules`) to {@linkcode SetUp.finish}, which the caller starts
   * once it has asked the monitor to launch the container: the restore
   * then runs while the runtime works, instead of before it. The host
   * ports lock stays held until it is done (the ports note is read and
   * advanced under it). Absent: everything is made before `setUp` returns.
   */
  deferRules?: boolean;
  /**
   * Whether the owner of a record that holds a wanted port is still there
   * (a record of a gone owner is torn down and its port freed).
   */
  ownerAlive: (r: AttachRecord) => boolean;
}

/** Host ports are refused when another live container holds them. */
async function claimPorts(env: NetEnv, req: SetUpRequest, native: boolean): Promise<void> {
  if (req.ports.length === 0) return;
  for (const other of listRecords(env.paths)) {
    const clash = req.ports.find((p) => other.ports.some((q) => portsClash(p, q)));
    if (clash === undefined) continue;
    if (!req.ownerAlive(other)) {
      await tearDownLocked(env, other.token);
      continue;
    }
    throw new RuntimeError(
      `host port ${clash.hostPort}/${clash.protocol} is already published by container "${other.id}"`,
    );
  }
  // Another root's (or another CNI runtime's) container may forward it: portmap's DNAT chain
  // (berth's own set-up reads it from the listing its rules are planned on).
  const forwarded = native ? new Set<string>() : await forwardedPorts(env.runner);
  for (const p of req.ports) {
    if (forwarded.has(`${p.protocol}/${p.hostPort}`)) {
      throw new RuntimeError(
        `host port ${p.hostPort}/${p.protocol} is already forwarded to a container on this host`,
      );
    }
  }
  for (const p of req.ports) {
    if (p.protocol !== "tcp") continue;
    // A host process listening there would be shadowed: refuse as well.
    try {
      Deno.listen({ hostname: p.hostIP || "0.0.0.0", port: p.hostPort }).close();
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) {
        throw new RuntimeError(`host port ${p.hostPort}/tcp is in use on this host`);
      }
      if (err instanceof Deno.errors.AddrNotAvailable) {
        throw new RuntimeError(`host address ${p.hostIP} is not an address of this host`);
      }
      throw err;
    }
  }
}

/**
 * The `PROTO/PORT`s portmap forwards on this host (its `CNI-HOSTPORT-DNAT`
 * chain's `--dports`), whoever set them up.
 */
export async function forwardedPorts(runner: ProcessRunner): Promise<Set<string>> {
  const out = new Set<string>();
  const r = await runner.exec({
    argv: ["iptables", "-w", "5", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"],
    timeoutMs: 10_000,
  }).catch(() => null);
  if (r === null || r.code !== 0) return out; // no chain yet: nothing forwarded
  for (const line of r.stdout.split("\n")) {
    const proto = / -p (tcp|udp)\b/.exec(line)?.[1];
    const ports = / --dports ([0-9,:]+)/.exec(line)?.[1];
    if (proto === undefined || ports === undefined) continue;
    for (const p of ports.split(",")) {
      const [lo, hi] = p.split(":").map(Number);
      for (let n = lo!; n <= (hi ?? lo!) && n - lo! < 65536; n++) out.add(`${proto}/${n}`);
    }
  }
  return out;
}

/** What {@linkcode setUp} made. */
export interface SetUp {
  /** The container's address. */
  ip: string;
  /**
   * Finishes the set-up (the deferred firewall work, see
   * {@linkcode SetUpRequest.deferRules}; nothing otherwise) and releases
   * what it holds. Every call gets the one run's promise. On failure the
   * attachment is torn down before the error is given. A caller that
   * deferred must call it on every path (the host ports lock is held
   * until then).
   */
  finish(): Promise<void>;
}

/**
 * Sets up the attachment (see {@linkcode SetUp}). On failure everything it
 * made is torn down before the error is rethrown.
 */
export async function setUp(env: NetEnv, req: SetUpRequest): Promise<SetUp> {
  let portsLock: FileLock | null = null;
  const release = () => {
    portsLock?.release();
    portsLock = null;
  };
  const made = await withNetworkLock(env.paths, async () => {
    // Published ports are host-wide (portmap's chains): roots claim them one at a time.
    if (req.ports.length > 0) portsLock = await hostPortsLock(env);
    try {
      return await setUpLocked(env, req);
    } catch (err) {
      release();
      throw err;
    }
  }).catch((err) => {
    release();
    throw err;
  });
  if (made.rest === null) release();
  let done: Promise<void> | null = null;
  const finish = () =>
    done ??= (async () => {
      if (made.rest === null) return;
      try {
        await made.rest();
      } catch (err) {
        // The ports lock first: another set-up may hold the network lock
        // while it waits for it (the lease, until torn down, keeps the ports).
        release();
        await withNetworkLock(env.paths, () => tearDownLocked(env, req.token)).catch(() => {});
        throw err;
      } finally {
        release();
      }
    })();
  return { ip: made.ip, finish };
}

/** The host-wide lock of port claims (null where /run cannot hold it). */
async function hostPortsLock(env: NetEnv): Promise<FileLock | null> {
  const path = env.hostPortsLock ?? HOST_PORTS_LOCK;
  try {
    Deno.statSync(dirname(path));
  } catch {
    return null;
  }
  return await FileLock.acquire(path, "the host's published ports", { timeoutMs: 60_000 });
}

/**
 * {@linkcode setUp} under its locks: the address, and what is left to do
 * when the request defers it (null: nothing).
 */
async function setUpLocked(
  env: NetEnv,
  req: SetUpRequest,
): Promise<{ ip: string; rest: (() => Promise<void>) | null }> {
  const conf = typeof req.conf === "function" ? await req.conf() : req.conf;
  const bridge = conf.plugins.find((p) => p.type === "bridge");
  const subnet = parseCidr(rangeOf(conf) ?? "");
  if (subnet !== null && typeof bridge?.bridge === "string") {
    checkSubnetUnrouted(req.network, subnet, bridge.bridge);
  }
  const ips = req.ip ? [requestedAddress(conf, req.network, req.ip)] : [];
  const native = env.nativeFirewall !== undefined && nativeNet(conf) !== null;
  await claimPorts(env, req, native);
  const record: AttachRecord = {
    token: req.token,
    ns: req.ns,
    id: req.id,
    network: req.network,
    netns: req.join?.netns ?? netnsFile(env.paths, req.token),
    ports: req.ports,
    conf,
    result: null,
    ...(ips.length > 0 ? { ips } : {}),
    ...(req.join ? { ifName: req.join.ifName, sharedNetns: true } : {}),
    ...(native ? { native: true } : {}),
    ...(native && nativeNet(conf)!.firewall ? { netRules: true } : {}),
  };
  // The lease first: a record always has one (tear-down removes them the other way round).
  await writeLease(env.paths.runDir, {
    token: req.token,
    network: req.network,
    record: recordFile(env.paths, req.token),
    ns: req.ns,
    id: req.id,
  });
  env.crash?.("lease");
  try {
    await saveRecord(env.paths, record);
  } catch (err) {
    removeLease(env.paths.runDir, req.token);
    throw err;
  }
  try {
    if (!record.sharedNetns) {
      await createNetns(record.netns, env.runner, () => env.crash?.("netns-file"));
      env.crash?.("netns");
    } else if (!isNetnsMounted(record.netns)) {
      throw new RuntimeError(`network "${req.network}": the container's network namespace is gone`);
    }
    if (native) {
      const { ip, rules } = await nativeSetUp(env, record, req.internal === true);
      await markBridge(env.runner, bridge!.bridge as string, env.paths.configDir);
      const rest = async () => {
        await rules();
        env.crash?.("added");
        await req.onAdded?.(ip);
      };
      if (req.deferRules === true) return { ip, rest };
      await rest();
      return { ip, rest: null };
    }
    const att = attachmentOf(record);
    // loopback and the chain configure different interfaces: at once.
    const lo = record.sharedNetns ? Promise.resolve(null) : env.cni.add(
      { cniVersion: conf.cniVersion, name: "lo", plugins: [{ type: "loopback" }] },
      { ...att, ifName: "lo" },
    );
    const total = conf.plugins.length;
    const chain = (async () => {
      try {
        return await addChain(env, record, att, total);
      } catch (err) {
        if (!isBridgeRace(err)) throw err;
        // The bridge device was being made by another ADD (or the kernel
        // had not given it its address yet): undo and try once more.
        await delChain(env, record);
        record.result = null;
        return await addChain(env, record, att, total);
      }
    })();
    const [loDone, chainDone] = await Promise.allSettled([lo, chain]);
    if (chainDone.status === "rejected") throw chainDone.reason;
    if (loDone.status === "rejected") throw loDone.reason;
    const result = chainDone.value;
    const ip = containerIpv4(result);
    if (ip === null) throw new RuntimeError(`network "${req.network}" gave no IPv4 address`);
    // After the ADD: the firewall plugin's first ADD on the host puts its
    // chain ahead of everything in FORWARD, berth's goes back above it. The
    // container's process does not run yet.
    if (typeof bridge?.bridge === "string") {
      await env.firewall.ensure(bridge.bridge, firewallTag(env.paths), req.internal === true);
      // Whose it is, for the stale-bridge check of other network directories.
      await markBridge(env.runner, bridge.bridge, env.paths.configDir);
    }
    env.crash?.("added");
    await req.onAdded?.(ip);
    return { ip, rest: null };
  } catch (err) {
    await tearDownLocked(env, req.token).catch(() => {});
    throw err;
  }
}

/**
 * Set-up by berth itself (`_native.ts`): the address and the links, and
 * the function that makes the rules (the caller runs it, at once or
 * deferred).
 */
async function nativeSetUp(
  env: NetEnv,
  record: AttachRecord,
  internal: boolean,
): Promise<{ ip: string; rules: () => Promise<void> }> {
  const a = nativeAttachment(record)!;
  const ip = nativeAllocate(a);
  env.crash?.("allocated");
  record.result = nativeLinks(a, ip, bridgeAlias(env.paths.configDir));
  await saveRecord(env.paths, record);
  env.crash?.("partial");
  const fw = env.nativeFirewall ?? new NetworkFirewall(env.runner);
  return { ip, rules: () => nativeRules(fw, a, ip, { tag: firewallTag(env.paths), internal }) };
}

/** What `_native.ts` works on for record `r` (null: not one of berth's own networks). */
function nativeAttachment(r: AttachRecord): NativeAttachment | null {
  const net = nativeNet(r.conf);
  if (net === null) return null;
  const ip = r.ips?.[0];
  return {
    net,
    containerId: cniContainerId(r.token),
    token: r.token,
    netns: r.netns,
    ifName: r.ifName ?? IFNAME,
    sharedNetns: r.sharedNetns === true,
    ports: r.ports,
    ip: ip === undefined ? null : ip.slice(0, ip.indexOf("/")),
    netRules: r.netRules === true,
  };
}

/**
 * Tear-down by berth itself, up to the namespace's removal: the rules,
 * then the veth pair of a shared namespace (`network disconnect`). A
 * namespace of its own takes its veth pair with it when the tear-down
 * unmounts it (the kernel destroys both ends with the namespace, off the
 * caller's time: deleting a link waits for the network stack's grace
 * periods, 15-30 ms here). The address is released after the namespace
 * is gone ({@linkcode tearDownLocked}).
 */
async function nativeTearDown(env: NetEnv, r: AttachRecord): Promise<NativeAttachment> {
  const a = nativeAttachment(r);
  if (a === null) throw new RuntimeError(`network attachment ${r.token}: not a bridge network`);
  const ip = nativeAddress(a, r.result);
  if (ip !== null) {
    await nativeDelRules(env.nativeFirewall ?? new NetworkFirewall(env.runner), a, ip);
  }
  env.crash?.("del-partial");
  if (r.sharedNetns) nativeDelLinks(a);
  env.crash?.("del-unlinked");
  return a;
}

async function addChain(
  env: NetEnv,
  record: AttachRecord,
  att: Attachment,
  total: number,
): Promise<CniResult> {
  return await env.cni.add(record.conf, att, async (done, result) => {
    record.result = result;
    await saveRecord(env.paths, record);
    if (done < total) env.crash?.("partial");
  });
}

function isBridgeRace(err: unknown): boolean {
  const m = err instanceof Error ? err.message : "";
  return /could not set bridge's mac|could not add IP address to|file exists/i.test(m) &&
    /bridge/.test(m);
}

function attachmentOf(r: AttachRecord): Attachment {
  return {
    containerId: cniContainerId(r.token),
    netns: r.netns,
    ifName: r.ifName ?? IFNAME,
    runtimeConfig: { portMappings: r.ports, ...(r.ips ? { ips: r.ips } : {}) },
  };
}

/**
 * `--ip`'s address as host-local's `ips` runtime value (`A.B.C.D/BITS`):
 * refused (exit 2) outside the network's subnet or on its gateway, network
 * or broadcast address; (exit 5) when another live attachment holds it. A
 * leftover allocation whose lease is dead is released here.
 */
function requestedAddress(conf: ConfList, network: string, ip: string): string {
  const subnet = parseCidr(rangeOf(conf) ?? "");
  const n = parseIpv4(ip);
  if (subnet === null || n === null) throw new InvalidArgument(`invalid address "${ip}"`);
  const last = (subnet.base + 2 ** (32 - subnet.bits) - 1) >>> 0;
  if (!contains(subnet, n) || n === subnet.base || n === last) {
    throw new InvalidArgument(
      `--ip ${ip} is not a host address of network "${network}" (${rangeOf(conf)})`,
    );
  }
  const gateway = gatewayOfConf(conf);
  if (gateway !== null && gateway === ip) {
    throw new InvalidArgument(`--ip ${ip} is the gateway of network "${network}"`);
  }
  const dataDir = dataDirOf(conf);
  if (dataDir !== null) {
    const file = join(dataDir, conf.name, formatIpv4(n));
    let owner: string | null = null;
    try {
      owner = Deno.readTextFileSync(file).split(/\r?\n/)[0]?.trim() ?? "";
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (owner !== null) {
      const token = owner.startsWith("berth-") ? owner.slice(6) : "";
      const runDir = dirname(dataDir);
      const lease = listLeases(runDir).find((l) => l.token === token);
      if (lease !== undefined && leaseLive(lease)) {
        throw new WrongState(
          `cannot use --ip ${ip}: container "${lease.id}" holds it on network "${network}"`,
        );
      }
      if (!TOKEN_RE.test(token)) {
        throw new WrongState(`cannot use --ip ${ip}: it is taken on network "${network}"`);
      }
      Deno.removeSync(file); // a dead attachment's leftover
    }
  }
  return `${ip}/${subnet.bits}`;
}

function gatewayOfConf(conf: ConfList): string | null {
  const bridge = conf.plugins.find((p) => p.type === "bridge");
  const g = (bridge?.ipam as { ranges?: { gateway?: string }[][] })?.ranges?.[0]?.[0]?.gateway;
  return typeof g === "string" ? g : null;
}

/**
 * The result DEL is given: the cached one, else one rebuilt from the
 * address host-local allocated to the container (its files name the
 * container ID), so the firewall and portmap plugins find their rules.
 */
function prevResultOf(env: NetEnv, r: AttachRecord): CniResult | null {
  if (r.result !== null) return r.result;
  const dir = join(dataDirOf(r.conf) ?? ipamDir(env.paths), r.conf.name);
  const id = cniContainerId(r.token);
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!/^[0-9.]+$/.test(e.name)) continue;
      const owner = Deno.readTextFileSync(join(dir, e.name)).split(/\r?\n/)[0]?.trim();
      if (owner === id) {
        const bits = subnetBits(r.conf);
        return { cniVersion: r.conf.cniVersion, ips: [{ address: `${e.name}/${bits}` }] };
      }
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return null;
}

function rangeOf(conf: ConfList): string | undefined {
  const bridge = conf.plugins.find((p) => p.type === "bridge");
  return (bridge?.ipam as { ranges?: { subnet?: string }[][] })?.ranges?.[0]?.[0]?.subnet;
}

function subnetBits(conf: ConfList): number {
  return Number(rangeOf(conf)?.split("/")[1] ?? 32);
}

async function delChain(env: NetEnv, r: AttachRecord): Promise<void> {
  const att = attachmentOf(r);
  // No namespace bound there (killed before `unshare` bound it, or after
  // tear-down unbound it): no ADD ran in one, or DEL already did. The spec's
  // empty CNI_NETNS still releases the address and any rules.
  if (!isNetnsMounted(r.netns)) att.netns = "";
  const prev = prevResultOf(env, r);
  try {
    await env.cni.del(r.conf, att, prev, (n) => {
      if (n < r.conf.plugins.length) env.crash?.("del-partial");
    });
  } catch {
    // Once more: what the first DEL released is gone, the rest goes now.
    await env.cni.del(r.conf, att, prev);
    // The bridge plugin removes its masquerade only for the addresses it
    // finds on the container's interface: after a first DEL that removed
    // the interface and then failed, the second leaves it (_stale_rules.ts).
    // Best effort: what stays, gc removes (the token carries the root).
    await removeTokenRules(env.runner, env.paths.stateDir, (t) => t === r.token)
      .catch(() => {});
  }
}

/**
 * An older berth's attachment (its conflist's IPAM directory is the
 * root's): the copy of its address that migration put in the host-wide
 * IPAM goes with it (its DEL released the original).
 */
function releaseAdopted(env: NetEnv, r: AttachRecord): void {
  const from = dataDirOf(r.conf);
  if (from === null || from === ipamDir(env.paths)) return;
  const dir = join(ipamDir(env.paths), r.conf.name);
  for (const ip of readNames(dir)) {
    if (!/^[0-9.]+$/.test(ip)) continue;
    try {
      const owner = Deno.readTextFileSync(join(dir, ip)).split(/\r?\n/)[0]?.trim();
      if (owner === cniContainerId(r.token)) Deno.removeSync(join(dir, ip));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Tears down attachment `token` (the caller holds the network lock). */
export async function tearDownLocked(env: NetEnv, token: string): Promise<boolean> {
  if (!TOKEN_RE.test(token)) throw new RuntimeError(`invalid network attachment token "${token}"`);
  const r = readRecord(env.paths, token);
  const ns = netnsFile(env.paths, token);
  if (r === null) {
    removeNetns(ns, env.libc); // a first attachment's, killed before its record
    removeLease(env.paths.runDir, token);
    return false;
  }
  let native: NativeAttachment | null = null;
  if (r.native) {
    native = await nativeTearDown(env, r);
  } else {
    // A plugin of an ADD whose berth was killed may still be making things.
    await waitForOrphanPlugins(cniContainerId(token));
    await delChain(env, r);
  }
  releaseAdopted(env, r);
  env.crash?.("deleted");
  if (!r.sharedNetns) removeNetns(r.netns, env.libc);
  if (native !== null) nativeRelease(native);
  try {
    Deno.removeSync(recordFile(env.paths, token));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  env.crash?.("unrecorded");
  removeLease(env.paths.runDir, token);
  return true;
}

/** Tears down attachment `token`; false when there was none. */
export function tearDown(env: NetEnv, token: string): Promise<boolean> {
  return withNetworkLock(env.paths, () => tearDownLocked(env, token));
}

/**
 * For `gc`: tears down every record whose owner is gone (`ownerAlive`
 * false), unmounts namespace files no record names; then, host-wide,
 * removes the leases whose record is gone (a root deleted by hand, a
 * berth killed between the two removals) and the address allocations no
 * live lease (and no record of this root, for an older berth's) holds.
 * Returns what it did (or would do, with `dryRun`), and the tokens of the
 * dead leases (their firewall rules go too: `_stale_rules.ts`).
 */
export async function collectLeftovers(
  env: NetEnv,
  ownerAlive: (r: AttachRecord) => Promise<boolean>,
  dryRun: boolean,
): Promise<string[]> {
  const done: string[] = [];
  const hasRoot = existsDir(env.paths.stateDir);
  if (!hasRoot && !existsDir(env.paths.runDir)) return done;
  await withNetworkLock(env.paths, async () => {
    const records = listRecords(env.paths);
    const kept = new Set<string>();
    for (const r of records) {
      if (await ownerAlive(r)) {
        kept.add(r.token);
        continue;
      }
      if (!dryRun) await tearDownLocked(env, r.token);
      done.push(`the network attachment of ${r.ns}/${r.id} (${r.network})`);
    }
    const nsDir = join(env.paths.stateDir, "netns");
    for (const name of readNames(nsDir)) {
      if (records.some((r) => r.token === name) || !TOKEN_RE.test(name)) continue;
      if (!dryRun) removeNetns(join(nsDir, name), env.libc);
      done.push(`the network namespace ${join(nsDir, name)}`);
    }
    const live = new Set<string>();
    const dead = new Set<string>();
    for (const l of listLeases(env.paths.runDir)) {
      if (leaseLive(l)) {
        live.add(l.token);
        continue;
      }
      if (!dryRun) removeLease(env.paths.runDir, l.token);
      dead.add(l.token);
      done.push(deadLease(l));
    }
    // Their per-container rules (best effort: what stays, the next gc finds by the root's tag).
    if (dead.size > 0 && !dryRun) {
      await removeTokenRules(env.runner, env.paths.runDir, (t) => dead.has(t)).catch(() => {});
    }
    // An older berth kept its addresses per root: only this root's are its own.
    const dirs = [ipamDir(env.paths), join(env.paths.stateDir, "ipam")];
    for (const ipam of dirs[0] === dirs[1] ? [dirs[0]!] : dirs) {
      for (const net of readNames(ipam)) {
        for (const ip of readNames(join(ipam, net))) {
          if (!/^[0-9.]+$/.test(ip)) continue;
          const file = join(ipam, net, ip);
          let owner = "";
          try {
            owner = Deno.readTextFileSync(file).split(/\r?\n/)[0]?.trim() ?? "";
          } catch { /* gone meanwhile */ }
          const token = owner.startsWith("berth-") ? owner.slice(6) : "";
          if (kept.has(token) || live.has(token)) continue;
          if (!dryRun) Deno.removeSync(file);
          done.push(`the address ${ip} of network ${net}`);
        }
      }
    }
  });
  return done;
}

function deadLease(l: Lease): string {
  return `the lease of ${l.ns}/${l.id} on network ${l.network} (its record ${l.record} is gone)`;
}

function existsDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function readNames(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !n.startsWith("."));
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
