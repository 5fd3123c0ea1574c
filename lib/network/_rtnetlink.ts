/**
 * Links, addresses and routes over rtnetlink (the messages `ip link`, `ip
 * addr` and `ip route` send), on a socket of one network namespace: what
 * the CNI bridge plugin makes for a container, without its processes.
 * Every request asks for an acknowledgement and is waited for, so a call
 * that returns has taken effect.
 *
 * @module
 */

import { ErrnoError } from "../host/libc.ts";
import { closeFd, netlinkSocket, recvInto, sendAll } from "./_ffi.ts";

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 1;
const NLM_F_DUMP = 0x300;
const NLM_F_ACK = 4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_SETLINK = 19;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFLA_PROTINFO = 12;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_BRPORT_MODE = 4;
const AF_BRIDGE = 7;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const NLA_F_NESTED = 0x8000;
const IFF_UP = 1;
const AF_INET = 2;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_GATEWAY = 5;
const RTA_OIF = 4;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

/** errno values callers tell apart. */
export const EEXIST = 17;
/** No such device. */
export const ENODEV = 19;

const enc = new TextEncoder();

/** A netlink attribute: type and payload (nested ones are built by {@linkcode nest}). */
type Attr = [type: number, payload: Uint8Array];

function align4(n: number): number {
  return (n + 3) & ~3;
}

function attrBytes(attrs: Attr[]): Uint8Array {
  const len = attrs.reduce((s, [, p]) => s + align4(4 + p.length), 0);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  let off = 0;
  for (const [type, p] of attrs) {
    dv.setUint16(off, 4 + p.length, true);
    dv.setUint16(off + 2, type, true);
    out.set(p, off + 4);
    off += align4(4 + p.length);
  }
  return out;
}

function nest(type: number, attrs: Attr[]): Attr {
  return [type | NLA_F_NESTED, attrBytes(attrs)];
}

function str(s: string): Uint8Array {
  return enc.encode(s + "\0");
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function ipv4(a: string): Uint8Array {
  return new Uint8Array(a.split(".").map(Number));
}

/** The 16 bytes of a `struct ifinfomsg`. */
function ifinfo(index = 0, flags = 0, change = 0): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setInt32(4, index, true);
  dv.setUint32(8, flags, true);
  dv.setUint32(12, change, true);
  return b;
}

/** Parses `aa:bb:cc:dd:ee:ff`. */
function mac(text: string): Uint8Array {
  return new Uint8Array(text.split(":").map((h) => parseInt(h, 16)));
}

/** A random locally administered unicast MAC address. */
export function randomMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** One link of {@linkcode Rtnl.links}: what a stale-bridge check reads of it. */
export interface LinkInfo {
  index: number;
  name: string;
  /** `IFLA_INFO_KIND` (`bridge`, `veth`, …), "" when it has none. */
  kind: string;
  /** The index of the bridge it is a port of, 0 when none. */
  master: number;
  /** Its alias (`ip link set … alias`), "" when none. */
  alias: string;
}

const dec = new TextDecoder();

