// berth's resolver (lib/network/dns/_resolver.ts) run in this process on
// loopback addresses: its records name a "gateway" of 127.0.x.1 and
// "containers" of 127.0.x.2-9, which the test's client sockets bind as
// their source; a fake upstream server on 127.0.x.53:53 stands for the
// host's resolver. Real UDP sockets (udp.ts) throughout, nothing leaves lo.

import { assertEquals, assertTrue as assert } from "./assert.ts";
import { runResolver } from "../lib/network/dns/_resolver.ts";
import { type DnsRecord, removeDnsRecord, writeDnsRecord } from "../lib/network/dns/_records.ts";
import { UdpSocket } from "../lib/network/dns/_udp.ts";
import {
  buildAnswer,
  buildError,
  parseQuery,
  RCODE,
  TYPE_A,
  TYPE_AAAA,
} from "../lib/network/dns/_message.ts";
import { libc } from "../lib/host/libc.ts";
import { join } from "../lib/_std/path.ts";

const ignore = Deno.uid() !== 0;

// A /24 of 127/8 of its own per run: tests on this host in parallel never share one.
const NET = `127.0.${1 + (Deno.pid % 250)}`;
const GW = `${NET}.1`;

function query(id: number, name: string, type = TYPE_A): Uint8Array {
  const bytes = [id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of name.split(".")) bytes.push(l.length, ...new TextEncoder().encode(l));
  bytes.push(0, type >> 8, type & 255, 0, 1);
  return new Uint8Array(bytes);
}

/** Asks `name` from source address `from`; the reply's rcode, answers and id (null: no reply). */
async function ask(from: string, name: string, type = TYPE_A) {
  const s = UdpSocket.bind(from, 0);
  const id = Math.floor(Math.random() * 65535);
  const timer = setTimeout(() => s.close(), 4000);
  try {
    s.send(query(id, name, type), sockaddr(GW, 53));
    const d = await s.receive();
    if (d === null) return null;
    const r = d.data;
    const q = parseQuery(new Uint8Array([...r.subarray(0, 2), 1, 0, ...r.subarray(4)]))!;
    const ips: string[] = [];
    for (let at = q.questionEnd; at + 16 <= r.length; at += 16) {
      ips.push(r.subarray(at + 12, at + 16).join("."));
    }
    return { rcode: r[3]! & 0xf, ips, id: (r[0]! << 8) | r[1]!, sentId: id };
  } finally {
    clearTimeout(timer);
    s.close();
  }
}

function sockaddr(ip: string, port: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16);
  out[0] = 2;
  out[2] = port >> 8;
  out[3] = port & 255;
  out.set(ip.split(".").map(Number), 4);
  return out;
}

/** The fake upstream: `outside.example` is 192.0.2.7, anything else NXDOMAIN; the names asked. */
function fakeUpstream(ip: string) {
  const s = UdpSocket.bind(ip, 53);
  const asked: string[] = [];
  const loop = (async () => {
    for (;;) {
      const d = await s.receive();
      if (d === null) return;
      const q = parseQuery(d.data);
      if (q === null) continue;
      asked.push(q.name);
      s.send(
        q.name === "outside.example"
          ? buildAnswer(d.data, q, ["192.0.2.7"], 60)
          : buildError(d.data, q, RCODE.NXDOMAIN),
        d.from,
      );
    }
  })();
  return { asked, close: async () => (s.close(), await loop) };
}

function rec(n: number, root: string, ns: string, names: string[], bridge = "bth-t"): DnsRecord {
  return {
    token: `aaaaaaaa00000000000000${String(n).padStart(2, "0")}`,
    root,
    ns,
    id: names[0]!,
    network: "t",
    bridge,
    gateway: GW,
    ip: `${NET}.${n}`,
    names,
    // The test's own network namespace: a process (this one) is in it.
    netns: "/proc/self/ns/net",
  };
}

Deno.test({
  name: "resolver: names within the asker's network, root and namespace; the rest relayed " +
    "upstream; strangers refused; new records seen at once; it exits once they are gone",
  ignore,
  // libc stays open (udp.ts, the terminal poller), as in every berth process.
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const upstream = fakeUpstream(`${NET}.53`);
    Deno.writeTextFileSync(join(dir, "host-resolv.conf"), `nameserver ${NET}.53\n`);
    const records = [
      rec(2, "/r1", "default", ["web", "www"]),
      rec(3, "/r1", "default", ["db"]),
      rec(4, "/r1", "other", ["db2"]),
      rec(5, "/r2", "default", ["db3"]),
      rec(6, "/r1", "default", ["db4"], "bth-u"),
    ];
    for (const r of records) await writeDnsRecord(dir, r);
    const done = runResolver({
      dir,
      pollMs: 100,
      idleChecks: 2,
      libc,
      hostResolvConf: join(dir, "host-resolv.conf"),
      graceMs: 300,
    });
    try {
      // Up once its socket answers.
      for (let i = 0; i < 100 && (await ask(`${NET}.2`, "db").catch(() => null)) === null; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const a = await ask(`${NET}.2`, "db");
      assertEquals([a?.rcode, a?.ips, a?.id === a?.sentId], [0, [`${NET}.3`], true]);
      assertEquals((await ask(`${NET}.3`, "WWW"))?.ips, [`${NET}.2`], "an alias, any case");
      // A name but no AAAA: NOERROR, empty.
      assertEquals(await ask(`${NET}.3`, "web", TYPE_AAAA).then((r) => [r?.rcode, r?.ips]), [
        0,
        [],
      ]);
      // Another namespace, another root, another network: not answered here, relayed.
      for (const [from, name] of [[`${NET}.4`, "db"], [`${NET}.5`, "web"], [`${NET}.6`, "db"]]) {
        const r = await ask(from!, name!);
        assertEquals(r?.rcode, RCODE.NXDOMAIN, `${from} asking ${name}`);
      }
      assertEquals(upstream.asked.filter((n) => n === "db" || n === "web").length, 3);
      assert(!upstream.asked.includes("www"));
      const out = await ask(`${NET}.2`, "outside.example");
      assertEquals([out?.rcode, out?.ips, out?.id === out?.sentId], [0, ["192.0.2.7"], true]);
      // A stranger on the gateway gets REFUSED, and nothing goes upstream for it.
      const before = upstream.asked.length;
      assertEquals((await ask(`${NET}.9`, "outside.example"))?.rcode, RCODE.REFUSED);
      assertEquals(upstream.asked.length, before);
      // A container recorded now is known at its first query.
      await writeDnsRecord(dir, rec(7, "/r1", "default", ["cache"]));
      assertEquals((await ask(`${NET}.7`, "db"))?.ips, [`${NET}.3`]);
      assertEquals((await ask(`${NET}.3`, "cache"))?.ips, [`${NET}.7`]);
      // Records gone (containers deleted): it exits by itself.
      for (const r of [...records, rec(7, "/r1", "default", ["cache"])]) {
        await removeDnsRecord(dir, r.token);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        done.then(() => true),
        new Promise<false>((r) => timer = setTimeout(() => r(false), 5000)),
      ]);
      clearTimeout(timer);
      assert(exited, "the resolver did not exit");
    } finally {
      await upstream.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
