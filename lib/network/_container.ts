/**
 * The network side of creating and deleting a container: `--network
 * none|host|bridge|NAME` and `-p` become a plan (validated, touching
 * nothing), the plan edits the OCI config (the network namespace path,
 * the `/etc/hosts` and `/etc/resolv.conf` bind mounts), and set-up and
 * tear-down run the attachment (`_attach.ts`). This is the whole hook
 * `create`, `delete` and `gc` have into networking.
 *
 * Names (`dns/`): on every network but `bridge` a container's name and
 * `--network-alias`es are recorded for the host's resolver once it has its
 * address (and removed before tear-down), its resolv.conf names the
 * gateway (or its `--dns` servers), and the resolver is made sure of before
 * its process runs; `--add-host` lines go into its /etc/hosts.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { InvalidArgument, RuntimeError, WrongState } from "../host/errors.ts";
import { hostnameOf, isValidId } from "../container/id.ts";
import { rootTag } from "../container/paths.ts";
import { join } from "../_std/path.ts";
import type { OciConfig } from "../host/spec.ts";
import type { ContainerState } from "../container/state_file.ts";
import {
  type AttachRecord,
  collectLeftovers,
  type NetEnv,
  netnsFile,
  newToken,
  readRecord,
  setUp,
  tearDown,
} from "./_attach.ts";
import { NetworkFirewall } from "./_firewall.ts";
import { CniClient, cniPath } from "./_cni.ts";
import {
  contextNetworkPaths,
  DEFAULT_NETWORK,
  ensureNetwork,
  loadNetwork,
  type Network,
} from "./_networks.ts";
import { checkOwnPorts, parsePublish, type PortMapping } from "./_ports.ts";
import { nameOptionGiven, NET_FILES, NO_NAMES, planFiles } from "./_plan_none.ts";

export { NET_FILES, ownFiles } from "./_plan_none.ts";
import { contains, parseCidr, parseIpv4 } from "./_subnet.ts";
import {
  containerResolv,
  HOST_RESOLV_CONF,
  noServerWarning,
  parseResolvConf,
  readOrNull,
} from "./_resolv_conf.ts";
import {
  dnsDir,
  readDnsRecord,
  removeDnsRecord,
  removeStaleDnsRecords,
  writeDnsRecord,
} from "./dns/_records.ts";
import { addHostLines } from "./dns/_options.ts";
import { ensureResolver, RESOLVER_START_TIMEOUT_MS, udpListening } from "./dns/_ensure.ts";
import { nameOf } from "../container/names.ts";

/** What a container gets, decided before anything is made. */
export interface NetPlan {
  mode: "none" | "host" | "cni" | "sandbox";
  network: Network | null;
  ports: PortMapping[];
  /** The attachment token (cni), or null. */
  token: string | null;
  /** `--ip`: the address asked for (cni), or null. */
  ip?: string | null;
  /** A sandbox member: its owner's network (and bundle, for the files). */
  owner: ContainerState | null;
  /** The container's hostname (the config's), for its /etc/hosts. */
  hostname: string | null;
  /** `--dns`, `--add-host`, `--network-alias` (checked at parse time). */
  names: NameOptions;
  /**
   * The files berth mounts: false where the config already mounts
   * something of the user's there (`-v`, `--mount`, the bundle's config),
   * which then wins.
   */
  own: { hosts: boolean; resolv: boolean };
}

/** The name options of a container: `--dns`, `--add-host`, `--network-alias`. */
export interface NameOptions {
  dns: string[];
  addHost: string[];
  aliases: string[];
}

/** The network services of a context. */
export function netEnv(ctx: Context): NetEnv {
  const crash = ctx.crashAt;
  const firewall = new NetworkFirewall(ctx.runner);
  return {
    paths: contextNetworkPaths(ctx),
    cni: new CniClient(cniPath(ctx.env)),
    runner: ctx.runner,
    libc: ctx.libc,
    firewall,
    // berth's own bridge networks without the plugins (BERTH_CNI_ONLY=1: through them).
    ...(ctx.env("BERTH_CNI_ONLY") === "1" ? {} : { nativeFirewall: firewall }),
    ...(crash === null ? {} : { crash: (p) => crashPoint(crash, `network:${p}`) }),
  };
}