/** The attributes of a message body from `off` to `end`, by type (nesting flag cleared). */
function attrsOf(buf: Uint8Array, off: number, end: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (off + 4 <= end) {
    const len = dv.getUint16(off, true);
    if (len < 4 || off + len > end) break;
    out.set(dv.getUint16(off + 2, true) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

function cString(b: Uint8Array | undefined): string {
  if (b === undefined) return "";
  const nul = b.indexOf(0);
  return dec.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** A socket of one namespace; {@linkcode close} when done. */
export class Rtnl {
  #seq = 1;
  readonly #buf = new Uint8Array(65536);

  private constructor(readonly fd: number) {}

  /** A socket in the namespace bound at `nsPath` (null: the current one). */
  static open(nsPath: string | null = null): Rtnl {
    return new Rtnl(netlinkSocket(nsPath));
  }

  /** Closes the socket. */
  close(): void {
    closeFd(this.fd);
  }

  /**
   * Sends one request and waits for its acknowledgement (or, for a dump,
   * its end); returns the reply messages before it (GET requests), throws
   * ErrnoError on a negative one.
   */
  #request(
    type: number,
    flags: number,
    head: Uint8Array,
    attrs: Attr[],
    what: string,
  ): Uint8Array[] {
    const body = attrBytes(attrs);
    const len = 16 + head.length + body.length;
    const msg = new Uint8Array(len);
    const dv = new DataView(msg.buffer);
    const seq = this.#seq++;
    dv.setUint32(0, len, true);
    dv.setUint16(4, type, true);
    dv.setUint16(6, flags | NLM_F_REQUEST | NLM_F_ACK, true);
    dv.setUint32(8, seq, true);
    msg.set(head, 16);
    msg.set(body, 16 + head.length);
    sendAll(this.fd, msg);
    const replies: Uint8Array[] = [];
    for (;;) {
      const n = recvInto(this.fd, this.#buf);
      const rv = new DataView(this.#buf.buffer, 0, n);
      let off = 0;
      while (off + 16 <= n) {
        const mlen = rv.getUint32(off, true);
        const mtype = rv.getUint16(off + 4, true);
        const mseq = rv.getUint32(off + 8, true);
        if (mlen < 16 || off + mlen > n) return replies;
        if (mseq === seq) {
          if (mtype === NLMSG_DONE) return replies; // the end of a dump
          if (mtype === NLMSG_ERROR) {
            const err = -rv.getInt32(off + 16, true);
            if (err !== 0) throw new ErrnoError(what, err);
            return replies;
          }
          replies.push(this.#buf.slice(off, off + mlen));
        }
        off += align4(mlen);
      }
    }
  }

  /**
   * Every link of the namespace (`ip link show`, one dump): name, kind,
   * master and alias. Read through the socket, so right in any network
   * namespace (sysfs shows the one it was mounted in).
   */
  links(): LinkInfo[] {
    const out: LinkInfo[] = [];
    for (const m of this.#request(RTM_GETLINK, NLM_F_DUMP, ifinfo(), [], "list the links")) {
      if (new DataView(m.buffer).getUint16(4, true) !== RTM_NEWLINK || m.length < 32) continue;
      const a = attrsOf(m, 32, m.length);
      const info = a.get(IFLA_LINKINFO);
      const master = a.get(IFLA_MASTER);
      out.push({
        index: new DataView(m.buffer).getInt32(20, true),
        name: cString(a.get(IFLA_IFNAME)),
        kind: info === undefined ? "" : cString(attrsOf(info, 0, info.length).get(IFLA_INFO_KIND)),
        master: master === undefined || master.length < 4
          ? 0
          : new DataView(master.buffer, master.byteOffset, 4).getUint32(0, true),
        alias: cString(a.get(IFLA_IFALIAS)),
      });
    }
    return out;
  }

  /** The index of link `name`; null when there is none. */
  linkIndex(name: string): number | null {
    try {
      const [reply] = this.#request(
        RTM_GETLINK,
        0,
        ifinfo(),
        [[IFLA_IFNAME, str(name)]],
        `link ${name}`,
      );
      return reply === undefined ? null : new DataView(reply.buffer).getInt32(20, true);
    } catch (err) {
      if (err instanceof ErrnoError && err.errno === ENODEV) return null;
      throw err;
    }
  }

  /**
   * Makes bridge `name` unless it exists; returns its index. Its MAC
   * address is set when it is made (a locally administered one derived from
   * its name): a bridge whose address the kernel chose takes the lowest
   * address of its ports, so it changed when a container's veth joined, and
   * the other containers' ARP entries for the gateway went stale (their
   * queries to the resolver on it timed out for seconds). A bridge made
   * here gets `alias` at once (the kernel ignores an alias in the request
   * that creates a link): `gc`'s sweep takes a bridge without one for
   * nobody's.
   */
  ensureBridge(name: string, alias: string | null = null): number {
    let made = true;
    try {
      this.#request(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        ifinfo(),
        [
          [IFLA_IFNAME, str(name)],
          [IFLA_ADDRESS, bridgeMac(name)],
          nest(IFLA_LINKINFO, [[IFLA_INFO_KIND, str("bridge")]]),
        ],
        `create bridge ${name}`,
      );
    } catch (err) {
      if (!(err instanceof ErrnoError && err.errno === EEXIST)) throw err;
      made = false;
    }
    const index = this.linkIndex(name);
    if (index === null) throw new ErrnoError(`bridge ${name}`, ENODEV);
    if (made && alias !== null) this.setAlias(index, alias);
    return index;
  }

  /** Sets link `index`'s alias (`ip link set … alias`). */
  setAlias(index: number, alias: string): void {
    this.#request(
      RTM_NEWLINK,
      0,
      ifinfo(index),
      [[IFLA_IFALIAS, str(alias)]],
      `set alias of ${index}`,
    );
  }

  /** Sets link `index` up. */
  up(index: number): void {
    this.#request(RTM_NEWLINK, 0, ifinfo(index, IFF_UP, IFF_UP), [], `set link ${index} up`);
  }

  /** Adds `ip/bits` (with its broadcast address) to link `index`; there already is fine. */
  addAddress(index: number, ip: string, bits: number): void {
    const head = new Uint8Array(8);
    head[0] = AF_INET;
    head[1] = bits;
    new DataView(head.buffer).setUint32(4, index, true);
    const n = ipv4(ip);
    const attrs: Attr[] = [[IFA_LOCAL, n], [IFA_ADDRESS, n]];
    if (bits < 31) {
      const v = new DataView(n.buffer.slice(0)).getUint32(0) | (0xffffffff >>> bits);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v >>> 0);
      attrs.push([IFA_BROADCAST, b]);
    }
    try {
      this.#request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, head, attrs, `add ${ip}/${bits}`);
    } catch (err) {
      if (!(err instanceof ErrnoError && err.errno === EEXIST)) throw err;
    }
  }

  /**
   * Makes the veth pair `host` (here, up, a port of bridge `master`) and
   * `peer` (in the namespace open as `nsFd`, with MAC `peerMac`).
   */
  addVeth(host: string, master: number, peer: string, nsFd: number, peerMac: string): void {
    const peerInfo = new Uint8Array([
      ...ifinfo(),
      ...attrBytes([[IFLA_IFNAME, str(peer)], [IFLA_NET_NS_FD, u32(nsFd)], [
        IFLA_ADDRESS,
        mac(peerMac),
      ]]),
    ]);
    this.#request(
      RTM_NEWLINK,
      NLM_F_CREATE | NLM_F_EXCL,
      ifinfo(0, IFF_UP, IFF_UP),
      [
        [IFLA_IFNAME, str(host)],
        [IFLA_MASTER, u32(master)],
        nest(IFLA_LINKINFO, [
          [IFLA_INFO_KIND, str("veth")],
          nest(IFLA_INFO_DATA, [[VETH_INFO_PEER, peerInfo]]),
        ]),
      ],
      `create veth ${host}`,
    );
  }

  /** Turns hairpin mode on for bridge port `index` (`bridge link set dev D hairpin on`). */
  setHairpin(index: number): void {
    const head = ifinfo(index);
    head[0] = AF_BRIDGE;
    this.#request(
      RTM_SETLINK,
      0,
      head,
      [nest(IFLA_PROTINFO, [[IFLA_BRPORT_MODE, new Uint8Array([1])]])],
      `hairpin mode on link ${index}`,
    );
  }

  /** Deletes link `name`; false when there was none. */
  deleteLink(name: string): boolean {
    try {
      this.#request(RTM_DELLINK, 0, ifinfo(), [[IFLA_IFNAME, str(name)]], `delete link ${name}`);
      return true;
    } catch (err) {
      if (err instanceof ErrnoError && err.errno === ENODEV) return false;
      throw err;
    }
  }

  /** Adds the default route via `gateway` on link `index`. */
  addDefaultRoute(index: number, gateway: string): void {
    const head = new Uint8Array([
      AF_INET,
      0,
      0,
      0,
      RT_TABLE_MAIN,
      RTPROT_BOOT,
      0,
      RTN_UNICAST,
      0,
      0,
      0,
      0,
    ]);
    this.#request(
      RTM_NEWROUTE,
      NLM_F_CREATE | NLM_F_EXCL,
      head,
      [[RTA_GATEWAY, ipv4(gateway)], [RTA_OIF, u32(index)]],
      `add the default route via ${gateway}`,
    );
  }
}

/**
 * The MAC address of bridge `name`: locally administered, unicast (first
 * octet 0x02), the other five octets from an FNV-1a hash of the name.
 */
export function bridgeMac(name: string): Uint8Array<ArrayBuffer> {
  let h = 0x811c9dc5;
  const mac = new Uint8Array(6);
  mac[0] = 0x02;
  for (let k = 1; k < 6; k++) {
    for (const c of `${k}:${name}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    mac[k] = h & 0xff;
  }
  return mac;
}
