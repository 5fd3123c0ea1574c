// The /etc/resolv.conf and /etc/hosts a container on a bridge network
// gets (podman's rules), and which of them a user's own mount replaces.
import { assertEquals, assertTrue } from "./assert.ts";
import {
  containerResolv,
  isUsable,
  noServerWarning,
  parseResolvConf,
} from "../lib/network/_resolv_conf.ts";
import { containerResolvConf, ownFiles } from "../lib/network/_container.ts";

const none = () => null;

function files(map: Record<string, string>): (path: string) => string | null {
  return (path) => map[path] ?? null;
}

Deno.test("parseResolvConf: servers, the last search line, every option; comments dropped", () => {
  assertEquals(
    parseResolvConf(
      "# by hand\nnameserver 192.0.2.1 # office\n; old\nsearch a.example\n" +
        "options ndots:2\nsearch b.example c.example\noptions edns0 trust-ad\nbogus line\n",
    ),
    {
      nameservers: ["192.0.2.1"],
      search: ["b.example", "c.example"],
      options: ["ndots:2", "edns0", "trust-ad"],
    },
  );
});

Deno.test("isUsable: not loopback, not IPv6 (berth's bridges are IPv4 only)", () => {
  for (const s of ["127.0.0.53", "127.0.0.1", "::1", "2001:db8::1", "fe80::1%eth0", "x"]) {
    assertEquals(isUsable(s), false, s);
  }
  assertEquals(isUsable("192.0.2.1"), true);
});

Deno.test("containerResolv: the host's upstream servers, in podman's layout", () => {
  const r = containerResolv(
    "# generated\nsearch a.example\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n" +
      "nameserver 2001:db8::1\noptions ndots:2\n",
    none,
  );
  assertEquals(r.text, "nameserver 192.0.2.1\nsearch a.example\noptions ndots:2\n");
  assertEquals(r.source, "/etc/resolv.conf");
});

Deno.test("containerResolv: systemd-resolved's stub alone: its upstream list, search and options too", () => {
  const read = files({
    "/run/systemd/resolve/resolv.conf":
      "# resolved\nnameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch corp.example\n",
  });
  const r = containerResolv(
    "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch stub.example\n",
    read,
  );
  assertEquals(r.text, "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch corp.example\n");
  assertEquals(r.source, "/run/systemd/resolve/resolv.conf");
  // NetworkManager's stub on 127.0.0.1 (podman#13599).
  const nm = containerResolv(
    "nameserver 127.0.0.1\n",
    files({ "/run/NetworkManager/no-stub-resolv.conf": "nameserver 198.51.100.7\n" }),
  );
  assertEquals(nm.text, "nameserver 198.51.100.7\n");
});

Deno.test("containerResolv: nothing usable: no nameserver, and a one-line warning that says why", () => {
  // The stub's upstream list is missing, or names only loopback/IPv6 servers.
  for (
    const read of [
      none,
      files({ "/run/systemd/resolve/resolv.conf": "nameserver 127.0.0.1\nnameserver ::1\n" }),
    ]
  ) {
    const r = containerResolv("nameserver 127.0.0.53\nsearch stub.example\n", read);
    assertEquals(r.text, "search stub.example\n");
    assertEquals(r.nameservers, []);
    const w = noServerWarning("web1", r);
    assertTrue(!w.includes("\n"), w);
    assertTrue(w.startsWith('container "web1" gets no DNS server: /etc/resolv.conf names only'), w);
    assertTrue(w.includes("127.0.0.53") && w.includes("/run/systemd/resolve/resolv.conf"), w);
  }
  // No file at all, or only IPv6 servers.
  for (const host of ["", "nameserver 2001:db8::53\n"]) {
    const r = containerResolv(host, none);
    assertEquals(r.nameservers, []);
    assertTrue(noServerWarning("x", r).includes("names no server the container can reach"));
  }
});

Deno.test("containerResolvConf: reads the host's file, warns only without a server", () => {
  const ok = containerResolvConf("c1", files({ "/etc/resolv.conf": "nameserver 192.0.2.1\n" }));
  assertEquals(ok, { text: "nameserver 192.0.2.1\n", warning: null });
  const bad = containerResolvConf("c1", none);
  assertEquals(bad.text, "");
  assertTrue(bad.warning !== null && bad.warning.startsWith('container "c1" gets no DNS server'));
});

Deno.test("ownFiles: a mount of the config's on /etc/hosts or /etc/resolv.conf is the user's", () => {
  assertEquals(ownFiles({}), { hosts: true, resolv: true });
  const m = (destination: string) => ({ destination, type: "bind", source: "/x" });
  assertEquals(ownFiles({ mounts: [m("/proc"), m("/etc/hosts")] }), {
    hosts: false,
    resolv: true,
  });
  assertEquals(ownFiles({ mounts: [m("/etc//resolv.conf/")] }), { hosts: true, resolv: false });
  assertEquals(ownFiles({ mounts: [m("/etc")] }), { hosts: true, resolv: true });
});
