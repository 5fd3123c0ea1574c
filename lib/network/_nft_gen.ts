/**
 * Knowing without an `iptables-save` that a bridge's rules are still
 * there: nf_tables counts every change of a network namespace's rules in
 * a generation ID (`NFT_MSG_GETGEN`, what `nft monitor` and iptables-nft
 * read), and every `iptables` of the nf_tables variant commits through
 * it. After a listing showed a bridge's rules complete, berth writes the
 * ID it read just before that listing in a mark (`/run/berth-firewall.d/
 * BRIDGE`, with the namespace's inode); a later set-up that reads the
 * same ID knows nothing changed since, so the rules are still there, and
 * runs no iptables at all. Any change by anyone moves the ID, and the
 * next set-up lists again.
 *
 * Only where `iptables-save` is the nf_tables variant (the legacy one
 * changes rules that the ID does not count); elsewhere no mark is read.
 *
 * @module
 */

import { closeFd, NETLINK_NETFILTER, netlinkSocket, recvInto, sendAll } from "./_ffi.ts";

/** Where the marks are (root's /run: one per bridge, for every root on the host). */
export const MARK_DIR = "/run/berth-firewall.d";

/**
 * The mark of portmap's side (not a bridge's): what a listing at its
 * generation showed of the ports forwarded on the host and of portmap's
 * shared chains (`_native.ts`).
 */
export const PORTS_MARK = ".ports";

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;
const NLM_F_REQUEST = 1;

let nftVariant: boolean | null = null;

/** Whether the `iptables-save` on `PATH` is the nf_tables variant. */
function isNftVariant(): boolean {
  if (nftVariant !== null) return nftVariant;
  nftVariant = false;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    if (dir === "") continue;
    try {
      const real = Deno.realPathSync(`${dir}/iptables-save`);
      nftVariant = /xtables-nft-multi$|iptables-nft-save$/.test(real);
      break;
    } catch { /* next */ }
  }
  return nftVariant;
}

/**
 * The current network namespace's nf_tables generation ID; null where it
 * cannot be read or does not count iptables' changes.
 */
export function nftGeneration(): number | null {
  if (!isNftVariant()) return null;
  let fd: number;
  try {
    fd = netlinkSocket(null, NETLINK_NETFILTER);
  } catch {
    return null;
  }
  try {
    const msg = new Uint8Array(20);
    const dv = new DataView(msg.buffer);
    dv.setUint32(0, 20, true);
    dv.setUint16(4, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, true);
    dv.setUint16(6, NLM_F_REQUEST, true);
    dv.setUint32(8, 1, true);
    // nfgenmsg: family AF_UNSPEC, version 0, res_id 0.
    sendAll(fd, msg);
    const buf = new Uint8Array(4096);
    const n = recvInto(fd, buf);
    const rv = new DataView(buf.buffer, 0, n);
    if (n < 20 || rv.getUint16(4, true) !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
      return null;
    }
    const end = Math.min(n, rv.getUint32(0, true));
    for (let off = 20; off + 4 <= end;) {
      const len = rv.getUint16(off, true);
      const type = rv.getUint16(off + 2, true) & 0x3fff;
      if (len < 4) break;
      if (type === NFTA_GEN_ID && len >= 8) return rv.getUint32(off + 4, false);
      off += (len + 3) & ~3;
    }
    return null;
  } catch {
    return null;
  } finally {
    closeFd(fd);
  }
}

function netnsIdentity(): string | null {
  try {
    const st = Deno.statSync("/proc/thread-self/ns/net");
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

function markFile(bridge: string, dir: string): string {
  return `${dir}/${bridge}`;
}

/**
 * Whether bridge `bridge`'s rules were seen complete at generation `gen`
 * (the current one) in this namespace.
 */
export function markCurrent(bridge: string, gen: number | null, dir = MARK_DIR): boolean {
  return readMark(bridge, gen, dir) !== null;
}

/**
 * What mark `name` carries after its first line, where it is current at
 * generation `gen`; null where it is not.
 */
export function readMark(name: string, gen: number | null, dir = MARK_DIR): string | null {
  if (gen === null) return null;
  const ns = netnsIdentity();
  if (ns === null) return null;
  try {
    const text = Deno.readTextFileSync(markFile(name, dir));
    const head = `${ns} ${gen}\n`;
    return text.startsWith(head) ? text.slice(head.length) : null;
  } catch {
    return null;
  }
}

/**
 * Records that bridge `bridge`'s rules were complete in a listing taken at
 * generation `gen`.
 */
export function writeMark(bridge: string, gen: number, dir = MARK_DIR, payload = ""): void {
  const ns = netnsIdentity();
  if (ns === null) return;
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A torn write reads as no match (or a payload that does not parse):
    // one listing more, never a wrong skip.
    Deno.writeTextFileSync(markFile(bridge, dir), `${ns} ${gen}\n${payload}`);
    pruneMarks(dir);
  } catch {
    // Only a shortcut: the next set-up lists again.
  }
}

/** How long a mark nobody wrote is kept (its namespace may be long gone). */
const MARK_TTL_MS = 3600_000;

/**
 * Removes marks not written for {@linkcode MARK_TTL_MS}: those of network
 * namespaces that went without `network rm` (a mark cannot tell whether its
 * namespace lives). One that was still right costs one listing.
 */
function pruneMarks(dir: string): void {
  const now = Date.now();
  try {
    for (const e of Deno.readDirSync(dir)) {
      try {
        const m = Deno.statSync(`${dir}/${e.name}`).mtime?.getTime() ?? now;
        if (now - m > MARK_TTL_MS) Deno.removeSync(`${dir}/${e.name}`);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no directory
  }
}

/** Removes bridge `bridge`'s mark (with its rules). */
export function removeMark(bridge: string, dir = MARK_DIR): void {
  try {
    Deno.removeSync(markFile(bridge, dir));
  } catch {
    // none
  }
}

/**
 * After berth's own change moved the generation from `before` to `after`
 * in exactly `commits` steps (so no one else's change came between, and
 * berth's never removes a network's rules but with the network): every
 * mark that was current at `before` is current at `after`, its payload
 * passed through `edit` (by mark name) where the change altered what it
 * records.
 */
export function advanceMarks(
  before: number | null,
  after: number | null,
  commits: number,
  dir = MARK_DIR,
  edit: (name: string, payload: string) => string = (_, payload) => payload,
): void {
  if (before === null || after === null || ((after - before) >>> 0) !== commits) return;
  const ns = netnsIdentity();
  if (ns === null) return;
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      const text = Deno.readTextFileSync(`${dir}/${name}`);
      if (!text.startsWith(`${ns} ${before}\n`)) continue;
      Deno.writeTextFileSync(
        `${dir}/${name}`,
        `${ns} ${after}\n${edit(name, text.slice(text.indexOf("\n") + 1))}`,
      );
    } catch {
      // gone meanwhile
    }
  }
}

/** Removes every mark of this network namespace (with berth's chains). */
export function removeAllMarks(dir = MARK_DIR): void {
  const ns = netnsIdentity();
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      if (ns === null || Deno.readTextFileSync(`${dir}/${name}`).startsWith(`${ns} `)) {
        Deno.removeSync(`${dir}/${name}`);
      }
    } catch {
      // gone meanwhile
    }
  }
}
