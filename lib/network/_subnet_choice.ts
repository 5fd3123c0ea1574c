/**
 * Which subnets are taken on this host, and the choice of a free one.
 *
 * Taken means routed by an interface (other than the network's own
 * bridge), defined by another berth network, or defined in podman's
 * network configuration (`/etc/containers/networks/*.json`, netavark's
 * format; and 10.88.0.0/16, podman's built-in `podman` network, whenever
 * podman is installed). `bridge` takes 10.88.0.0/16 when that is free,
 * else the first free /16 from 10.90.0.0/16 upwards (docker's default
 * address pools work this way); a network created without `--subnet` the
 * first free /24 of 10.89.0.0/16 (podman's range).
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { overlaps, parseCidr, type Subnet } from "./_subnet.ts";

/** podman's network configuration directory. */
export const PODMAN_NETWORKS_DIR = "/etc/containers/networks";
/** podman's default network's subnet (not written to its directory). */
export const PODMAN_DEFAULT_SUBNET = "10.88.0.0/16";

/** The subnets podman's network files define (malformed files and entries skipped). */
export function podmanSubnets(
  dir: string = PODMAN_NETWORKS_DIR,
  installed: boolean = podmanInstalled(),
): Subnet[] {
  const out: Subnet[] = installed ? [parseCidr(PODMAN_DEFAULT_SUBNET)!] : [];
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".json"))
      .map((e) => e.name);
  } catch { /* none */ }
  for (const name of names) {
    try {
      const conf = JSON.parse(Deno.readTextFileSync(join(dir, name))) as {
        subnets?: { subnet?: unknown }[];
      };
      for (const s of Array.isArray(conf.subnets) ? conf.subnets : []) {
        const sub = typeof s?.subnet === "string" ? parseCidr(s.subnet, false) : null;
        if (sub !== null) out.push(sub);
      }
    } catch { /* not podman's format: nothing taken */ }
  }
  return out;
}

/** Whether a `podman` binary is on PATH (or in /usr/bin). */
export function podmanInstalled(
  path: string = Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
): boolean {
  return [...path.split(":"), "/usr/bin"].some((dir) => {
    try {
      return dir !== "" && Deno.statSync(join(dir, "podman")).isFile;
    } catch {
      return false;
    }
  });
}

/** `bridge`'s candidates, in order: 10.88.0.0/16, then 10.90.0.0/16 … 10.255.0.0/16. */
export function bridgeCandidates(): Subnet[] {
  const out = [parseCidr("10.88.0.0/16")!];
  for (let b = 90; b < 256; b++) out.push(parseCidr(`10.${b}.0.0/16`)!);
  return out;
}

/** The candidates of a network created without `--subnet`: the /24s of 10.89.0.0/16. */
export function networkCandidates(): Subnet[] {
  const out: Subnet[] = [];
  for (let i = 0; i < 256; i++) out.push(parseCidr(`10.89.${i}.0/24`)!);
  return out;
}

/** The first candidate no taken subnet overlaps, or null. */
export function firstFree(candidates: readonly Subnet[], taken: readonly Subnet[]): Subnet | null {
  return candidates.find((c) => !taken.some((t) => overlaps(t, c))) ?? null;
}
