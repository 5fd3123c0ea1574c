// The CNI client against a recording, fault-injecting plugin runner: the
// spec's environment, stdin (name, cniVersion, runtimeConfig by capability,
// prevResult chaining), DEL in reverse order, errors parsed, results checked.
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import {
  type Attachment,
  CniClient,
  CniError,
  type ConfList,
  type PluginCall,
  type PluginOutcome,
  type PluginRunner,
} from "../lib/network/_cni.ts";
import { RuntimeError } from "../lib/host/errors.ts";

const LIST: ConfList = {
  cniVersion: "1.0.0",
  name: "net1",
  plugins: [
    { type: "bridge", bridge: "bth-x", ipam: { type: "host-local" } },
    { type: "portmap", capabilities: { portMappings: true } },
    { type: "firewall" },
  ],
};

const ATT: Attachment = {
  containerId: "berth-abc",
  netns: "/run/x/netns/abc",
  ifName: "eth0",
  runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
};

const BRIDGE_RESULT = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "bth-x" }, { name: "veth1" }, { name: "eth0", sandbox: "/run/x/netns/abc" }],
  ips: [{ interface: 2, address: "10.1.0.2/24", gateway: "10.1.0.1" }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }],
  dns: {},
};

/** Records calls; answers ADD with `answer(type)`; fails `failType` with `failure`. */
function recorder(
  answer: (type: string, stdin: Record<string, unknown>) => unknown = (_t, stdin) =>
    stdin.prevResult ?? BRIDGE_RESULT,
  failType: string | null = null,
  failure: PluginOutcome = { code: 1, stdout: '{"code":7,"msg":"boom"}', stderr: "" },
): PluginRunner & { calls: PluginCall[] } {
  const calls: PluginCall[] = [];
  return {
    calls,
    run(call) {
      calls.push(call);
      const type = call.binary.split("/").pop()!;
      if (type === failType) return Promise.resolve(failure);
      if (call.env.CNI_COMMAND !== "ADD") {
        return Promise.resolve({ code: 0, stdout: "", stderr: "" });
      }
      const stdin = JSON.parse(call.stdin);
      return Promise.resolve({ code: 0, stdout: JSON.stringify(answer(type, stdin)), stderr: "" });
    },
  };
}

Deno.test("ADD runs the list in order with the spec's environment and chained prevResult", async () => {
  const r = recorder();
  const client = new CniClient("/opt/cni", r);
  const steps: number[] = [];
  const result = await client.add(LIST, ATT, (n) => {
    steps.push(n);
  });
  assertEquals(steps, [1, 2, 3]);
  assertEquals(r.calls.map((c) => c.binary), [
    "/opt/cni/bridge",
    "/opt/cni/portmap",
    "/opt/cni/firewall",
  ]);
  for (const c of r.calls) {
    assertEquals(c.env, {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "berth-abc",
      CNI_NETNS: "/run/x/netns/abc",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/opt/cni",
    });
  }
  const stdins = r.calls.map((c) => JSON.parse(c.stdin));
  for (const s of stdins) assertEquals([s.name, s.cniVersion], ["net1", "1.0.0"]);
  assertEquals(stdins[0].prevResult, undefined);
  assertEquals(stdins[1].prevResult, BRIDGE_RESULT);
  assertEquals(stdins[2].prevResult, BRIDGE_RESULT);
  // runtimeConfig only for the plugin that declares the capability.
  assertEquals(stdins[0].runtimeConfig, undefined);
  assertEquals(stdins[1].runtimeConfig, { portMappings: ATT.runtimeConfig.portMappings });
  assertEquals(stdins[2].runtimeConfig, undefined);
  assertEquals(result, BRIDGE_RESULT);
});

Deno.test("DEL runs the list last plugin first, each with the prevResult; CHECK in order", async () => {
  const r = recorder();
  const client = new CniClient("/opt/cni", r);
  await client.del(LIST, ATT, BRIDGE_RESULT as never);
  assertEquals(r.calls.map((c) => [c.env.CNI_COMMAND, c.binary.split("/").pop()]), [
    ["DEL", "firewall"],
    ["DEL", "portmap"],
    ["DEL", "bridge"],
  ]);
  for (const c of r.calls) assertEquals(JSON.parse(c.stdin).prevResult, BRIDGE_RESULT);
  r.calls.length = 0;
  await client.check(LIST, ATT, BRIDGE_RESULT as never);
  assertEquals(r.calls.map((c) => c.env.CNI_COMMAND + " " + c.binary.split("/").pop()), [
    "CHECK bridge",
    "CHECK portmap",
    "CHECK firewall",
  ]);
  // DEL without a result: no prevResult key at all.
  r.calls.length = 0;
  await client.del(LIST, ATT, null);
  for (const c of r.calls) assertTrue(!("prevResult" in JSON.parse(c.stdin)));
});

Deno.test("a plugin's error object becomes a CniError naming the plugin; later plugins do not run", async () => {
  const r = recorder(undefined, "portmap");
  const client = new CniClient("/opt/cni", r);
  const err = await assertRejects(() => client.add(LIST, ATT), CniError);
  assertEquals(err.message, "CNI plugin portmap failed: boom");
  assertEquals(err.code, 7);
  assertEquals(r.calls.length, 2);
  // Not JSON: stderr is the message.
  const r2 = recorder(undefined, "bridge", { code: 2, stdout: "", stderr: "segfault\n" });
  const e2 = await assertRejects(() => new CniClient("/c", r2).add(LIST, ATT), CniError);
  assertEquals(e2.message, "CNI plugin bridge failed: segfault");
});

Deno.test("a result that breaks the CNI schema fails the ADD", async () => {
  const bad: [unknown, string][] = [
    [{ interfaces: [] }, "no cniVersion"],
    [{ cniVersion: "1.0.0", ips: [{ address: "10.1.0.2" }] }, "is no CIDR"],
    [
      { cniVersion: "1.0.0", ips: [{ address: "10.1.0.2/24", interface: 3 }], interfaces: [] },
      "names no interface",
    ],
    [{ cniVersion: "1.0.0", interfaces: [{ mac: "x" }] }, "has no name"],
    [{ cniVersion: "1.0.0", routes: [{ gw: "10.0.0.1" }] }, "no valid dst"],
    ["not json", "not an object"],
  ];
  for (const [answer, what] of bad) {
    const client = new CniClient("/c", recorder(() => answer));
    const err = await assertRejects(() => client.add(LIST, ATT), RuntimeError);
    assertTrue(err.message.includes("bridge returned an invalid result"), err.message);
    assertTrue(err.message.includes(what), `${err.message} (wanted ${what})`);
  }
});

Deno.test("a plugin type that could escape CNI_PATH is refused before anything runs", async () => {
  const r = recorder();
  const list = { ...LIST, plugins: [{ type: "../../bin/sh" }] };
  await assertRejects(() => new CniClient("/c", r).add(list, ATT), RuntimeError);
  assertEquals(r.calls.length, 0);
});
