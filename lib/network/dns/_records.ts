/**
 * The names berth's resolver answers: one small record per container on a
 * network with DNS (every network but the default `bridge`), written when
 * its attachment is set up, removed before it is torn down, in the
 * resolver's directory ({@linkcode dnsDir}) under that directory's lock.
 *
 * A record is named after the container's attachment token (unique on the
 * host, its first 8 hex digits the root's tag), so a root's `gc` finds its
 * own records whose attachment is gone and removes them. The resolver
 * reads the whole directory again whenever it changes.
 *
 * @module
 */

import { join } from "../../_std/path.ts";
import { isTempName, writeFileAtomic } from "../../host/atomic_file.ts";
import { isNotFound } from "../../host/errors.ts";
import { FileLock } from "../../host/lock.ts";

/**
 * The resolver's directory (its lock, pid file and the records of every
 * root): `dns/` in the host-wide network run directory (lib/network/
 * _host_paths.ts), so it moves with `--network-dir` and a test that moves
 * that directory has a resolver of its own.
 */
export function dnsDir(networkRunDir: string): string {
  return join(networkRunDir, "dns");
}

/** The resolver's lock (held while it runs), in its directory. */
export const RESOLVER_LOCK = "resolver.lock";
/** The resolver's pid file: who to send SIGHUP to. */
export const RESOLVER_PID = "resolver.pid";

/** What the resolver knows of one container. */
export interface DnsRecord {
  /** The attachment token (the file's name). */
  token: string;
  /** The container's root, namespace and ID: names resolve only within one root and namespace. */
  root: string;
  ns: string;
  id: string;
  /** The network's name and bridge device (the bridge names the network on the host). */
  network: string;
  bridge: string;
  /** The network's gateway, where the resolver listens. */
  gateway: string;
  /** The container's address on it. */
  ip: string;
  /** The names it is found by: its name and its `--network-alias`es, lower case. */
  names: string[];
  /** Its network namespace file (the resolver runs while a process is in one of them). */
  netns: string;
}

const TOKEN_RE = /^[0-9a-f]{16,24}$/;

/** The records' directory. */
export function recordsDir(dir: string): string {
  return join(dir, "records");
}

function recordFile(dir: string, token: string): string {
  if (!TOKEN_RE.test(token)) throw new Error(`invalid record token "${token}"`);
  return join(recordsDir(dir), `${token}.json`);
}

/** Runs `fn` under the DNS directory's lock. */
export async function withDnsLock<T>(dir: string, fn: () => Promise<T> | T): Promise<T> {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = await FileLock.acquire(join(dir, "lock"), "the DNS records", { timeoutMs: 30_000 });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Writes (or replaces) a container's record. */
export async function writeDnsRecord(dir: string, r: DnsRecord): Promise<void> {
  await withDnsLock(dir, async () => {
    Deno.mkdirSync(recordsDir(dir), { recursive: true, mode: 0o700 });
    await writeFileAtomic(recordFile(dir, r.token), JSON.stringify(r));
  });
}

/** Removes the record of attachment `token`; false when there was none. */
export async function removeDnsRecord(dir: string, token: string): Promise<boolean> {
  try {
    Deno.statSync(recordFile(dir, token));
  } catch (err) {
    if (isNotFound(err)) return false; // the common case: no lock taken
    throw err;
  }
  return await withDnsLock(dir, () => removeLocked(dir, token));
}

function removeLocked(dir: string, token: string): boolean {
  try {
    Deno.removeSync(recordFile(dir, token));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** The record of attachment `token`, or null. */
export function readDnsRecord(dir: string, token: string): DnsRecord | null {
  try {
    const r = JSON.parse(Deno.readTextFileSync(recordFile(dir, token))) as DnsRecord;
    return isRecord(r) ? r : null;
  } catch {
    return null;
  }
}

/** Every readable record (a half-written or foreign file is skipped). */
export function listDnsRecords(dir: string): DnsRecord[] {
  const out: DnsRecord[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(recordsDir(dir))];
  } catch (err) {
    if (isNotFound(err)) return out;
    throw err;
  }
  for (const e of entries) {
    if (!e.isFile || !e.name.endsWith(".json") || !TOKEN_RE.test(e.name.slice(0, -5))) continue;
    try {
      const r = JSON.parse(Deno.readTextFileSync(join(recordsDir(dir), e.name))) as DnsRecord;
      if (isRecord(r) && r.token === e.name.slice(0, -5)) out.push(r);
    } catch { /* removed meanwhile, or not ours */ }
  }
  return out;
}

function isRecord(r: DnsRecord): boolean {
  return typeof r === "object" && r !== null && typeof r.ip === "string" &&
    typeof r.gateway === "string" && typeof r.bridge === "string" && Array.isArray(r.names) &&
    r.names.every((n) => typeof n === "string") && typeof r.root === "string" &&
    typeof r.ns === "string" && typeof r.netns === "string";
}

/**
 * For `gc`: removes the records of root tag `tag` whose attachment is gone
 * (`attached(token)` false), under the lock; returns what it removed (or
 * would, with `dryRun`).
 */
export async function removeStaleDnsRecords(
  dir: string,
  tag: string,
  attached: (token: string) => boolean,
  dryRun: boolean,
): Promise<DnsRecord[]> {
  try {
    Deno.statSync(recordsDir(dir));
  } catch {
    return [];
  }
  return await withDnsLock(dir, () => {
    const stale = listDnsRecords(dir).filter((r) =>
      r.token.length === 24 && r.token.startsWith(tag) && !attached(r.token)
    );
    if (!dryRun) {
      for (const r of stale) removeLocked(dir, r.token);
      // Records are written under the lock: a temporary of this root's left now is a killed write's.
      for (const e of Deno.readDirSync(recordsDir(dir))) {
        if (isTempName(e.name) && e.name.startsWith(`.${tag}`)) {
          try {
            Deno.removeSync(join(recordsDir(dir), e.name));
          } catch { /* gone */ }
        }
      }
    }
    return stale;
  });
}