/** The plugins (and tools) a bridge network needs, checked before anything is made. */
export const REQUIRED_PLUGINS = ["bridge", "host-local", "portmap", "firewall", "loopback"];

function which(tool: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      if (Deno.statSync(join(dir, tool)).isFile) return true;
    } catch { /* next */ }
  }
  return false;
}

/** What is missing for bridge networks on this host (empty: nothing). */
export function missingForNetworks(ctx: Context): string[] {
  const dir = cniPath(ctx.env);
  const missing: string[] = [];
  for (const p of REQUIRED_PLUGINS) {
    try {
      if (!Deno.statSync(join(dir, p)).isFile) missing.push(join(dir, p));
    } catch {
      missing.push(join(dir, p));
    }
  }
  for (const t of ["iptables", "unshare"]) if (!which(t)) missing.push(t);
  return missing;
}

/**
 * Validates `--network` and `-p` for a container (`owner`: the sandbox it
 * joins, or null; `config`: its OCI config so far, for its hostname and the
 * mounts a user made on /etc/hosts and /etc/resolv.conf). Touches nothing.
 */
export function planNetwork(
  ctx: Context,
  network: string | null,
  publish: string[],
  owner: ContainerState | null,
  config: OciConfig,
  ip: string | null = null,
  names: NameOptions = NO_NAMES,
): NetPlan {
  const files = planFiles(config, names);
  const ports = publish.map(parsePublish);
  checkOwnPorts(ports);
  if (owner !== null) {
    if (network !== null) {
      throw new InvalidArgument(
        `--network goes with the sandbox's owner "${owner.id}": its members share its network`,
      );
    }
    if (ports.length > 0) {
      throw new InvalidArgument(`-p belongs on the sandbox's owner "${owner.id}"`);
    }
    if (ip !== null) throw new InvalidArgument(`--ip belongs on the sandbox's owner "${owner.id}"`);
    const named = nameOptionGiven(names);
    if (named !== null) {
      throw new InvalidArgument(
        `${named} belongs on the sandbox's owner "${owner.id}": its members share its network files`,
      );
    }
    return { mode: "sandbox", network: null, ports, token: null, owner, ...files };
  }
  // BERTH_NETWORK: the default of --network (the test suite sets "none").
  const name = network ?? (ctx.env("BERTH_NETWORK") || DEFAULT_NETWORK);
  if (name === "none" || name === "host") {
    if (ports.length > 0) {
      throw new InvalidArgument(`-p needs a bridge network, not --network ${name}`);
    }
    if (ip !== null) {
      throw new InvalidArgument(`--ip needs a bridge network, not --network ${name}`);
    }
    const named = nameOptionGiven(names);
    if (named !== null) {
      throw new InvalidArgument(`${named} needs a bridge network, not --network ${name}`);
    }
    return { mode: name, network: null, ports, token: null, owner: null, ...files };
  }
  const net = loadNetwork(contextNetworkPaths(ctx), name);
  if (ip !== null) checkRequestedIp(net, ip);
  if (net.internal && ports.length > 0) {
    throw new InvalidArgument(
      `-p needs a way in from the host: network "${name}" is internal`,
    );
  }
  const missing = missingForNetworks(ctx);
  if (missing.length > 0) {
    throw new RuntimeError(
      `network "${name}" needs the CNI plugins and iptables (missing: ${
        missing.join(", ")
      }): install containernetworking-plugins and iptables, or use --network none`,
    );
  }
  return {
    mode: "cni",
    network: net,
    ports,
    token: newToken(rootTag(ctx.paths.root)),
    ip,
    owner: null,
    ...files,
  };
}

/**
 * `--ip` against the network's definition (its subnet is checked again
 * under the lock at set-up, where `bridge` may have moved).
 */
