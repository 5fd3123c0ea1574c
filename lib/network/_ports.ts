/**
 * Published ports (`-p [IP:]HOSTPORT:PORT[/tcp|udp]`): parsing, the CNI
 * `portMappings` capability value, and conflicts between them.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import { parseIpv4 } from "./_subnet.ts";

/** One published port, in CNI's `portMappings` shape. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
  /** Empty: every host address. */
  hostIP: string;
}

function port(text: string, spec: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new InvalidArgument(`invalid port "${text}" in -p ${spec}: ports are 1 to 65535`);
  }
  return Number(text);
}

/** Parses one `-p` value. */
export function parsePublish(spec: string): PortMapping {
  let rest = spec;
  let protocol: "tcp" | "udp" = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const proto = rest.slice(slash + 1);
    if (proto !== "tcp" && proto !== "udp") {
      throw new InvalidArgument(`invalid protocol "${proto}" in -p ${spec}: tcp or udp`);
    }
    protocol = proto;
    rest = rest.slice(0, slash);
  }
  const parts = rest.split(":");
  let hostIP = "";
  if (parts.length === 3) {
    hostIP = parts.shift()!;
    if (hostIP !== "" && parseIpv4(hostIP) === null) {
      throw new InvalidArgument(`invalid host address "${hostIP}" in -p ${spec}: an IPv4 address`);
    }
    if (hostIP === "0.0.0.0") hostIP = "";
  }
  if (parts.length !== 2) {
    throw new InvalidArgument(`invalid -p ${spec}: expected [IP:]HOSTPORT:PORT[/tcp|udp]`);
  }
  return {
    hostPort: port(parts[0]!, spec),
    containerPort: port(parts[1]!, spec),
    protocol,
    hostIP,
  };
}

/** True when the two mappings claim the same host port. */
export function portsClash(a: PortMapping, b: PortMapping): boolean {
  return a.hostPort === b.hostPort && a.protocol === b.protocol &&
    (a.hostIP === "" || b.hostIP === "" || a.hostIP === b.hostIP);
}

/** Checks a container's own list: no host port twice. */
export function checkOwnPorts(ports: PortMapping[]): void {
  for (let i = 0; i < ports.length; i++) {
    for (let j = 0; j < i; j++) {
      if (portsClash(ports[i]!, ports[j]!)) {
        throw new InvalidArgument(`host port ${ports[i]!.hostPort} is published twice`);
      }
    }
  }
}

/** `IP:HOSTPORT->PORT/PROTO`, as listings show it. */
export function formatPort(p: PortMapping): string {
  return `${p.hostIP || "0.0.0.0"}:${p.hostPort}->${p.containerPort}/${p.protocol}`;
}
