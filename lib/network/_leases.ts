/**
 * Leases: the host-wide index of network attachments, one file per
 * attachment (`RUNDIR/leases/TOKEN.json`) naming the root's attachment
 * record, the container and the network. They are what lets every root
 * see every other root's containers on the host-wide networks: `network
 * rm` refuses a network a lease holds, `bridge` moves only when none does,
 * and the address allocations (host-wide too) of a lease whose record is
 * gone (its root deleted by hand, or a berth killed between the two
 * removals) are reclaimed.
 *
 * A set-up writes the lease before the record, a tear-down removes it
 * after the record, both under the host-wide network lock: a lease
 * without its record is always dead.
 *
 * @module
 */

import { writeFileAtomic } from "../host/atomic_file.ts";
import { isNotFound } from "../host/errors.ts";
import { join } from "../_std/path.ts";

/** What a lease file holds. */
export interface Lease {
  token: string;
  network: string;
  /** The attachment record of the owning root (absolute path). */
  record: string;
  ns: string;
  id: string;
}

const TOKEN_RE = /^[0-9a-f]{16}(?:[0-9a-f]{8})?$/;

function dir(runDir: string): string {
  return join(runDir, "leases");
}

/** Writes `lease` (the caller holds the host-wide network lock). */
export async function writeLease(runDir: string, lease: Lease): Promise<void> {
  Deno.mkdirSync(dir(runDir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir(runDir), `${lease.token}.json`), JSON.stringify(lease));
}

/** Removes the lease of `token` (none is no error). */
export function removeLease(runDir: string, token: string): void {
  try {
    Deno.removeSync(join(dir(runDir), `${token}.json`));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Every lease (unreadable ones skipped). */
export function listLeases(runDir: string): Lease[] {
  const out: Lease[] = [];
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir(runDir))].map((e) => e.name);
  } catch (err) {
    if (isNotFound(err)) return out;
    throw err;
  }
  for (const name of names) {
    if (!name.endsWith(".json") || !TOKEN_RE.test(name.slice(0, -5))) continue;
    try {
      const l = JSON.parse(Deno.readTextFileSync(join(dir(runDir), name))) as Lease;
      if (typeof l.record === "string" && typeof l.network === "string") out.push(l);
    } catch { /* being replaced, or garbage: not a lease */ }
  }
  return out;
}

/** True while the lease's attachment record exists. */
export function leaseLive(l: Lease): boolean {
  try {
    Deno.statSync(l.record);
    return true;
  } catch {
    return false;
  }
}
