/**
 * IPv4 UDP sockets for berth's resolver, through libc (FFI): Deno's own
 * UDP API (`Deno.listenDatagram`) needs `--unstable-net`, and `node:dgram`
 * would load the Node compatibility layer (megabytes of the resolver's
 * memory). Sockets are non-blocking; a receive that would block waits for
 * readability in the terminal code's shared `poll(2)` (`Poller`), so any
 * number of sockets costs one thread of Deno's blocking pool.
 *
 * @module
 */

import { errno, ErrnoError, libcGroup } from "../../host/libc.ts";
import { EAGAIN, Poller, POLLIN, terminalLibc } from "../../terminal/mod.ts";
import { parseIpv4 } from "./_message.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EADDRNOTAVAIL = 99;
const EADDRINUSE = 98;

const sym = libcGroup({
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "isize",
  },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
});

let poller: Poller | null = null;

/** A `struct sockaddr_in` for `ip:port`. */
export function sockaddrIn(ip: string, port: number): Uint8Array<ArrayBuffer> {
  const octets = parseIpv4(ip);
  if (octets === null) throw new Error(`not an IPv4 address: ${ip}`);
  const out = new Uint8Array(16);
  out[0] = AF_INET;
  out[2] = (port >> 8) & 0xff;
  out[3] = port & 0xff;
  out.set(octets, 4);
  return out;
}

/** The address of a `struct sockaddr_in`. */
export function addressOf(sa: Uint8Array): { ip: string; port: number } {
  return { ip: `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}`, port: (sa[2]! << 8) | sa[3]! };
}

/** One datagram received. */
export interface Datagram {
  data: Uint8Array;
  /** The sender's `struct sockaddr_in` (to answer it). */
  from: Uint8Array<ArrayBuffer>;
}

/** A non-blocking IPv4 UDP socket. */
export class UdpSocket {
  #closed = false;
  private constructor(readonly fd: number) {}

  static #open(): UdpSocket {
    const fd = sym().socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new ErrnoError("socket(AF_INET, SOCK_DGRAM)", errno());
    return new UdpSocket(fd);
  }

  /** A socket bound to `ip:port` (`EADDRNOTAVAIL`, `EADDRINUSE` as ErrnoError). */
  static bind(ip: string, port: number): UdpSocket {
    const s = UdpSocket.#open();
    const sa = sockaddrIn(ip, port);
    if (sym().bind(s.fd, sa, sa.length) !== 0) {
      const e = errno();
      s.close();
      throw new ErrnoError(`bind ${ip}:${port}`, e);
    }
    return s;
  }

  /** A socket connected to `ip:port` (it receives only from there). */
  static connect(ip: string, port: number): UdpSocket {
    const s = UdpSocket.#open();
    const sa = sockaddrIn(ip, port);
    if (sym().connect(s.fd, sa, sa.length) !== 0) {
      const e = errno();
      s.close();
      throw new ErrnoError(`connect ${ip}:${port}`, e);
    }
    return s;
  }

  /** Receives one datagram; null once the socket is closed. */
  async receive(): Promise<Datagram | null> {
    const buf = new Uint8Array(4096);
    const from = new Uint8Array(16);
    const len = new Uint8Array(4);
    for (;;) {
      if (this.#closed) return null;
      new DataView(len.buffer).setUint32(0, 16, true);
      const n = Number(sym().recvfrom(this.fd, buf, BigInt(buf.length), 0, from, len));
      if (n >= 0) return { data: buf.slice(0, n), from };
      const e = errno();
      if (e !== EAGAIN && e !== 4 /* EINTR */) {
        // ECONNREFUSED on a connected socket (an ICMP unreachable): no answer from there.
        if (e === 111) return null;
        throw new ErrnoError("recvfrom", e);
      }
      await (poller ??= new Poller(terminalLibc)).wait(this.fd, POLLIN);
    }
  }

  /** Sends `data` to `to` (a `struct sockaddr_in`), or to the connected peer; false if it failed. */
  send(data: Uint8Array, to: Uint8Array<ArrayBuffer> | null = null): boolean {
    const payload = data as Uint8Array<ArrayBuffer>;
    const n = sym().sendto(this.fd, payload, BigInt(data.length), 0, to, to === null ? 0 : 16);
    return Number(n) === data.length;
  }

  /** Closes the socket; a pending {@linkcode receive} resolves with null. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    poller?.cancel(this.fd);
    sym().close(this.fd);
  }
}

/** True for an error binding an address that is not (or not yet) the host's. */
export function isAddressNotAvailable(err: unknown): boolean {
  return err instanceof ErrnoError && err.errno === EADDRNOTAVAIL;
}

/** True for an error binding an address and port something else holds. */
export function isAddressInUse(err: unknown): boolean {
  return err instanceof ErrnoError && err.errno === EADDRINUSE;
}
