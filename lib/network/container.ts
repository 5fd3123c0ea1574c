/**
 * The network side of creating and deleting a container: `--network
 * none|host|bridge|NAME` and `-p` become a plan (validated, touching
 * nothing), the plan edits the OCI config (the network namespace path,
 * the `/etc/hosts` and `/etc/resolv.conf` bind mounts), and set-up and
 * tear-down run the attachment (`attach.ts`). This is the whole hook
 * `create`, `delete` and `gc` have into networking.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { InvalidArgument, RuntimeError } from "../host/errors.ts";
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
  setUp,
  tearDown,
  withNetworkLock,
} from "./attach.ts";
import { iptablesInstalled, NetworkFirewall, rootComment } from "./firewall.ts";
import { CniClient, cniPath } from "./cni.ts";
import {
  DEFAULT_NETWORK,
  firewallTag,
  listNetworks,
  loadNetwork,
  type Network,
  networkPaths,
} from "./networks.ts";
import { checkOwnPorts, parsePublish, type PortMapping } from "./ports.ts";

/** What a container gets, decided before anything is made. */
export interface NetPlan {
  mode: "none" | "host" | "cni" | "sandbox";
  network: Network | null;
  ports: PortMapping[];
  /** The attachment token (cni), or null. */
  token: string | null;
  /** A sandbox member: its owner's network (and bundle, for the files). */
  owner: ContainerState | null;
}

/** The network services of a context. */
export function netEnv(ctx: Context): NetEnv {
  const crash = ctx.crashAt;
  return {
    paths: networkPaths(ctx.paths.root, ctx.paths.dataRoot),
    cni: new CniClient(cniPath(ctx.env)),
    runner: ctx.runner,
    libc: ctx.libc,
    firewall: new NetworkFirewall(ctx.runner),
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
 * joins, or null). Touches nothing.
 */
export function planNetwork(
  ctx: Context,
  network: string | null,
  publish: string[],
  owner: ContainerState | null,
): NetPlan {
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
    return { mode: "sandbox", network: null, ports, token: null, owner };
  }
  // BERTH_NETWORK: the default of --network (the test suite sets "none").
  const name = network ?? (ctx.env("BERTH_NETWORK") || DEFAULT_NETWORK);
  if (name === "none" || name === "host") {
    if (ports.length > 0) {
      throw new InvalidArgument(`-p needs a bridge network, not --network ${name}`);
    }
    return { mode: name, network: null, ports, token: null, owner: null };
  }
  const net = loadNetwork(networkPaths(ctx.paths.root, ctx.paths.dataRoot), name);
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
    owner: null,
  };
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

