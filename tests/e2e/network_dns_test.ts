// Names that resolve: berth's one resolver (shared by two roots here) on real bridges, asked by real
// busybox containers (nslookup, nc; a TCP query from a container's network
// namespace). Every test runs berth in a private
// mount and network namespace (held by a sleeping process, entered with
// nsenter): the bridges, the resolver's sockets and the "host's" upstream
// DNS server (tests/fixtures/fake_dns.ts on the namespace's 127.0.0.1:53,
// named by a resolv.conf bind-mounted over /etc/resolv.conf there) all
// vanish with it, and no query ever leaves the namespace.

import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  cleanup,
  eventually,
  hasNetworking,
  leftovers,
  makeRoots,
  resolverPids,
  type Roots,
  withRoots,
} from "../helpers.ts";
import { join } from "node:path";
import { privateNs } from "./net_helpers.ts";
import { rootTag } from "../../lib/container/paths.ts";

const ignore = !hasNetworking();
if (ignore) console.log("dns tests skipped: needs root, the CNI plugins, iptables and ip");

const decoder = new TextDecoder();
const FAKE_DNS = new URL("../fixtures/fake_dns.ts", import.meta.url).pathname;

/** A private mount and network namespace with a fake upstream DNS server on its 127.0.0.1:53. */
async function dnsNamespace(fakeOnAllAddresses = false) {
  const dir = await Deno.makeTempDir({ prefix: "berth-dns-" });
  const resolv = join(dir, "resolv.conf");
  const log = join(dir, "queries.log");
  Deno.writeTextFileSync(resolv, "nameserver 127.0.0.1\noptions timeout:2\n");
  Deno.writeTextFileSync(log, "");
  const ns = await privateNs(`mount --bind ${resolv} /etc/resolv.conf`);
  const enter = ns.enter;
  const fake = new Deno.Command(enter[0]!, {
    args: [
      ...enter.slice(1),
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      FAKE_DNS,
      fakeOnAllAddresses ? "0.0.0.0" : "127.0.0.1",
      "53",
      log,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const fr = fake.stdout.getReader();
  const fakeUp = await fr.read();
  fr.releaseLock();
  assert(decoder.decode(fakeUp.value ?? new Uint8Array()).includes("ready"), "fake DNS up");
  const run = (roots: Roots, args: string[], env: Record<string, string> = {}) =>
    ns.berth(roots, args, env);
  return {
    berth: run,
    ok: (roots: Roots, args: string[], env: Record<string, string> = {}) =>
      ns.berthOk(roots, args, env),
    /** Runs a command in the namespace; its stdout. */
    async sh(argv: string[]): Promise<string> {
      const out = await new Deno.Command(enter[0]!, {
        args: [...enter.slice(1), ...argv],
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).output();
      return decoder.decode(out.stdout);
    },
    /** The names the fake upstream was asked, in order. */
    queries: () =>
      Deno.readTextFileSync(log).split("\n").filter((l) => l).map((l) => l.split(" ")[0]!),
    /** Deletes every container of `roots` in the namespace (before it goes), then closes it. */
    async close(roots: Roots) {
      for (const n of ["default", "other"]) {
        const ids = (await run(roots, ["-n", n, "list", "-q"])).stdout.split("\n").filter((s) => s);
        if (ids.length > 0) await run(roots, ["-n", n, "delete", "-f", ...ids]);
      }
      await run(roots, ["gc"]);
      await fake.stdout.cancel().catch(() => {});
      fake.kill("SIGKILL");
      await fake.status;
      await ns.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

type Ns = Awaited<ReturnType<typeof dnsNamespace>>;

/** Runs `fn` with fresh roots inside a fresh DNS namespace. */
function withDns(
  fn: (ns: Ns, roots: Roots, rootfs: string) => Promise<void>,
  fakeOnAllAddresses = false,
): Promise<void> {
  return withRoots(async (roots, rootfs) => {
    const ns = await dnsNamespace(fakeOnAllAddresses);
    try {
      await fn(ns, roots, rootfs);
    } finally {
      await ns.close(roots);
    }
  });
}

/** `nslookup NAME` in container `id` (its resolv.conf's server): the addresses answered, or null. */
async function lookup(ns: Ns, roots: Roots, id: string, name: string, nsName = "default") {
  const r = await ns.berth(roots, ["-n", nsName, "exec", id, "--", "nslookup", name]);
  if (r.code !== 0) return null;
  // busybox prints the server's address first, then the answers after "Name:".
  const answer = r.stdout.split(/^Name:/m).slice(1).join("\n");
  return [...answer.matchAll(/^Address(?: \d+)?:\s*([0-9.]+)\s*$/gm)].map((m) => m[1]!);
}

const TCP_QUERY = new URL("../fixtures/dns_tcp_query.ts", import.meta.url).pathname;

/** The network namespace file of container `id` (its attachment record's). */
function netnsOf(roots: Roots, id: string): string {
  const dir = join(roots.root, "networks/attach");
  for (const e of Deno.readDirSync(dir)) {
    const r = JSON.parse(Deno.readTextFileSync(join(dir, e.name)));
    if (r.id === id && r.ns === "default") return r.netns;
  }
  throw new Error(`no attachment of ${id}`);
}

function ipOf(stateJson: string): string {
  return (JSON.parse(stateJson).network as { ip: string }).ip;
}

function sleeper(rootfs: string, id: string, net: string, extra: string[] = []): string[] {
  return ["run", "-d", "--network", net, ...extra, "--rootfs", rootfs, id, "--", "sleep", "600"];
}

function dnsRecords(roots: Roots): { token: string; id: string; names: string[] }[] {
  const dir = join(roots.networkDir, "run", "dns", "records");
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json"))
      .map((e) => JSON.parse(Deno.readTextFileSync(join(dir, e.name))));
  } catch {
    return [];
  }
}

Deno.test({
  name: "dns: three containers on a network reach each other by name and alias; another " +
    "network, another namespace, another root and the default bridge get no answer; " +
    "other names go upstream",
  ignore,
  fn: () =>
    withDns(async (ns, roots, rootfs) => {
      await ns.ok(roots, ["network", "create", "--subnet", "10.201.1.0/24", "n1"]);
      await ns.ok(roots, ["network", "create", "--subnet", "10.201.2.0/24", "n2"]);
      await ns.ok(roots, [
        "run",
        "-d",
        "--network",
        "n1",
        "--network-alias",
        "DB",
        "--rootfs",
        rootfs,
        "c1",
        "--",
        "sh",
        "-c",
        "mkdir /www && echo hello-c1 > /www/index.html && exec httpd -f -p 8080 -h /www",
      ]);
      await ns.ok(roots, sleeper(rootfs, "c2", "n1"));
      await ns.ok(roots, sleeper(rootfs, "c3", "n1"));
      await ns.ok(roots, sleeper(rootfs, "c4", "n2"));
      // The same name in another namespace, on the same network.
      await ns.ok(roots, ["-n", "other", ...sleeper(rootfs, "c1", "n1")]);
      const ip = async (id: string, n = "default") =>
        ipOf(await ns.ok(roots, ["-n", n, "state", id]));
      const [ip1, ip2, ip3, ipOther] = [
        await ip("c1"),
        await ip("c2"),
        await ip("c3"),
        await ip("c1", "other"),
      ];

      assertEquals(
        await ns.ok(roots, ["exec", "c2", "--", "cat", "/etc/resolv.conf"]),
        "nameserver 10.201.1.1\noptions timeout:2\n",
      );
      // By alias (any case), with real traffic; by name, each from another.
      const page = await ns.ok(roots, [
        "exec",
        "c2",
        "--",
        "sh",
        "-c",
        'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc db 8080',
      ]);
      assert(page.endsWith("\nhello-c1\n"), page);
      assertEquals(
        await lookup(ns, roots, "c2", "c1"),
        [ip1],
        "c1 from c2: not the other namespace's",
      );
      assertEquals(await lookup(ns, roots, "c3", "C2"), [ip2]);
      assertEquals(await lookup(ns, roots, "c1", "c3"), [ip3]);
      assertEquals(
        await lookup(ns, roots, "c1", "c1", "other"),
        [ipOther],
        "its own namespace's c1",
      );
      assert(
        !ns.queries().some((q) => ["c1", "c2", "c3", "db"].includes(q)),
        ns.queries().join(","),
      );

      // Another network, another namespace: not answered, only sent upstream (NXDOMAIN there).
      assertEquals(await lookup(ns, roots, "c4", "c1"), null);
      assertEquals(await lookup(ns, roots, "c1", "c2", "other"), null);
      assert(ns.queries().includes("c1") && ns.queries().includes("c2"), ns.queries().join(","));
      // Any other name: the host's resolver's answer, relayed.
      assertEquals(await lookup(ns, roots, "c2", "outside.example"), ["192.0.2.7"]);
      // Over TCP as well (from c2's network namespace), local and relayed.
      const tcp = async (name: string) =>
        (await ns.sh([
          "nsenter",
          `--net=${netnsOf(roots, "c2")}`,
          Deno.execPath(),
          "run",
          "-A",
          "--quiet",
          TCP_QUERY,
          "10.201.1.1",
          name,
        ])).trim();
      assertEquals(await tcp("db"), ip1);
      assertEquals(await tcp("outside.example"), "192.0.2.7");
      assertEquals(await tcp("c4"), "rcode 3");

      // Another root on this host: the same networks (n1 too) and resolver, its own c1.
      const roots2 = await makeRoots();
      const ownNetworkDir = roots2.networkDir;
      roots2.networkDir = roots.networkDir;
      roots2.env.BERTH_NETWORK_DIR = roots.networkDir;
      try {
        await ns.ok(roots2, sleeper(rootfs, "c1", "n1"));
        await ns.ok(roots2, sleeper(rootfs, "c2", "n1"));
        const ip2c1 = ipOf(await ns.ok(roots2, ["state", "c1"]));
        assertEquals(await lookup(ns, roots2, "c2", "c1"), [ip2c1]);
        assertEquals(await lookup(ns, roots2, "c2", "db"), null, "the other root's alias");
        assertEquals(await lookup(ns, roots, "c2", "c1"), [ip1], "the other root's c1");
        // One resolver for all of it; the names it knows are the containers'.
        assertEquals((await resolverPids(roots)).length, 1);
        assertEquals(dnsRecords(roots).map((r) => r.names.join(",")).sort(), [
          "c1",
          "c1",
          "c1,db",
          "c2",
          "c2",
          "c3",
          "c4",
        ]);
      } finally {
        await ns.berth(roots2, ["delete", "-f", "c1", "c2"]);
        // Its cleanup must not take the shared networks' bridges and resolver.
        roots2.networkDir = ownNetworkDir;
        roots2.env.BERTH_NETWORK_DIR = ownNetworkDir;
        await cleanup(roots2);
      }

      // The default bridge: no record, no resolver on its gateway, its containers ask the host's servers.
      await ns.ok(roots, ["run", "-d", "--rootfs", rootfs, "b1", "--", "sleep", "600"], {
        BERTH_NETWORK: "",
      });
      await ns.ok(roots, ["run", "-d", "--rootfs", rootfs, "b2", "--", "sleep", "600"], {
        BERTH_NETWORK: "",
      });
      assertEquals(dnsRecords(roots).length, 5);
      // Its gateway: 10.88.0.1, or a 10.90+ one where podman is installed.
      const bridgeGw = (JSON.parse(await ns.ok(roots, ["network", "inspect", "bridge"])) as {
        gateway: string;
      }[])[0]!.gateway;
      assert(/^10\.(88|9[0-9])\.0\.1$/.test(bridgeGw), bridgeGw);
      const r = await ns.berth(roots, ["exec", "b2", "--", "nslookup", "b1", bridgeGw]);
      assert(r.code !== 0, r.stdout);
      const resolv = await ns.ok(roots, ["exec", "b2", "--", "cat", "/etc/resolv.conf"]);
      assert(!resolv.includes(bridgeGw), resolv);
    }),
});

Deno.test({
  name: "dns: --dns, --add-host and --network-alias land in resolv.conf, hosts and inspect; " +
    "rename changes the name answered; bad values are exit 2 with nothing made",
  ignore,
  fn: () =>
    withDns(async (ns, roots, rootfs) => {
      await ns.ok(roots, ["network", "create", "--subnet", "10.201.3.0/24", "n3"]);
      await ns.ok(
        roots,
        sleeper(rootfs, "d1", "n3", [
          "--dns",
          "192.0.2.53",
          "--dns",
          "192.0.2.54",
          "--add-host",
          "gw.example:10.9.9.9",
          "--network-alias",
          "api",
        ]),
      );
      assertEquals(
        await ns.ok(roots, ["exec", "d1", "--", "cat", "/etc/resolv.conf"]),
        "nameserver 192.0.2.53\nnameserver 192.0.2.54\noptions timeout:2\n",
      );
      const hosts = await ns.ok(roots, ["exec", "d1", "--", "cat", "/etc/hosts"]);
      assert(/^10\.9\.9\.9\tgw\.example$/m.test(hosts), hosts);
      const [v] = JSON.parse(await ns.ok(roots, ["inspect", "d1"]));
      assertEquals(v.HostConfig.Dns, ["192.0.2.53", "192.0.2.54"]);
      assertEquals(v.HostConfig.ExtraHosts, ["gw.example:10.9.9.9"]);
      assertEquals(v.NetworkSettings.Networks.n3.Aliases, ["d1", "api"]);
      // Its name and alias still resolve for the others on n3.
      await ns.ok(roots, sleeper(rootfs, "d2", "n3"));
      const ip1 = ipOf(await ns.ok(roots, ["state", "d1"]));
      assertEquals(await lookup(ns, roots, "d2", "api"), [ip1]);
      // Renamed: found by its new name (and its alias), no more by the old one.
      await ns.ok(roots, ["rename", "d1", "web"]);
      assertEquals(await lookup(ns, roots, "d2", "web"), [ip1]);
      assertEquals(await lookup(ns, roots, "d2", "api"), [ip1]);
      assertEquals(await lookup(ns, roots, "d2", "d1"), null);

      for (
        const [opt, value, msg] of [
          ["--dns", "10.1.2", /^berth: --dns "10\.1\.2" is not an IP address\n$/],
          ["--add-host", "nocolon", /^berth: --add-host "nocolon" must be NAME:IP/],
          ["--add-host", "bad_name!:10.0.0.1", /^berth: --add-host /],
          ["--add-host", "h:10.0.0.300", /^berth: --add-host /],
          ["--network-alias", "-x", /^berth: --network-alias "-x" is not a valid DNS name\n$/],
        ] as const
      ) {
        const r = await ns.berth(roots, sleeper(rootfs, "bad", "n3", [opt, value]));
        assertEquals(r.code, 2, `${opt} ${value}: ${r.stderr}`);
        assert(msg.test(r.stderr) && r.stderr.split("\n").length === 2, r.stderr);
      }
      assertEquals((await leftovers(roots)).filter((p) => p.includes("bad")), []);
      assertEquals(dnsRecords(roots).length, 2);
    }),
});

Deno.test({
  name: "dns: the resolver goes with the last running container, comes back for the next " +
    "start (also after a SIGKILL), and gc removes a record whose attachment is gone",
  ignore,
  fn: () =>
    withDns(async (ns, roots, rootfs) => {
      await ns.ok(roots, ["network", "create", "--subnet", "10.201.4.0/24", "n4"]);
      await ns.ok(roots, sleeper(rootfs, "e1", "n4"));
      const [first] = await resolverPids(roots);
      assert(first !== undefined, "a resolver runs");
      Deno.kill(first, "SIGKILL");
      await eventually(async () => (await resolverPids(roots)).length === 0, 5000, "killed");
      await ns.ok(roots, sleeper(rootfs, "e2", "n4"));
      const again = await resolverPids(roots);
      assertEquals(again.length, 1);
      assert(again[0] !== first);
      const ip1 = ipOf(await ns.ok(roots, ["state", "e1"]));
      assertEquals(await lookup(ns, roots, "e2", "e1"), [ip1]);

      // Both stopped: it exits by itself (the records stay while the containers do).
      await ns.ok(roots, ["stop", "-t", "0", "e1", "e2"]);
      await eventually(async () => (await resolverPids(roots)).length === 0, 20_000, "exit");
      assertEquals(dnsRecords(roots).length, 2);
      // A stopped container started again brings it back.
      await ns.ok(roots, ["start", "e1"]);
      assertEquals((await resolverPids(roots)).length, 1);
      assertEquals(await lookup(ns, roots, "e1", "e2"), [
        ipOf(await ns.ok(roots, ["state", "e2"])),
      ]);

      // A record whose attachment is gone (a berth killed between the two), and another root's.
      const dir = join(roots.networkDir, "run", "dns", "records");
      const ghost = rootTag(roots.root) + "0123456789abcdef";
      const foreign = "ffffffff0123456789abcdef";
      const rec = (token: string) =>
        JSON.stringify({
          ...dnsRecords(roots)[0],
          token,
          id: "ghost",
          names: ["ghost"],
        });
      Deno.writeTextFileSync(join(dir, `${ghost}.json`), rec(ghost));
      Deno.writeTextFileSync(join(dir, `${foreign}.json`), rec(foreign));
      assertEquals(
        await ns.ok(roots, ["gc", "--dry-run"]),
        "would release the DNS record of default/ghost (n4)\n",
      );
      assertEquals(await ns.ok(roots, ["gc"]), "released the DNS record of default/ghost (n4)\n");
      assertEquals(
        dnsRecords(roots).map((r) => r.token).filter((t) => t === ghost || t === foreign),
        [foreign],
      );
      Deno.removeSync(join(dir, `${foreign}.json`));
      // delete takes a container's record with it.
      await ns.ok(roots, ["delete", "-f", "e1", "e2"]);
      assertEquals(dnsRecords(roots), []);
      await eventually(async () => (await resolverPids(roots)).length === 0, 20_000, "exit");
    }),
});

Deno.test({
  name: "dns: with another program on port 53 of every address, a container starts at once " +
    "with a warning and no resolver",
  ignore,
  fn: () =>
    withDns(async (ns, roots, rootfs) => {
      await ns.ok(roots, ["network", "create", "--subnet", "10.201.5.0/24", "n5"]);
      const r = await ns.berth(roots, sleeper(rootfs, "w1", "n5"));
      assertEquals(r.code, 0, r.stderr);
      assertEquals(
        r.stderr,
        "berth: warning: no name resolver on 10.201.5.1:53 (another program listens on UDP " +
          'port 53 of every address): names on network "n5" do not resolve\n',
      );
      assertEquals(await resolverPids(roots), []);
    }, true),
});

// Not in a namespace: bad values are refused before anything (no network needed).
Deno.test("dns options: a bad --dns, or a name option without a bridge network, is exit 2 before anything is made", async () => {
  await withRoots(async (roots, rootfs) => {
    const r = await berth(roots, ["create", "--dns", "x", "--rootfs", rootfs, "z1", "--", "true"]);
    assertEquals([r.code, r.stderr], [2, 'berth: --dns "x" is not an IP address\n']);
    // Where berth writes no resolv.conf or hosts, and has no name to give.
    for (
      const [net, opt, value] of [
        ["none", "--dns", "10.0.0.1"],
        ["host", "--network-alias", "web"],
        ["none", "--add-host", "db:10.0.0.5"],
      ] as const
    ) {
      const n = await berth(roots, [
        "create",
        "--network",
        net,
        opt,
        value,
        "--rootfs",
        rootfs,
        "z1",
        "--",
        "true",
      ]);
      assertEquals(
        [n.code, n.stderr],
        [2, `berth: ${opt} needs a bridge network, not --network ${net}\n`],
      );
    }
    assertEquals(await leftovers(roots), []);
  });
});

Deno.test({
  name: "dns: a container connected to another network is found there by its name and aliases " +
    "(also after rename), and no longer once disconnected or deleted",
  ignore,
  fn: () =>
    withDns(async (ns, roots, rootfs) => {
      await ns.ok(roots, ["network", "create", "--subnet", "10.201.7.0/24", "n7"]);
      await ns.ok(roots, ["network", "create", "--subnet", "10.201.8.0/24", "n8"]);
      await ns.ok(roots, sleeper(rootfs, "a1", "n7", ["--network-alias", "api"]));
      await ns.ok(roots, sleeper(rootfs, "b1", "n8"));
      assertEquals(await lookup(ns, roots, "b1", "a1"), null, "before connect");
      await ns.ok(roots, ["network", "connect", "n8", "a1"]);
      const [inspected] = JSON.parse(await ns.ok(roots, ["inspect", "a1"]));
      const ip8 = inspected.NetworkSettings.Networks.n8.IPAddress as string;
      assert(ip8.startsWith("10.201.8."), ip8);
      assertEquals(await lookup(ns, roots, "b1", "a1"), [ip8]);
      assertEquals(await lookup(ns, roots, "b1", "api"), [ip8]);
      await ns.ok(roots, ["rename", "a1", "a2"]);
      assertEquals(await lookup(ns, roots, "b1", "a2"), [ip8]);
      assertEquals(await lookup(ns, roots, "b1", "a1"), null, "the old name");
      await ns.ok(roots, ["network", "disconnect", "n8", "a2"]);
      assertEquals(
        await lookup(ns, roots, "b1", "a2"),
        null,
        `after disconnect: ${JSON.stringify(dnsRecords(roots))}`,
      );
      assertEquals(dnsRecords(roots).length, 2, "one record each, on its own network");
      await ns.ok(roots, ["network", "connect", "n8", "a2"]);
      assertEquals(dnsRecords(roots).length, 3);
      await ns.ok(roots, ["delete", "-f", "a2"]);
      assertEquals(dnsRecords(roots).map((r) => r.id), ["b1"], "delete removes both records");
      assertEquals(await lookup(ns, roots, "b1", "a2"), null, "after delete");
    }),
});
