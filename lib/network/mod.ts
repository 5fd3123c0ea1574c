/**
 * Networks: a container's network namespace, its attachment to a bridge
 * network (berth's own set-up or the CNI plugins'), published ports,
 * firewall rules and the name resolver of its networks.
 *
 * What it offers: the `create`/`run` options of DNS and aliases, parsed
 * ({@linkcode parseDnsServers}, {@linkcode parseAddHosts},
 * {@linkcode parseNetworkAliases}); a container's network, planned into its
 * OCI config, set up, connected, disconnected and torn down
 * ({@linkcode planNetwork}, {@linkcode applyPlan},
 * {@linkcode recordedNetwork}, {@linkcode setUpNetwork},
 * {@linkcode connectNetwork}, {@linkcode disconnectNetwork},
 * {@linkcode tearDownNetwork}); its DNS record and resolver
 * ({@linkcode renameDnsRecord}, {@linkcode ensureResolverFor}); the
 * `network` commands ({@linkcode networkCreate}, {@linkcode networkList},
 * {@linkcode networkInspect}, {@linkcode networkRemove},
 * {@linkcode networkPrune}); what `gc`,
 * `doctor` and `inspect` read or repair ({@linkcode networkLeftovers},
 * {@linkcode staleRuleLeftovers}, {@linkcode sweepNetworks}, {@linkcode missingForNetworks},
 * {@linkcode readRecord}, {@linkcode contextNetworkPaths}); the resolver
 * process itself ({@linkcode runResolver}, {@linkcode HOST_RESOLV_CONF},
 * {@linkcode RESOLVER_V8_FLAGS}); and for `scripts/host_check.ts`
 * {@linkcode parseDump} and {@linkcode bridgeName}.
 *
 * Every berth command loads this module (the `create` option table parses
 * the DNS options), and so does the resolver: only small leaf modules are
 * re-exported statically. Everything else is a function that loads its
 * module on the first call, which is why even the synchronous ones return
 * promises here.
 *
 * This module is the folder's only entry from outside it; the `_`-prefixed
 * modules beside it (and in `dns/`) are private (tests/layers_test.ts
 * checks it).
 *
 * @module
 */

import type * as Attach from "./_attach.ts";
import type * as Container from "./_container.ts";
import type * as Manage from "./_manage.ts";
import type * as Networks from "./_networks.ts";
import type * as StaleRules from "./_stale_rules.ts";
import type * as Sweep from "./_sweep.ts";
import type * as Resolver from "./dns/_resolver.ts";
import { NO_NAMES, planNone } from "./_plan_none.ts";

export type { NetPlan } from "./_container.ts";
export type { Swept } from "./_sweep.ts";
export { parseAddHosts, parseDnsServers, parseNetworkAliases } from "./dns/_options.ts";
export { HOST_RESOLV_CONF } from "./_resolv_conf.ts";
export { RESOLVER_V8_FLAGS } from "./dns/_v8_flags.ts";

const container = () => import("./_container.ts");

/** `create`: the network plan of a container, checked (see `_container.ts`). */
export async function planNetwork(
  ...args: Parameters<typeof Container.planNetwork>
): Promise<ReturnType<typeof Container.planNetwork>> {
  // Without a network, the network stack is not loaded (see _plan_none.ts).
  const [ctx, network, publish, owner, config, ip, names] = args;
  return planNone(ctx, network, publish, owner, config, ip ?? null, names ?? NO_NAMES) ??
    (await container()).planNetwork(...args);
}

/** `create`: a plan written into the container's OCI config (see `_container.ts`). */
export async function applyPlan(...args: Parameters<typeof Container.applyPlan>): Promise<void> {
  if (args[2].mode === "none") return; // nothing to apply
  (await container()).applyPlan(...args);
}

/** `create`: what the container's state records of a plan (see `_container.ts`). */
export async function recordedNetwork(
  ...args: Parameters<typeof Container.recordedNetwork>
): Promise<ReturnType<typeof Container.recordedNetwork>> {
  if (args[0].mode === "none") return { network: null };
  return (await container()).recordedNetwork(...args);
}

/** Sets up a created container's network (see `_container.ts`). */
export async function setUpNetwork(
  ...args: Parameters<typeof Container.setUpNetwork>
): Promise<Container.FinishNetwork> {
  // Only an attachment (mode cni, recorded) is set up.
  if (args[2].mode !== "cni" || args[1].net === undefined) return () => Promise.resolve();
  return await (await container()).setUpNetwork(...args);
}

/** Tears down a container's network, as `delete` does (see `_container.ts`). */
export async function tearDownNetwork(
  ...args: Parameters<typeof Container.tearDownNetwork>
): Promise<void> {
  // Only an attachment is torn down: a container without one loads nothing.
  if (args[1].net === undefined) return;
  await (await container()).tearDownNetwork(...args);
}