/** Applies the plan to the config of the container whose bundle is `bundle`. */
export function applyPlan(ctx: Context, config: OciConfig, plan: NetPlan, bundle: string): void {
  const linux = (config.linux ??= {});
  const namespaces = Array.isArray(linux.namespaces)
    ? linux.namespaces as { type: string; path?: string }[]
    : [];
  type Mount = { destination?: unknown };
  const mounts = (Array.isArray(config.mounts) ? config.mounts as Mount[] : []).filter((m) =>
    m.destination !== "/etc/hosts" && m.destination !== "/etc/resolv.conf"
  );
  switch (plan.mode) {
    case "none":
      return;
    case "host":
      linux.namespaces = namespaces.filter((n) => n.type !== "network");
      mounts.push(bindMount("/etc/hosts", "/etc/hosts", true));
      mounts.push(bindMount("/etc/resolv.conf", "/etc/resolv.conf", true));
      break;
    case "sandbox": {
      if (plan.owner?.net === undefined) return;
      const files = netFiles(plan.owner.bundle);
      mounts.push(bindMount("/etc/hosts", files.hosts, false));
      mounts.push(bindMount("/etc/resolv.conf", files.resolv, false));
      break;
    }
    case "cni": {
      const path = netnsFile(networkPaths(ctx.paths.root, ctx.paths.dataRoot), plan.token!);
      linux.namespaces = [
        ...namespaces.filter((n) => n.type !== "network"),
        { type: "network", path },
      ];
      const files = netFiles(bundle);
      mounts.push(bindMount("/etc/hosts", files.hosts, false));
      mounts.push(bindMount("/etc/resolv.conf", files.resolv, false));
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

/** The host's resolv.conf without loopback resolvers (unreachable from a netns). */
export function containerResolvConf(host: string): string {
  return host.split("\n").filter((l) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    return m === null || !(m[1]!.startsWith("127.") || m[1] === "::1");
  }).join("\n").trimEnd() + "\n";
}

/** The container's /etc/hosts. */
export function containerHosts(ip: string, hostname: string, id: string): string {
  const names = hostname === id ? id : `${hostname} ${id}`;
  return [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${ip}\t${names}`,
    "",
  ].join("\n");
}

/**
 * Sets up the recorded network of `s` (mode cni): the attachment, then
 * the bundle's hosts and resolv.conf. Sets `s.network.ip`.
 */
export async function setUpNetwork(ctx: Context, s: ContainerState, plan: NetPlan): Promise<void> {
  if (plan.mode !== "cni" || s.net === undefined) return;
  const env = netEnv(ctx);
  const { ip } = await setUp(env, {
    token: s.net.token,
    ns: s.namespace,
    id: s.id,
    network: plan.network!.name,
    // portmap only where there is a port to map: two plugin runs fewer per
    // container (the record keeps this list, so DEL runs the same one).
    conf: plan.ports.length > 0 ? plan.network!.conf : {
      ...plan.network!.conf,
      plugins: plan.network!.conf.plugins.filter((p) => p.type !== "portmap"),
    },
    ports: plan.ports,
    ownerAlive: (r) => ownerHolds(ctx, r),
  });
  let host = "";
  try {
    host = Deno.readTextFileSync("/etc/resolv.conf");
  } catch { /* no resolver configured */ }
  const files = netFiles(s.bundle);
  Deno.writeTextFileSync(files.resolv, containerResolvConf(host), { mode: 0o644 });
  Deno.writeTextFileSync(files.hosts, containerHosts(ip, hostnameOf(s.id), s.id), {
    mode: 0o644,
  });
  s.network = { name: plan.network!.name, ip };
}

/** True when the record's owner exists and names this very attachment. */
function ownerHolds(ctx: Context, r: AttachRecord): boolean {
  if (!isValidId(r.ns) || !isValidId(r.id)) return false;
  try {
    const text = Deno.readTextFileSync(ctx.paths.stateFile(r.ns, r.id));
    const s = JSON.parse(text) as ContainerState;
    return s.net?.token === r.token;
  } catch (err) {
    // An unreadable state is not proof that the owner is gone.
    return !(err instanceof Deno.errors.NotFound);
  }
}

/** Releases the network of `s` (delete, rollback, --rm); idempotent. */
export async function tearDownNetwork(ctx: Context, s: ContainerState): Promise<void> {
  if (s.net === undefined) return;
  await tearDown(netEnv(ctx), s.net.token);
}

/**
 * For `gc`: what networking left behind for containers that are gone, and
 * the firewall rules of this root's networks that are gone (a data root
 * removed by hand; `network rm` removes its own).
 */
export async function networkLeftovers(ctx: Context, dryRun: boolean): Promise<string[]> {
  const env = netEnv(ctx);
  const done = await collectLeftovers(env, (r) => Promise.resolve(ownerHolds(ctx, r)), dryRun);
  // A root that never had a container on a network made no rule (and gets no lock file).
  if (!isDir(env.paths.stateDir) || !iptablesInstalled()) return done;
  const comment = rootComment(firewallTag(env.paths));
  const stale = await withNetworkLock(env.paths, async () => {
    const bridges = new Set(listNetworks(env.paths).map((n) => n.bridge));
    return await new NetworkFirewall(ctx.runner).remove(
      (b, c) => c === comment && !bridges.has(b),
      dryRun,
    );
  });
  return [...done, ...stale.map((b) => `the firewall rule of bridge ${b}`)];
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
