/**
 * The DNS wire format, as much as berth's resolver needs (RFC 1035): read
 * a query's one question, build an `A` answer or an error for it, and
 * check and re-address an upstream server's reply before it is relayed.
 *
 * @module
 */

/** Resource record types berth's resolver tells apart. */
export const TYPE_A = 1;
/** `AAAA`: berth's bridges are IPv4 only; a local name has none. */
export const TYPE_AAAA = 28;
/** Class IN. */
export const CLASS_IN = 1;

/** Response codes. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** The size of a DNS header. */
export const HEADER_SIZE = 12;

/** A query's header and its one question. */
export interface Query {
  id: number;
  /** Recursion desired (copied into the answer). */
  rd: boolean;
  /** The name asked for: lower case, no trailing dot (`""` for the root). */
  name: string;
  type: number;
  class: number;
  /** The question's bytes (`[12, questionEnd)`), copied into the answer. */
  questionEnd: number;
}

/**
 * Reads a query: a standard query (QR 0, opcode 0) with exactly one
 * question whose name has no compression pointer. Null for anything else
 * (a reply, a truncated or malformed message, another opcode).
 */
export function parseQuery(msg: Uint8Array): Query | null {
  if (msg.length < HEADER_SIZE) return null;
  const flags = (msg[2]! << 8) | msg[3]!;
  if ((flags & 0x8000) !== 0 || ((flags >> 11) & 0xf) !== 0) return null;
  if (u16(msg, 4) !== 1) return null;
  const labels: string[] = [];
  let at = HEADER_SIZE;
  let total = 0;
  for (;;) {
    if (at >= msg.length) return null;
    const len = msg[at]!;
    at += 1;
    if (len === 0) break;
    if (len > 63) return null; // a pointer (0xc0) or a reserved label type
    if (at + len > msg.length) return null;
    total += len + 1;
    if (total > 254) return null;
    labels.push(asciiLower(msg.subarray(at, at + len)));
    at += len;
  }
  if (at + 4 > msg.length) return null;
  return {
    id: u16(msg, 0),
    rd: (flags & 0x0100) !== 0,
    name: labels.join("."),
    type: u16(msg, at),
    class: u16(msg, at + 2),
    questionEnd: at + 4,
  };
}

/** The ID of a message (0 when it is shorter than a header). */
export function messageId(msg: Uint8Array): number {
  return msg.length >= 2 ? u16(msg, 0) : 0;
}

/**
 * The answer to `q` (read from `query`): authoritative, recursion
 * available, the question echoed, one `A` record per address in `ips`
 * with `ttl` seconds. With no address it is an empty NOERROR answer (the
 * name exists, with no record of that type).
 */
export function buildAnswer(query: Uint8Array, q: Query, ips: string[], ttl: number): Uint8Array {
  const question = query.subarray(HEADER_SIZE, q.questionEnd);
  const out = new Uint8Array(HEADER_SIZE + question.length + ips.length * 16);
  header(out, q, RCODE.NOERROR, ips.length);
  out.set(question, HEADER_SIZE);
  let at = HEADER_SIZE + question.length;
  for (const ip of ips) {
    const octets = parseIpv4(ip);
    if (octets === null) throw new Error(`not an IPv4 address: ${ip}`);
    out.set([0xc0, HEADER_SIZE], at); // the name: a pointer to the question's
    put16(out, at + 2, TYPE_A);
    put16(out, at + 4, CLASS_IN);
    put16(out, at + 6, (ttl >>> 16) & 0xffff);
    put16(out, at + 8, ttl & 0xffff);
    put16(out, at + 10, 4);
    out.set(octets, at + 12);
    at += 16;
  }
  return out;
}

/**
 * An error reply (`rcode`, e.g. NXDOMAIN) to `q`, its question echoed;
 * with `q` null (the query could not be read) a bare header with `id`.
 */
export function buildError(
  query: Uint8Array,
  q: Query | null,
  rcode: number,
  id = messageId(query),
): Uint8Array {
  if (q === null) {
    const out = new Uint8Array(HEADER_SIZE);
    put16(out, 0, id);
    put16(out, 2, 0x8000 | 0x0080 | (rcode & 0xf));
    return out;
  }
  const question = query.subarray(HEADER_SIZE, q.questionEnd);
  const out = new Uint8Array(HEADER_SIZE + question.length);
  header(out, q, rcode, 0);
  out.set(question, HEADER_SIZE);
  return out;
}

/**
 * True when `reply` is an upstream server's answer to the query `sent`:
 * a response (QR 1) with `sent`'s ID and the same question, so a stray or
 * forged datagram is never relayed.
 */
export function isReplyTo(reply: Uint8Array, sent: Uint8Array, q: Query): boolean {
  if (reply.length < q.questionEnd || (reply[2]! & 0x80) === 0) return false;
  if (u16(reply, 0) !== u16(sent, 0) || u16(reply, 4) !== 1) return false;
  for (let i = HEADER_SIZE; i < q.questionEnd; i++) {
    if (lower(reply[i]!) !== lower(sent[i]!)) return false;
  }
  return true;
}

/** A copy of `msg` with its ID set to `id` (a query sent on, a reply relayed back). */
export function withId(msg: Uint8Array, id: number): Uint8Array {
  const out = msg.slice();
  put16(out, 0, id);
  return out;
}

/** Parses a dotted IPv4 address into its four octets, or null. */
export function parseIpv4(ip: string): number[] | null {
  const parts = ip.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    out.push(Number(p));
  }
  return out;
}

function header(out: Uint8Array, q: Query, rcode: number, answers: number): void {
  put16(out, 0, q.id);
  // QR, opcode 0, AA, RD as asked, RA.
  put16(out, 2, 0x8000 | 0x0400 | (q.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf));
  put16(out, 4, 1);
  put16(out, 6, answers);
  put16(out, 8, 0);
  put16(out, 10, 0);
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

function asciiLower(bytes: Uint8Array): string {
  let s = "";
  for (const c of bytes) s += String.fromCharCode(lower(c));
  return s;
}
