/**
 * `berth port NAME [PORT[/PROTO]]`: podman's listing of a container's
 * published ports, from the state's record of them.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import { InvalidArgument, NotFound } from "../../host/errors.ts";
import type { Command } from "../command.ts";
import type { PublishedPort } from "../../container/state_file.ts";
import { resolveExisting } from "../../ops/orphans.ts";

/** A `PORT[/PROTO]` argument. */
export interface PortQuery {
  port: number;
  protocol: "tcp" | "udp";
}

/** Parses `PORT[/tcp|udp]` (tcp when no protocol is given). */
export function parsePortQuery(text: string): PortQuery {
  const m = /^([0-9]{1,5})(?:\/(tcp|udp))?$/.exec(text);
  const port = m ? Number(m[1]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new InvalidArgument(`port: "${text}" is not PORT[/tcp|udp] (a port is 1-65535)`);
  }
  return { port, protocol: (m[2] ?? "tcp") as "tcp" | "udp" };
}

/** `HOSTIP:HOSTPORT` as podman prints it (0.0.0.0 for every address). */
function hostSide(p: PublishedPort): string {
  return `${p.hostIP === "" ? "0.0.0.0" : p.hostIP}:${p.hostPort}`;
}

/** podman's lines for `ports`: every mapping, or only `query`'s host side. */
export function portLines(ports: readonly PublishedPort[], query?: PortQuery): string[] {
  if (query === undefined) {
    return ports.map((p) => `${p.containerPort}/${p.protocol} -> ${hostSide(p)}`);
  }
  return ports.filter((p) => p.containerPort === query.port && p.protocol === query.protocol)
    .map(hostSide);
}

/** `port`. */
export const portCommand: Command<{ ref: string; query?: PortQuery }> = {
  name: "port",
  summary: "list a container's published ports (podman's port)",
  usage: "port NAME [PORT[/PROTO]]",
  description: "One line per mapping: CONTAINERPORT/PROTO -> HOSTIP:HOSTPORT. With PORT, only\n" +
    "its HOSTIP:HOSTPORT (exit 3 when that port is not published). A container without\n" +
    "published ports prints nothing.",
  options: [],
  examples: ["berth port web1", "berth port web1 80", "berth port web1 53/udp"],
  parse(args) {
    const parsed = parseCommandArgs("port", args, []);
    noCommand("port", parsed.command);
    const names = parsed.positionals.length > 1 ? ["NAME", "PORT"] : ["NAME"];
    const [ref, port] = expectPositionals("port", parsed.positionals, names);
    return { ref: ref!, ...(port === undefined ? {} : { query: parsePortQuery(port) }) };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const s = await ctx.store.load(ctx.globals.namespace, id);
    const lines = portLines(s.net?.ports ?? [], o.query);
    if (o.query !== undefined && lines.length === 0) {
      throw new NotFound(
        `port: ${o.query.port}/${o.query.protocol} of "${o.ref}" is not published`,
      );
    }
    if (lines.length > 0) ctx.io.out(lines.join("\n") + "\n");
    return 0;
  },
};
