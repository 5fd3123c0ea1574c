// The plan of a container without a network, made without the network
// stack (lib/network/_plan_none.ts): the same plan the stack makes, and
// for nothing else.
import { assertEquals } from "./assert.ts";
import { planNone } from "../lib/network/_plan_none.ts";
import { planNetwork } from "../lib/network/_container.ts";
import type { Context } from "../lib/container/context.ts";
import type { ContainerState } from "../lib/container/state_file.ts";
import type { OciConfig } from "../lib/host/spec.ts";
import type { NameOptions } from "../lib/network/_container.ts";

const NO_NAMES: NameOptions = { dns: [], addHost: [], aliases: [] };

function ctxWith(network: string | undefined): Context {
  return { env: (k: string) => (k === "BERTH_NETWORK" ? network : undefined) } as Context;
}

const configs: OciConfig[] = [
  {},
  { hostname: "web1" },
  { hostname: "not one word" },
  { hostname: "h", mounts: [{ destination: "/etc//hosts/", type: "bind", source: "/x" }] },
  { mounts: [{ destination: "/etc/resolv.conf", type: "bind", source: "/y" }] },
];

Deno.test("planNone: --network none (or BERTH_NETWORK=none) plans what the network stack plans", () => {
  for (const config of configs) {
    for (const [ctx, network] of [[ctxWith("none"), null], [ctxWith("bridge"), "none"]] as const) {
      const light = planNone(ctx, network, [], null, config, null, NO_NAMES);
      assertEquals(light, planNetwork(ctx, network, [], null, config, null, NO_NAMES));
      assertEquals(light?.mode, "none");
    }
  }
});

Deno.test("planNone: anything that needs a network, or another one, is left to the network stack", () => {
  const owner = { id: "owner" } as ContainerState;
  const cases: [
    Context,
    string | null,
    string[],
    ContainerState | null,
    string | null,
    NameOptions,
  ][] = [
    [ctxWith(undefined), null, [], null, null, NO_NAMES], // the default: bridge
    [ctxWith(""), null, [], null, null, NO_NAMES],
    [ctxWith("none"), "bridge", [], null, null, NO_NAMES],
    [ctxWith("none"), "host", [], null, null, NO_NAMES],
    [ctxWith("none"), "", [], null, null, NO_NAMES],
    [ctxWith("none"), null, ["8080:80"], null, null, NO_NAMES], // refused by the stack
    [ctxWith("none"), null, [], null, "10.88.0.5", NO_NAMES],
    [ctxWith("none"), null, [], null, null, { dns: ["1.1.1.1"], addHost: [], aliases: [] }],
    [ctxWith("none"), null, [], null, null, { dns: [], addHost: ["a:1.2.3.4"], aliases: [] }],
    [ctxWith("none"), null, [], null, null, { dns: [], addHost: [], aliases: ["a"] }],
    [ctxWith("none"), null, [], owner, null, NO_NAMES], // a sandbox member
  ];
  for (const [ctx, network, publish, own, ip, names] of cases) {
    assertEquals(planNone(ctx, network, publish, own, {}, ip, names), null);
  }
});
