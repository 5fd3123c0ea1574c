// gc's sweep (lib/network/_sweep.ts), its pure parts: the plan from a
// listing (which rules go, which stay), and the view of a links listing the
// stale-bridge check reads. The real sweep: tests/e2e/network_sweep_test.ts.
import { assertEquals, assertTrue } from "./assert.ts";
import { parseSave } from "../lib/network/_firewall.ts";
import { planSweep } from "../lib/network/_sweep.ts";
import { isStaleBridge, linkView, listLinks } from "../lib/network/_stale_bridges.ts";
import { loadNetworkFfi } from "../lib/network/_ffi.ts";

loadNetworkFfi();

const SAVED = `*nat
:POSTROUTING ACCEPT [0:0]
:BERTH-POSTROUTING - [0:0]
:CNI-abc - [0:0]
-A POSTROUTING -j BERTH-POSTROUTING
-A POSTROUTING -o bth-00000000 -m comment --comment "berth:aaaaaaaa" -j MASQUERADE
-A BERTH-POSTROUTING -s 10.95.0.0/16 ! -o bth-dead0001 -m addrtype ! --dst-type MULTICAST -m comment --comment "berth:0d2a1672" -j MASQUERADE
-A BERTH-POSTROUTING -s 10.96.0.0/16 ! -o bth-a11ve001 -m addrtype ! --dst-type MULTICAST -m comment --comment "berth:11111111" -j MASQUERADE
-A BERTH-POSTROUTING -s 10.97.0.0/16 ! -o bth-dead0002 -j MASQUERADE
-A CNI-abc -d 10.95.0.0/16 -j ACCEPT
COMMIT
*filter
:FORWARD ACCEPT [0:0]
:BERTH-FORWARD - [0:0]
:BERTH-ISOLATION - [0:0]
-A FORWARD -j BERTH-FORWARD
-A FORWARD -i bth-dead0001 -j ACCEPT
-A BERTH-FORWARD -m conntrack --ctstate DNAT -j RETURN
-A BERTH-FORWARD -i bth-dead0001 ! -o bth-dead0001 -m comment --comment "berth:0d2a1672" -j BERTH-ISOLATION
-A BERTH-FORWARD -s 10.95.0.0/16 -i bth-dead0001 ! -o bth+ -m comment --comment "berth:0d2a1672" -j ACCEPT
-A BERTH-FORWARD -i bth-a11ve001 ! -o bth-a11ve001 -m comment --comment "berth:11111111" -j BERTH-ISOLATION
-A BERTH-FORWARD -i bth-0wn00001 ! -o bth-0wn00001 -m comment --comment "berth:22222222" -j BERTH-ISOLATION
-A BERTH-ISOLATION -o bth+ -j DROP
COMMIT
`;

Deno.test("planSweep: only berth's network rules of the bridges picked; nothing of other chains or without berth's comment", () => {
  const devices = new Set(["bth-a11ve001", "bth-0wn00001"]);
  const missing = (b: string) => b.startsWith("bth-") && !devices.has(b);
  const plan = planSweep(parseSave(SAVED), (b) => missing(b), true, missing);
  assertEquals(plan.chains, false);
  assertEquals(plan.bridges, ["bth-dead0001"]);
  assertEquals(plan.swept, [{
    verb: "remove",
    what: "the firewall rules of bridge bth-dead0001 (no such device)",
  }]);
  assertEquals(
    plan.restore,
    "*filter\n" +
      "-D BERTH-FORWARD -i bth-dead0001 ! -o bth-dead0001 -m comment --comment berth:0d2a1672 -j BERTH-ISOLATION\n" +
      "-D BERTH-FORWARD -s 10.95.0.0/16 -i bth-dead0001 ! -o bth+ -m comment --comment berth:0d2a1672 -j ACCEPT\n" +
      "COMMIT\n" +
      "*nat\n" +
      "-D BERTH-POSTROUTING -s 10.95.0.0/16 ! -o bth-dead0001 -m addrtype ! --dst-type MULTICAST -m comment --comment berth:0d2a1672 -j MASQUERADE\n" +
      "COMMIT\n",
  );
});

Deno.test("planSweep: a rule of the own tag whose network is gone goes (its bridge there), worded as before", () => {
  const plan = planSweep(
    parseSave(SAVED),
    (b, c) => c === "berth:22222222" && b === "bth-0wn00001",
    true,
    () => false,
  );
  assertEquals(plan.swept, [{ verb: "release", what: "the firewall rule of bridge bth-0wn00001" }]);
  assertTrue(plan.restore.includes("-D BERTH-FORWARD -i bth-0wn00001 "), plan.restore);
});

Deno.test("planSweep: no berth bridge left: the chains and their jumps go (their rules with them)", () => {
  const plan = planSweep(parseSave(SAVED), () => true, false, () => true);
  assertEquals(plan.chains, true);
  assertEquals(plan.swept.at(-1)?.verb, "release");
  assertTrue(plan.restore.includes("-D POSTROUTING -j BERTH-POSTROUTING"), plan.restore);
  assertTrue(plan.restore.includes("-X BERTH-FORWARD"), plan.restore);
  assertTrue(!plan.restore.includes("CNI-abc"), plan.restore);
  assertTrue(!plan.restore.includes("-i bth-dead0001 -j ACCEPT"), plan.restore);
  assertTrue(!plan.restore.includes("bth-00000000"), plan.restore);
});

Deno.test("planSweep: nothing picked, chains kept: no restore", () => {
  assertEquals(planSweep(parseSave(SAVED), () => false, true, () => false).restore, "");
});

Deno.test("linkView: a bridge's ports (the links whose master it is), its alias; stale only when idle", () => {
  const view = linkView([
    { index: 5, name: "bth-idle0001", kind: "bridge", master: 0, alias: "" },
    { index: 6, name: "bth-used0001", kind: "bridge", master: 0, alias: "berth:/nowhere" },
    { index: 7, name: "veth0", kind: "veth", master: 6, alias: "" },
    { index: 8, name: "bth-veth0001", kind: "veth", master: 0, alias: "" },
  ]);
  assertEquals(view.ports("bth-idle0001"), []);
  assertEquals(view.ports("bth-used0001"), ["veth0"]);
  assertEquals(view.ports("bth-veth0001"), null, "not a bridge");
  assertEquals(view.ports("bth-none0001"), null);
  assertEquals(view.alias("bth-used0001"), "berth:/nowhere");
  assertTrue(isStaleBridge("bth-idle0001", new Set(), view));
  assertTrue(!isStaleBridge("bth-idle0001", new Set(["bth-idle0001"]), view), "defined");
  assertTrue(!isStaleBridge("bth-used0001", new Set(), view), "a port");
  assertTrue(!isStaleBridge("bth-veth0001", new Set(), view), "no bridge");
});

Deno.test("listLinks: this namespace's links over rtnetlink, loopback among them", () => {
  const links = listLinks();
  assertTrue(links !== null);
  const lo = links!.find((l) => l.name === "lo");
  assertEquals(lo?.index, 1);
  assertEquals(lo?.master, 0);
});

Deno.test("ensureBridge: a bridge it makes carries its alias at once; one already there keeps its own", async () => {
  const out = await new Deno.Command("unshare", {
    args: [
      "--net",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      new URL("./fixtures/bridge_alias.ts", import.meta.url).pathname,
    ],
    stderr: "inherit",
  }).output();
  assertEquals(out.code, 0);
  assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), {
    made: "berth:/first",
    again: "berth:/first",
    none: "",
  });
});
