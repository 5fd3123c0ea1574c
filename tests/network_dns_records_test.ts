// The resolver's records (lib/network/dns/_records.ts), the name options
// (options.ts) and the /proc/net/udp check of ensure.ts, on real files.

import { hostNetworkPaths } from "../lib/network/_host_paths.ts";
import { assertEquals, assertThrows, assertTrue as assert } from "./assert.ts";
import {
  dnsDir,
  type DnsRecord,
  listDnsRecords,
  readDnsRecord,
  removeDnsRecord,
  removeStaleDnsRecords,
  writeDnsRecord,
} from "../lib/network/dns/_records.ts";
import {
  addHostLines,
  parseAddHosts,
  parseDnsServers,
  parseNetworkAliases,
} from "../lib/network/dns/_options.ts";
import { udpListening } from "../lib/network/dns/_ensure.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { join } from "../lib/_std/path.ts";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function rec(token: string, id: string): DnsRecord {
  return {
    token,
    root: "/r",
    ns: "default",
    id,
    network: "n1",
    bridge: "bth-00000000",
    gateway: "10.89.0.1",
    ip: "10.89.0.2",
    names: [id],
    netns: `/r/networks/netns/${token}`,
  };
}

Deno.test("dns records: written, listed, read, removed; half-written and foreign files are skipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = rec("aaaaaaaa0000000000000001", "web1");
    const b = rec("aaaaaaaa0000000000000002", "web2");
    await writeDnsRecord(dir, a);
    await writeDnsRecord(dir, b);
    Deno.writeTextFileSync(join(dir, "records", ".x.json.tmp-1"), "{");
    Deno.writeTextFileSync(join(dir, "records", "aaaaaaaa0000000000000003.json"), "{");
    Deno.writeTextFileSync(join(dir, "records", "notatoken.json"), JSON.stringify(a));
    // A record whose content names another token is not trusted.
    Deno.writeTextFileSync(
      join(dir, "records", "aaaaaaaa0000000000000004.json"),
      JSON.stringify(a),
    );
    assertEquals(listDnsRecords(dir).map((r) => r.id).sort(), ["web1", "web2"]);
    assertEquals(readDnsRecord(dir, a.token), a);
    assertEquals(await removeDnsRecord(dir, a.token), true);
    assertEquals(await removeDnsRecord(dir, a.token), false);
    assertEquals(readDnsRecord(dir, a.token), null);
    assertEquals(listDnsRecords(dir).map((r) => r.id), ["web2"]);
    // A token that is no token names no file.
    assertEquals(readDnsRecord(dir, "../x"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dns records: gc removes only its own root's records whose attachment is gone, and its killed writes' temporaries", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mineLive = rec("aaaaaaaa0000000000000001", "live");
    const mineGone = rec("aaaaaaaa0000000000000002", "gone");
    const other = rec("bbbbbbbb0000000000000003", "other");
    for (const r of [mineLive, mineGone, other]) await writeDnsRecord(dir, r);
    const attached = (t: string) => t === mineLive.token;
    const dry = await removeStaleDnsRecords(dir, "aaaaaaaa", attached, true);
    assertEquals(dry.map((r) => r.id), ["gone"]);
    assertEquals(listDnsRecords(dir).length, 3);
    // A write killed midway left its temporary (this root's, and another's).
    const mineTmp = join(dir, "records", `.${mineLive.token}.json.tmp-1-abcd`);
    const otherTmp = join(dir, "records", `.${other.token}.json.tmp-1-abcd`);
    Deno.writeTextFileSync(mineTmp, "{");
    Deno.writeTextFileSync(otherTmp, "{");
    const done = await removeStaleDnsRecords(dir, "aaaaaaaa", attached, false);
    assertEquals([exists(mineTmp), exists(otherTmp)], [false, true]);
    assertEquals(done.map((r) => r.id), ["gone"]);
    assertEquals(listDnsRecords(dir).map((r) => r.id).sort(), ["live", "other"]);
    // No records directory: nothing, and nothing made.
    const empty = await Deno.makeTempDir();
    assertEquals(await removeStaleDnsRecords(empty, "aaaaaaaa", () => false, false), []);
    assertEquals([...Deno.readDirSync(empty)], []);
    await Deno.remove(empty);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dns records: the directory moves with --network-dir", () => {
  assertEquals(dnsDir(hostNetworkPaths("/etc/berth/networks").runDir), "/run/berth/networks/dns");
  assertEquals(dnsDir(hostNetworkPaths("/tmp/n").runDir), "/tmp/n/run/dns");
});

Deno.test("dns options: --dns, --add-host, --network-alias", () => {
  assertEquals(parseDnsServers(["10.0.0.1", "2001:db8::1"]), ["10.0.0.1", "2001:db8::1"]);
  for (const bad of ["10.0.0", "x", "10.0.0.1:53", "1.2.3.4.5", ""]) {
    assertThrows(() => parseDnsServers([bad]), InvalidArgument, "is not an IP address");
  }
  assertEquals(parseAddHosts(["db:10.0.0.5", "six:2001:db8::5"]), [
    "db:10.0.0.5",
    "six:2001:db8::5",
  ]);
  assertEquals(addHostLines(["db:10.0.0.5", "six:2001:db8::5"]), [
    "10.0.0.5\tdb",
    "2001:db8::5\tsix",
  ]);
  for (const bad of ["db", ":10.0.0.5", "db:", "d b:10.0.0.5", "db:host-gateway", "-a:1.2.3.4"]) {
    assertThrows(() => parseAddHosts([bad]), InvalidArgument, "must be NAME:IP");
  }
  assertEquals(parseNetworkAliases(["Web", "web", "api.v1"]), ["web", "api.v1"]);
  for (const bad of ["-web", "web-", "a..b", "", "x".repeat(64), "a b"]) {
    assertThrows(() => parseNetworkAliases([bad]), InvalidArgument, "is not a valid DNS name");
  }
});

Deno.test("ensure: a UDP listener is found in /proc/net/udp by its address and port", () => {
  const table = [
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid",
    "16059: 0100590A:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0",
    "16060: 0100007F:0277 00000000:0000 07 00000000:00000000 00:00000000 00000000     0",
  ].join("\n");
  assert(udpListening("10.89.0.1", 53, table));
  assert(!udpListening("10.89.0.2", 53, table));
  assert(!udpListening("10.89.0.1", 54, table));
  assert(udpListening("127.0.0.1", 631, table));
});
