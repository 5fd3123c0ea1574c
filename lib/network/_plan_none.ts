/**
 * The network plan of a container without a network (`--network none`),
 * made without loading the network stack: `_container.ts` and the CNI,
 * firewall and DNS modules it loads cost a `run -d` and a `delete` about
 * 2 ms of start-up each, for nothing to do. Also the small parts of a plan
 * every mode shares (the files a config leaves to berth, its hostname,
 * the name options), which `_container.ts` uses.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import type { OciConfig } from "../host/spec.ts";
import type { NameOptions, NetPlan } from "./_container.ts";

/** No name options. */
export const NO_NAMES: NameOptions = { dns: [], addHost: [], aliases: [] };

/** The first name option given (for an error where they cannot apply), or null. */
export function nameOptionGiven(names: NameOptions): string | null {
  if (names.dns.length > 0) return "--dns";
  if (names.addHost.length > 0) return "--add-host";
  if (names.aliases.length > 0) return "--network-alias";
  return null;
}

/** The mount destinations berth fills in on a network (a user's own mount there wins). */
export const NET_FILES = { hosts: "/etc/hosts", resolv: "/etc/resolv.conf" } as const;

/** What of the network files the config leaves to berth: those it does not mount itself. */
export function ownFiles(config: OciConfig): { hosts: boolean; resolv: boolean } {
  const mounts = Array.isArray(config.mounts) ? config.mounts as { destination?: unknown }[] : [];
  const taken = new Set(
    mounts.map((m) => typeof m.destination === "string" ? normalizeDest(m.destination) : ""),
  );
  return { hosts: !taken.has(NET_FILES.hosts), resolv: !taken.has(NET_FILES.resolv) };
}

/** `/etc//hosts/` and `/etc/hosts` are one destination. */
function normalizeDest(d: string): string {
  return ("/" + d.split("/").filter((p) => p !== "" && p !== ".").join("/"));
}

/** What every plan records of the config and the name options. */
export function planFiles(
  config: OciConfig,
  names: NameOptions,
): Pick<NetPlan, "names" | "hostname" | "own"> {
  return {
    names,
    // A config's own hostname goes in only as one word (a bundle's config is not checked).
    hostname: typeof config.hostname === "string" && /^[A-Za-z0-9._-]+$/.test(config.hostname)
      ? config.hostname
      : null,
    own: ownFiles(config),
  };
}

/**
 * The plan `planNetwork` makes for a container that asks for no network
 * (`--network none`, or no `--network` and `BERTH_NETWORK=none`) and
 * nothing that needs one (no sandbox, `-p`, `--ip` or name options); null
 * for any other request, which the network stack plans (and refuses).
 */
export function planNone(
  ctx: Context,
  network: string | null,
  publish: readonly string[],
  owner: ContainerState | null,
  config: OciConfig,
  ip: string | null,
  names: NameOptions,
): NetPlan | null {
  const name = network ?? ctx.env("BERTH_NETWORK");
  if (name !== "none" || owner !== null || publish.length > 0 || ip !== null) return null;
  if (nameOptionGiven(names) !== null) return null;
  return {
    mode: "none",
    network: null,
    ports: [],
    token: null,
    owner: null,
    ...planFiles(config, names),
  };
}