function checkRequestedIp(net: Network, ip: string): void {
  if (parseIpv4(ip) === null) {
    throw new InvalidArgument(`invalid --ip "${ip}": expected an IPv4 address like 10.89.0.5`);
  }
  if (net.file === null) return; // `bridge` before its subnet is settled
  const s = parseCidr(net.subnet)!;
  if (!contains(s, parseIpv4(ip)!)) {
    throw new InvalidArgument(
      `--ip ${ip} is not a host address of network "${net.name}" (${net.subnet})`,
    );
  }
}

/** The files a container on a network gets, in its bundle. */
export function netFiles(bundle: string): { hosts: string; resolv: string } {
  return { hosts: join(bundle, "hosts"), resolv: join(bundle, "resolv.conf") };
}

function bindMount(destination: string, source: string, ro: boolean) {
  return {
    destination,
    type: "bind",
    source,
    options: ["rbind", "rprivate", ...(ro ? ["ro"] : [])],
  };
}

/**
 * Applies the plan to the config of the container whose bundle is
 * `bundle`: its network namespace, and bind mounts on /etc/hosts and
 * /etc/resolv.conf, except where the config mounts a file of the user's
 * there (`plan.own`), which wins.
 */
export function applyPlan(ctx: Context, config: OciConfig, plan: NetPlan, bundle: string): void {
  const linux = (config.linux ??= {});
  const namespaces = Array.isArray(linux.namespaces)
    ? linux.namespaces as { type: string; path?: string }[]
    : [];
  const mounts = Array.isArray(config.mounts) ? [...config.mounts] : [];
  const mountFiles = (files: { hosts: string; resolv: string }, ro: boolean) => {
    if (plan.own.hosts) mounts.push(bindMount(NET_FILES.hosts, files.hosts, ro));
    if (plan.own.resolv) mounts.push(bindMount(NET_FILES.resolv, files.resolv, ro));
  };
  switch (plan.mode) {
    case "none":
      return;
    case "host":
      linux.namespaces = namespaces.filter((n) => n.type !== "network");
      mountFiles({ hosts: "/etc/hosts", resolv: "/etc/resolv.conf" }, true);
      break;
    case "sandbox": {
      if (plan.owner?.net === undefined) return;
      mountFiles(netFiles(plan.owner.bundle), false);
      break;
    }
    case "cni": {
      const path = netnsFile(contextNetworkPaths(ctx), plan.token!);
      linux.namespaces = [
        ...namespaces.filter((n) => n.type !== "network"),
        { type: "network", path },
      ];
      mountFiles(netFiles(bundle), false);
      break;
    }
  }
  config.mounts = mounts;
}

/** What a container records before its network is set up. */
export function recordedNetwork(plan: NetPlan): Pick<ContainerState, "network" | "net"> {
  if (plan.mode === "cni") {
    return {
      network: { name: plan.network!.name, ip: null },
      net: { token: plan.token!, ports: plan.ports },
    };
  }
  if (plan.mode === "sandbox") return { network: plan.owner?.network ?? null };
  if (plan.mode === "host") return { network: { name: "host", ip: null } };
  return { network: null };
}

/**
 * The container's resolv.conf from the host's (see _resolv_conf.ts), and
 * the warning to print when it names no server (null when it names one).
 */
export function containerResolvConf(
  id: string,
  read: (path: string) => string | null = readOrNull,
): { text: string; warning: string | null } {
  const r = containerResolv(read(HOST_RESOLV_CONF) ?? "", read);
  return { text: r.text, warning: r.nameservers.length > 0 ? null : noServerWarning(id, r) };
}

/**
 * The container's /etc/hosts, as podman writes it: localhost, then its
 * address with its hostname (`--hostname`, else the ID's) and its name.
 */
