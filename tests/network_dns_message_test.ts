// The DNS codec of berth's resolver (lib/network/dns/_message.ts), over
// messages built byte by byte here as a stub resolver sends them.

import { assertEquals, assertTrue as assert } from "./assert.ts";
import {
  buildAnswer,
  buildError,
  isReplyTo,
  parseIpv4,
  parseQuery,
  RCODE,
  TYPE_A,
  TYPE_AAAA,
  withId,
} from "../lib/network/dns/_message.ts";

/** A query as musl's and busybox's stub resolvers send it (RD set, one question). */
function query(id: number, name: string, type = TYPE_A, extra: number[] = []): Uint8Array {
  const bytes = [id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, extra.length > 0 ? 1 : 0];
  for (const label of name.split(".").filter((l) => l !== "")) {
    bytes.push(label.length, ...new TextEncoder().encode(label));
  }
  bytes.push(0, type >> 8, type & 255, 0, 1, ...extra);
  return new Uint8Array(bytes);
}

// An EDNS OPT record (udp size 1232), as glibc adds.
const OPT = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];

Deno.test("dns message: a query's id, name (lower case), type and question end", () => {
  const msg = query(0x1234, "Web1.Example", TYPE_A, OPT);
  const q = parseQuery(msg)!;
  assertEquals(q.id, 0x1234);
  assertEquals(q.name, "web1.example");
  assertEquals(q.type, TYPE_A);
  assertEquals(q.class, 1);
  assertEquals(q.rd, true);
  assertEquals(q.questionEnd, 12 + 1 + 4 + 1 + 7 + 1 + 4);
});

Deno.test("dns message: replies, other opcodes, pointers and truncated messages are not queries", () => {
  const good = query(1, "web1");
  const reply = good.slice();
  reply[2] = reply[2]! | 0x80;
  assertEquals(parseQuery(reply), null);
  const notify = good.slice();
  notify[2] = (4 << 3) | 1; // opcode NOTIFY
  assertEquals(parseQuery(notify), null);
  const pointer = new Uint8Array([...good.subarray(0, 12), 0xc0, 12, 0, 1, 0, 1]);
  assertEquals(parseQuery(pointer), null);
  for (let n = 0; n < good.length; n++) assertEquals(parseQuery(good.subarray(0, n)), null);
  const two = good.slice();
  two[5] = 2;
  assertEquals(parseQuery(two), null);
  const long = query(1, Array(5).fill("a".repeat(63)).join("."));
  assertEquals(parseQuery(long), null);
});

Deno.test("dns message: an A answer echoes the question and carries each address", () => {
  const msg = query(0xbeef, "db", TYPE_A, OPT);
  const q = parseQuery(msg)!;
  const a = buildAnswer(msg, q, ["10.89.0.5", "10.89.0.6"], 0);
  assertEquals([...a.subarray(0, 12)], [0xbe, 0xef, 0x85, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
  assertEquals([...a.subarray(12, q.questionEnd)], [...msg.subarray(12, q.questionEnd)]);
  const rr = [...a.subarray(q.questionEnd)];
  assertEquals(rr, [
    ...[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 89, 0, 5],
    ...[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 89, 0, 6],
  ]);
  // AAAA for a local name: NOERROR with no record.
  const six = query(7, "db", TYPE_AAAA);
  const none = buildAnswer(six, parseQuery(six)!, [], 0);
  assertEquals([...none.subarray(2, 8)], [0x85, 0x80, 0, 1, 0, 0]);
});

Deno.test("dns message: NXDOMAIN and REFUSED keep the question; an unreadable query gets FORMERR", () => {
  const msg = query(42, "nope");
  const q = parseQuery(msg)!;
  const nx = buildError(msg, q, RCODE.NXDOMAIN);
  assertEquals([...nx.subarray(0, 8)], [0, 42, 0x85, 0x83, 0, 1, 0, 0]);
  assertEquals(nx.length, q.questionEnd);
  assertEquals(buildError(msg, q, RCODE.REFUSED)[3], 0x85);
  const bad = buildError(new Uint8Array([1, 2, 3]), null, RCODE.FORMERR);
  assertEquals([...bad], [1, 2, 0x80, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("dns message: a relayed reply must answer the question sent, and goes back with the client's id", () => {
  const client = query(0x0101, "example.org");
  const q = parseQuery(client)!;
  const sent = withId(client, 0x7777);
  assertEquals([sent[0], sent[1]], [0x77, 0x77]);
  assertEquals([client[0], client[1]], [1, 1], "the client's query is not changed");
  // The upstream's answer: same id, QR set, the question (any case), one record.
  const upstream = buildAnswer(sent, parseQuery(sent)!, ["192.0.2.1"], 300);
  upstream[14] = upstream[14]! & ~0x20; // "Example.org": 0x20 case changes still match
  assert(isReplyTo(upstream, sent, q));
  const back = withId(upstream, q.id);
  assertEquals([back[0], back[1]], [1, 1]);
  assertEquals([...back.subarray(2)], [...upstream.subarray(2)]);
  // Another id, another question, a query instead of a reply: refused.
  assertEquals(isReplyTo(withId(upstream, 0x7778), sent, q), false);
  const other = buildAnswer(query(0x7777, "example.net"), parseQuery(query(1, "example.net"))!, [
    "192.0.2.1",
  ], 1);
  assertEquals(isReplyTo(withId(other, 0x7777), sent, q), false);
  assertEquals(isReplyTo(sent, sent, q), false);
  assertEquals(isReplyTo(upstream.subarray(0, 10), sent, q), false);
});

Deno.test("dns message: IPv4 parsing", () => {
  assertEquals(parseIpv4("10.89.0.1"), [10, 89, 0, 1]);
  for (const bad of ["10.89.0", "10.89.0.256", "10.089.0.1", "a.b.c.d", "::1", ""]) {
    assertEquals(parseIpv4(bad), null, bad);
  }
});