/** `network connect` (see `_container.ts`). */
export async function connectNetwork(
  ...args: Parameters<typeof Container.connectNetwork>
): ReturnType<typeof Container.connectNetwork> {
  return await (await container()).connectNetwork(...args);
}

/** `network disconnect` (see `_container.ts`). */
export async function disconnectNetwork(
  ...args: Parameters<typeof Container.disconnectNetwork>
): ReturnType<typeof Container.disconnectNetwork> {
  return await (await container()).disconnectNetwork(...args);
}

/** `doctor`: what the networks lack on this host (see `_container.ts`). */
export async function missingForNetworks(
  ...args: Parameters<typeof Container.missingForNetworks>
): Promise<string[]> {
  return (await container()).missingForNetworks(...args);
}

/** Starts the resolver a container's networks need, if it is not up (see `_container.ts`). */
export async function ensureResolverFor(
  ...args: Parameters<typeof Container.ensureResolverFor>
): Promise<void> {
  await (await container()).ensureResolverFor(...args);
}

/** `rename`: the container's DNS record follows its new name (see `_container.ts`). */
export async function renameDnsRecord(
  ...args: Parameters<typeof Container.renameDnsRecord>
): Promise<void> {
  await (await container()).renameDnsRecord(...args);
}

/** `gc`: the network leftovers of dead containers, removed unless `dryRun` (see `_container.ts`). */
export async function networkLeftovers(
  ...args: Parameters<typeof Container.networkLeftovers>
): Promise<string[]> {
  return await (await container()).networkLeftovers(...args);
}

/** `gc`: firewall rules no attachment owns (see `_stale_rules.ts`). */
export async function staleRuleLeftovers(
  ...args: Parameters<typeof StaleRules.staleRuleLeftovers>
): Promise<string[]> {
  return await (await import("./_stale_rules.ts")).staleRuleLeftovers(...args);
}

/**
 * `gc`: stale bridges and the rules of bridges that are gone, host-wide
 * (see `_sweep.ts`).
 */
export async function sweepNetworks(
  ...args: Parameters<typeof Sweep.sweepNetworks>
): ReturnType<typeof Sweep.sweepNetworks> {
  return await (await import("./_sweep.ts")).sweepNetworks(...args);
}

/** The rules of an `iptables-save` dump, by berth's tags (see `_stale_rules.ts`). */
export async function parseDump(
  ...args: Parameters<typeof StaleRules.parseDump>
): Promise<ReturnType<typeof StaleRules.parseDump>> {
  return (await import("./_stale_rules.ts")).parseDump(...args);
}

/** The attachment record of a container's token (see `_attach.ts`). */
export async function readRecord(
  ...args: Parameters<typeof Attach.readRecord>
): Promise<ReturnType<typeof Attach.readRecord>> {
  return (await import("./_attach.ts")).readRecord(...args);
}

/** The network paths of a context (see `_networks.ts`). */
export async function contextNetworkPaths(
  ...args: Parameters<typeof Networks.contextNetworkPaths>
): Promise<ReturnType<typeof Networks.contextNetworkPaths>> {
  return (await import("./_networks.ts")).contextNetworkPaths(...args);
}

/** The bridge interface's name of a network (see `_networks.ts`). */
export async function bridgeName(...args: Parameters<typeof Networks.bridgeName>): Promise<string> {
  return (await import("./_networks.ts")).bridgeName(...args);
}

/** `network create` (see `_manage.ts`). */
export async function networkCreate(
  ...args: Parameters<typeof Manage.networkCreate>
): ReturnType<typeof Manage.networkCreate> {
  return await (await import("./_manage.ts")).networkCreate(...args);
}

/** `network ls` (see `_manage.ts`). */
export async function networkList(
  ...args: Parameters<typeof Manage.networkList>
): ReturnType<typeof Manage.networkList> {
  return await (await import("./_manage.ts")).networkList(...args);
}

/** `network inspect` (see `_manage.ts`). */
export async function networkInspect(
  ...args: Parameters<typeof Manage.networkInspect>
): ReturnType<typeof Manage.networkInspect> {
  return await (await import("./_manage.ts")).networkInspect(...args);
}

/** `network rm` (see `_manage.ts`). */
export async function networkRemove(
  ...args: Parameters<typeof Manage.networkRemove>
): ReturnType<typeof Manage.networkRemove> {
  return await (await import("./_manage.ts")).networkRemove(...args);
}

/** `network prune`, `system prune` (see `_manage.ts`). */
export async function networkPrune(
  ...args: Parameters<typeof Manage.networkPrune>
): ReturnType<typeof Manage.networkPrune> {
  return await (await import("./_manage.ts")).networkPrune(...args);
}

/** The resolver process, `berth __resolver` (see `dns/_resolver.ts`). */
export async function runResolver(...args: Parameters<typeof Resolver.runResolver>): Promise<void> {
  await (await import("./dns/_resolver.ts")).runResolver(...args);
}