export function containerHosts(ip: string, hostname: string, id: string): string {
  const names = hostname === id ? id : `${hostname} ${id}`;
  return [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${ip}\t${names}`,
    "",
  ].join("\n");
}

/** A network set-up's last step: see {@linkcode setUpNetwork}. */
export type FinishNetwork = () => Promise<void>;

/** A finish with nothing left to do. */
const FINISHED: FinishNetwork = () => Promise.resolve();

/**
 * Sets up the recorded network of `s` (mode cni): the attachment, then
 * the bundle's hosts and resolv.conf. Sets `s.network.ip`. Returns the
 * set-up's last step, which the caller must run on every path: the
 * firewall rules of berth's own bridge networks, deferred so that they
 * are made while the monitor launches the container (the caller starts it
 * once the launch is asked for, and awaits it before the container counts
 * as made); nothing for others. Its failure tears the attachment down.
 */
export async function setUpNetwork(
  ctx: Context,
  s: ContainerState,
  plan: NetPlan,
): Promise<FinishNetwork> {
  if (plan.mode !== "cni" || s.net === undefined) return FINISHED;
  const env = netEnv(ctx);
  const { ip, finish } = await setUp(env, {
    deferRules: true,
    token: s.net.token,
    ns: s.namespace,
    id: s.id,
    network: plan.network!.name,
    // Under the host-wide lock: `bridge`'s definition settled (written,
    // or moved off a subnet another interface took), stale bridges gone.
    conf: async () => {
      const net = await ensureNetwork(env.paths, ctx.runner, plan.network!.name);
      // portmap only where there is a port to map: two plugin runs fewer per
      // container (the record keeps this list, so DEL runs the same one).
      return plan.ports.length > 0 ? net.conf : {
        ...net.conf,
        plugins: net.conf.plugins.filter((p) => p.type !== "portmap"),
      };
    },
    ports: plan.ports,
    ip: plan.ip ?? null,
    internal: plan.network!.internal,
    ownerAlive: (r) => ownerHolds(ctx, r),
  });
  try {
    const net = plan.network!;
    const dns = hasDns(net);
    if (dns) {
      // Before the container's process exists: the resolver knows it when it first asks.
      await recordNames(
        ctx,
        s,
        s.net.token,
        net,
        ip,
        plan.names.aliases,
        netnsFile(env.paths, s.net.token),
      );
      env.crash?.("dns");
    }
    // Both files are written, also one the container mounts a file of its
    // own over: a sandbox member mounts its owner's.
    const resolv = plan.names.dns.length > 0
      ? { text: resolvWith(plan.names.dns), warning: null }
      : dns
      ? { text: resolvWith([net.gateway]), warning: null }
      : containerResolvConf(s.id);
    if (resolv.warning !== null && plan.own.resolv) {
      ctx.io.err(`berth: warning: ${resolv.warning}\n`);
    }
    const files = netFiles(s.bundle);
    Deno.writeTextFileSync(files.resolv, resolv.text, { mode: 0o644 });
    const hosts = containerHosts(ip, plan.hostname ?? hostnameOf(s.id), s.id) +
      addHostLines(plan.names.addHost).map((l) => `${l}\n`).join("");
    Deno.writeTextFileSync(files.hosts, hosts, { mode: 0o644 });
    s.network = { name: net.name, ip };
    if (dns) await startResolver(ctx, net.name, net.gateway);
  } catch (err) {
    // What it holds is released (the caller's undo takes the attachment back).
    await finish().catch(() => {});
    throw err;
  }
  return finish;
}

/**
 * True for a network whose containers resolve each other's names: every
 * one but `bridge` and those made with `--disable-dns`.
 */
export function hasDns(net: Network): boolean {
  return net.dnsEnabled && net.name !== DEFAULT_NETWORK && net.gateway !== "";
}

/**
 * A resolv.conf naming `servers`, with the host's `search` and `options`
 * (a container on a network with DNS asks its gateway, the resolver).
 */
export function resolvWith(servers: string[], host = readOrNull(HOST_RESOLV_CONF) ?? ""): string {
  const parts = parseResolvConf(host);
  const lines = servers.map((n) => `nameserver ${n}`);
  if (parts.search.length > 0) lines.push(`search ${parts.search.join(" ")}`);
  if (parts.options.length > 0) lines.push(`options ${parts.options.join(" ")}`);
  return lines.map((l) => `${l}\n`).join("");
}

/** Makes sure the resolver listens on `gateway` (warns when it does not come up). */
async function startResolver(ctx: Context, network: string, gateway: string): Promise<void> {
  const ok = await ensureResolver(
    { self: ctx.self, sleep: (ms) => ctx.clock.sleep(ms) },
    dnsDir(contextNetworkPaths(ctx).runDir),
    gateway,
  );
  if (!ok) {
    const why = udpListening("0.0.0.0", 53)
      ? "another program listens on UDP port 53 of every address"
      : `it did not start within ${RESOLVER_START_TIMEOUT_MS} ms`;
    ctx.io.err(
      `berth: warning: no name resolver on ${gateway}:53 (${why}): ` +
        `names on network "${network}" do not resolve\n`,
    );
  }
}

/** After `rename`: the container's record names it by its new name (and its aliases). */
export async function renameDnsRecord(ctx: Context, s: ContainerState): Promise<void> {
  if (s.net === undefined) return;
  const dir = dnsDir(contextNetworkPaths(ctx).runDir);
  for (const token of [s.net.token, ...(s.nets ?? []).map((n) => n.token)]) {
    const r = readDnsRecord(dir, token);
    if (r === null) continue;
    await writeDnsRecord(dir, { ...r, names: dnsNames(s, s.request?.networkAlias ?? []) });
  }
}

/**
 * Before a stopped container on a network with DNS starts again: the
 * resolver may have gone with the last running container.
 */
export async function ensureResolverFor(ctx: Context, s: ContainerState): Promise<void> {
  if (s.net === undefined) return;
  const dir = dnsDir(contextNetworkPaths(ctx).runDir);
  for (const token of [s.net.token, ...(s.nets ?? []).map((n) => n.token)]) {
    const r = readDnsRecord(dir, token);
    if (r !== null) await startResolver(ctx, r.network, r.gateway);
  }
}

/** True when the record's owner exists and names this very attachment. */
function ownerHolds(ctx: Context, r: AttachRecord): boolean {
  if (!isValidId(r.ns) || !isValidId(r.id)) return false;
  try {
    const text = Deno.readTextFileSync(ctx.paths.stateFile(r.ns, r.id));
    const s = JSON.parse(text) as ContainerState;
    return s.net?.token === r.token || (s.nets ?? []).some((n) => n.token === r.token);
  } catch (err) {
    // An unreadable state is not proof that the owner is gone.
    return !(err instanceof Deno.errors.NotFound);
  }
}

/**
 * Releases the networks of `s` (delete, rollback, --rm): those joined
 * later first (their interfaces live in the first one's namespace), then
 * the first; idempotent.
 */
export async function tearDownNetwork(ctx: Context, s: ContainerState): Promise<void> {
  if (s.net === undefined) return;
  const env = netEnv(ctx);
  for (const n of [...(s.nets ?? [])].reverse()) {
    // The name goes first: a record never outlives its attachment (gc relies on it).
    await removeDnsRecord(dnsDir(env.paths.runDir), n.token);
    await tearDown(env, n.token);
  }
  if (await removeDnsRecord(dnsDir(env.paths.runDir), s.net.token)) env.crash?.("del-dns");
  await tearDown(env, s.net.token);
}

/**
 * Writes the DNS record of attachment `token` of `s` on network `net`:
 * the resolver answers its name and `aliases` with `ip` there.
 */
async function recordNames(
  ctx: Context,
  s: ContainerState,
  token: string,
  net: Network,
  ip: string,
  aliases: readonly string[],
  netns: string,
): Promise<void> {
  await writeDnsRecord(dnsDir(contextNetworkPaths(ctx).runDir), {
    token,
    root: ctx.paths.root,
    ns: s.namespace,
    id: s.id,
    network: net.name,
    bridge: net.bridge,
    gateway: net.gateway,
    ip,
    names: dnsNames(s, aliases),
    netns,
  });
}

/** The names a container answers to on a network with DNS: its name, then its aliases. */
function dnsNames(s: ContainerState, aliases: readonly string[]): string[] {
  return [...new Set([nameOf(s).toLowerCase(), ...aliases])];
}

/**
 * `network connect NET NAME`: `s` (loaded under its lock; on a bridge
 * network of its own) gains an interface on network `name` (eth1, eth2,
 * ...) in its namespace. `save` records the state: it runs under the
 * network lock once the attachment is complete, so a berth killed before
 * leaves a record no state names, which the next gc tears down.
 */
export async function connectNetwork(
  ctx: Context,
  s: ContainerState,
  name: string,
  save: () => Promise<void>,
): Promise<string> {
  if (s.net === undefined || s.network === null || s.network === undefined) {
    throw new WrongState(
      `cannot connect "${s.id}" to network "${name}": it has no bridge network of its own`,
    );
  }
  const env = netEnv(ctx);
  const net = loadNetwork(env.paths, name); // unknown: exit 2
  const joined = [s.network.name, ...(s.nets ?? []).map((n) => n.network)];
  if (joined.includes(net.name)) {
    throw new WrongState(`container "${s.id}" is already connected to network "${name}"`);
  }
  const used = new Set((s.nets ?? []).map((n) => n.ifName));
  let i = 1;
  while (used.has(`eth${i}`)) i++;
  const ifName = `eth${i}`;
  const token = newToken(rootTag(ctx.paths.root));
  const first = readRecord(env.paths, s.net.token);
  const { ip } = await setUp(env, {
    token,
    ns: s.namespace,
    id: s.id,
    network: net.name,
    conf: async () => {
      const n = await ensureNetwork(env.paths, ctx.runner, net.name);
      return { ...n.conf, plugins: n.conf.plugins.filter((p) => p.type !== "portmap") };
    },
    ports: [],
    internal: net.internal,
    join: { netns: first?.netns ?? netnsFile(env.paths, s.net.token), ifName },
    ownerAlive: (r) => ownerHolds(ctx, r),
    onAdded: async (ip) => {
      s.nets = [...(s.nets ?? []), { token, network: net.name, ifName, ip }];
      await save();
    },
  });
  if (hasDns(net)) {
    // After the attachment (a record never outlives it), as at set-up: the
    // containers of that network find this one by its name and aliases.
    await recordNames(
      ctx,
      s,
      token,
      net,
      ip,
      s.request?.networkAlias ?? [],
      first?.netns ?? netnsFile(env.paths, s.net.token),
    );
    await startResolver(ctx, net.name, net.gateway);
  }
  return ip;
}

/**
 * `network disconnect NET NAME`: `s` (loaded under its lock) loses its
 * interface on network `name`. The state forgets it first (`save`), then
 * it is torn down: killed between, gc tears down the record no state names.
 */
export async function disconnectNetwork(
  ctx: Context,
  s: ContainerState,
  name: string,
  save: () => Promise<void>,
): Promise<void> {
  const extra = (s.nets ?? []).find((n) => n.network === name);
  if (extra === undefined) {
    if (s.network?.name === name) {
      throw new WrongState(
        `cannot disconnect "${s.id}" from network "${name}": it is the network it was created on`,
      );
    }
    throw new WrongState(`container "${s.id}" is not connected to network "${name}"`);
  }
  s.nets = (s.nets ?? []).filter((n) => n.token !== extra.token);
  if (s.nets.length === 0) delete s.nets;
  await save();
  crashPoint(ctx.crashAt, "connect:forgotten");
  const env = netEnv(ctx);
  await removeDnsRecord(dnsDir(env.paths.runDir), extra.token);
  await tearDown(env, extra.token);
}

/**
 * For `gc`: what networking left behind for containers that are gone (the
 * firewall rules of networks that are gone, stale bridges and berth's
 * chains: `_sweep.ts`).
 */
export async function networkLeftovers(ctx: Context, dryRun: boolean): Promise<string[]> {
  const env = netEnv(ctx);
  const done = await collectLeftovers(env, (r) => Promise.resolve(ownerHolds(ctx, r)), dryRun);
  // Names whose attachment is gone (a berth killed between the two).
  const names = await removeStaleDnsRecords(
    dnsDir(env.paths.runDir),
    rootTag(ctx.paths.root),
    (token) => readRecord(env.paths, token) !== null,
    dryRun,
  );
  done.push(...names.map((r) => `the DNS record of ${r.ns}/${r.id} (${r.network})`));
  return done;
}
