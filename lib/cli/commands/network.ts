/**
 * `berth network create [--subnet CIDR] [--internal] [--disable-dns] NAME | ls |
 * inspect NAME... | rm NAME... | prune [-f]`: host-wide bridge networks (CNI, in
 * `--network-dir`); `bridge` always exists.
 *
 * @module
 */

import { expectPositionals, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { confirmed } from "./confirm.ts";
import {
  type OutputFormat,
  outputFormatOf,
  renderTemplate,
  templateFormatOption,
} from "./format.ts";

/** A parsed `network` command line. */
export type NetworkOptions =
  | {
    action: "create";
    name: string;
    subnet: string | null;
    gateway: string | null;
    internal: boolean;
    disableDns: boolean;
  }
  | { action: "ls"; format: OutputFormat; quiet: boolean }
  | { action: "inspect"; names: string[] }
  | { action: "connect" | "disconnect"; network: string; container: string }
  | { action: "rm"; names: string[] }
  | { action: "prune"; force: boolean };

const OPTIONS = [
  {
    name: "subnet",
    type: "string" as const,
    value: "CIDR",
    default: "the first free /24 of 10.89.0.0/16",
    help: "(create) the network's IPv4 subnet; may not overlap another network's",
  },
  {
    name: "gateway",
    type: "string" as const,
    value: "IP",
    default: "the subnet's first host",
    help: "(create, with --subnet) the gateway: a host address of the subnet",
  },
  {
    name: "internal",
    type: "boolean" as const,
    help: "(create) no way out: no default route, no masquerade, nothing forwarded off the bridge",
  },
  {
    name: "disable-dns",
    type: "boolean" as const,
    help: "(create) containers on it do not resolve each other's names",
  },
  { ...templateFormatOption(), help: "(ls) table, json, or a Go template ('{{.Name}}')" },
  { name: "quiet", short: "q", type: "boolean" as const, help: "(ls) names only" },
  {
    name: "force",
    short: "f",
    type: "boolean" as const,
    help: "(prune) do not ask for confirmation (needed when stdin is not a terminal)",
  },
];

/** podman's warning before `network prune`. */
const PRUNE_WARNING = "WARNING! This will remove all networks not used by at least one container.";

/** A stable network ID (berth keeps none): the first 12 hex digits of the SHA-256 of its name. */
async function networkId(name: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name));
  return Array.from(new Uint8Array(d).slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `network`. */
export const networkCommand: Command<NetworkOptions> = {
  name: "network",
  summary:
    "manage host-wide bridge networks (CNI): create, ls, inspect, rm, prune, connect, disconnect",
  usage: "network create [--subnet CIDR [--gateway IP]] [--internal] [--disable-dns] NAME |\n" +
    "       network ls [-q] [--format table|json|TEMPLATE] |\n" +
    "       network inspect NAME... | network rm NAME... | network prune [-f] |\n" +
    "       network connect NET CONTAINER | network disconnect NET CONTAINER",
  description:
    "Networks are host-wide (in --network-dir): every root and namespace sees the same\n" +
    "set. Containers join one with `--network NAME` (default `bridge`, which always\n" +
    "exists: 10.88.0.0/16, or the first free /16 from 10.90.0.0/16 where that is taken).\n" +
    "`rm` is refused (exit 5) while a container of any root uses the network.\n" +
    "`prune` removes every network but `bridge` that no container (of any root, running or\n" +
    "not) uses; without -f it asks on the terminal.\n" +
    "`connect` gives a container on a bridge network an interface (eth1, ...) on another;\n" +
    "`disconnect` takes it away again.",
  options: OPTIONS,
  examples: [
    "berth network create --subnet 10.90.0.0/24 backend",
    "berth run -d --network backend --rootfs /srv/rootfs db -- httpd -f -p 8080",
    "berth network ls",
    "berth network rm backend",
    "berth network prune -f",
  ],
  parse(args) {
    const p = parseCommandArgs("network", args, OPTIONS);
    if (p.command !== null) throw new InvalidArgument("network takes no command after --");
    const [action, ...rest] = p.positionals;
    const only = (allowed: string[]) => {
      for (
        const k of ["subnet", "gateway", "internal", "disable-dns", "format", "quiet", "force"]
      ) {
        if (p.values[k] !== undefined && p.values[k] !== false && !allowed.includes(k)) {
          throw new InvalidArgument(`network ${action}: --${k} does not apply`);
        }
      }
    };
    switch (action) {
      case "create": {
        only(["subnet", "gateway", "internal", "disable-dns"]);
        const [name] = expectPositionals("network create", rest, ["NAME"]);
        return {
          action,
          name: name!,
          subnet: str(p.values, "subnet") ?? null,
          gateway: str(p.values, "gateway") ?? null,
          internal: p.values.internal === true,
          disableDns: p.values["disable-dns"] === true,
        };
      }
      case "ls":
      case "list": {
        only(["format", "quiet"]);
        expectPositionals("network ls", rest, []);
        return { action: "ls", format: outputFormatOf(p.values), quiet: p.values.quiet === true };
      }
      case "inspect":
      case "rm":
      case "remove": {
        only([]);
        if (rest.length === 0) throw new InvalidArgument(`network ${action}: give a NAME`);
        return { action: action === "remove" ? "rm" : action, names: rest };
      }
      case "prune": {
        only(["force"]);
        expectPositionals("network prune", rest, []);
        return { action, force: p.values.force === true };
      }
      case "connect":
      case "disconnect": {
        only([]);
        const [network, container] = expectPositionals(`network ${action}`, rest, [
          "NET",
          "CONTAINER",
        ]);
        return { action, network: network!, container: container! };
      }
      case undefined:
        throw new InvalidArgument(
          "network: give create, ls, inspect, rm, prune, connect or disconnect",
        );
      default:
        throw new InvalidArgument(
          `network: unknown action "${action}" (use create, ls, inspect, rm, prune, connect or disconnect)`,
        );
    }
  },
  async run(ctx, o) {
    const m = await import("../../network/mod.ts");
    switch (o.action) {
      case "create": {
        const n = await m.networkCreate(ctx, o.name, o);
        ctx.io.out(`${n.name}\n`);
        return 0;
      }
      case "ls": {
        const all = await m.networkList(ctx);
        if (o.quiet) ctx.io.out(all.map((n) => n.name + "\n").join(""));
        else if (o.format.kind === "json") ctx.io.out(JSON.stringify(all, null, 2) + "\n");
        else if (o.format.kind === "template") {
          const rows = [];
          for (const n of all) {
            rows.push({
              Name: n.name,
              ID: await networkId(n.name),
              Driver: n.driver,
              Subnets: n.subnet,
              Gateway: n.gateway,
              Bridge: n.bridge,
              Containers: n.containers.length,
              Internal: n.internal,
              DNSEnabled: n.dns_enabled,
              Labels: {},
            });
          }
          ctx.io.out(renderTemplate(o.format, rows, { ID: "NETWORK ID" }));
        } else {
          const rows = [["NAME", "SUBNET", "GATEWAY", "BRIDGE", "INTERNAL", "DNS", "CONTAINERS"]];
          for (const n of all) {
            rows.push([
              n.name,
              n.subnet,
              n.gateway,
              n.bridge,
              String(n.internal),
              String(n.dns_enabled),
              String(n.containers.length),
            ]);
          }
          const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
          ctx.io.out(
            rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd() + "\n")
              .join(""),
          );
        }
        return 0;
      }
      case "inspect":
        ctx.io.out(JSON.stringify(await m.networkInspect(ctx, o.names), null, 2) + "\n");
        return 0;
      case "rm":
        for (const name of o.names) {
          await m.networkRemove(ctx, name);
          ctx.io.out(`${name}\n`);
        }
        return 0;
      case "prune": {
        if (!(await confirmed("network prune", PRUNE_WARNING, o.force, ctx.io))) return 0;
        for (const name of await m.networkPrune(ctx)) ctx.io.out(`${name}\n`);
        return 0;
      }
      case "connect":
      case "disconnect": {
        const { resolveExisting } = await import("../../ops/orphans.ts");
        const c = await import("../../ops/network_connect.ts");
        const id = await resolveExisting(ctx, o.container);
        if (o.action === "connect") await c.networkConnect(ctx, id, o.network);
        else await c.networkDisconnect(ctx, id, o.network);
        return 0;
      }
    }
  },
};
