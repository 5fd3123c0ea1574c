/**
 * The `/etc/resolv.conf` a container on a bridge network gets, as podman
 * (containers/common's resolvconf) writes it: the host's nameservers that
 * the container can reach, the host's `search` and `options`.
 *
 * A loopback resolver (127.0.0.0/8, `::1`) is the host's own and
 * unreachable from the container's network namespace, and an IPv6 server
 * is unreachable over berth's IPv4-only bridges: both are left out. Where
 * the host's file names nothing else, the local stub's upstream list is
 * read instead, as podman does: systemd-resolved's
 * `/run/systemd/resolve/resolv.conf` behind 127.0.0.53, NetworkManager's
 * `/run/NetworkManager/no-stub-resolv.conf` behind 127.0.0.1. Where no
 * usable server is left, the file has no `nameserver` (podman would name
 * Google's public servers instead; berth sends no query to a server the
 * host does not name) and the caller warns.
 *
 * @module
 */

/** The host's resolver file. */
export const HOST_RESOLV_CONF = "/etc/resolv.conf";

/** Where a local stub's upstream servers are listed, by the stub's address. */
export const STUB_UPSTREAMS: Readonly<Record<string, string>> = {
  "127.0.0.53": "/run/systemd/resolve/resolv.conf",
  "127.0.0.1": "/run/NetworkManager/no-stub-resolv.conf",
};

/** The parts of a resolv.conf that podman carries over. */
export interface ResolvParts {
  nameservers: string[];
  /** The last `search` (or `domain`) line's domains. */
  search: string[];
  /** Every `options` line's options, in order. */
  options: string[];
}

/** Parses a resolv.conf (comments, `#` and `;`, and unknown lines dropped). */
export function parseResolvConf(text: string): ResolvParts {
  const out: ResolvParts = { nameservers: [], search: [], options: [] };
  for (const raw of text.split("\n")) {
    const words = raw.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (words.length < 2) continue;
    const [key, ...rest] = words as [string, ...string[]];
    if (key === "nameserver") out.nameservers.push(rest[0]!);
    else if (key === "search" || key === "domain") out.search = rest;
    else if (key === "options") out.options.push(...rest);
  }
  return out;
}

/** A loopback address (the host's own resolver, unreachable from a network namespace). */
export function isLoopback(server: string): boolean {
  return server.startsWith("127.") || server === "::1" || server === "0:0:0:0:0:0:0:1";
}

/** A server a container on a berth bridge (IPv4 only) can reach: not loopback, not IPv6. */
export function isUsable(server: string): boolean {
  return !isLoopback(server) && !server.includes(":") && /^[0-9.]+$/.test(server);
}

/** The container's resolv.conf, where the stub's upstream list came from, and its servers. */
export interface ContainerResolv {
  text: string;
  nameservers: string[];
  /** The file the servers came from (the host's, or a stub's upstream list). */
  source: string;
  /** The host file's loopback servers (what a stub is behind), for the warning. */
  loopback: string[];
}

/**
 * The container's resolv.conf from the host's `host` text; `read` reads
 * a stub's upstream list (null where it is missing or unreadable).
 */
export function containerResolv(
  host: string,
  read: (path: string) => string | null,
): ContainerResolv {
  let parts = parseResolvConf(host);
  let source = HOST_RESOLV_CONF;
  const loopback = parts.nameservers.filter(isLoopback);
  if (parts.nameservers.length > 0 && !parts.nameservers.some(isUsable)) {
    for (const stub of loopback) {
      const path = STUB_UPSTREAMS[stub];
      const text = path === undefined ? null : read(path);
      if (text === null) continue;
      const upstream = parseResolvConf(text);
      if (!upstream.nameservers.some(isUsable)) continue;
      parts = upstream;
      source = path!;
      break;
    }
  }
  const nameservers = parts.nameservers.filter(isUsable);
  const lines = nameservers.map((n) => `nameserver ${n}`);
  if (parts.search.length > 0) lines.push(`search ${parts.search.join(" ")}`);
  if (parts.options.length > 0) lines.push(`options ${parts.options.join(" ")}`);
  return {
    text: lines.map((l) => `${l}\n`).join(""),
    nameservers,
    source,
    loopback,
  };
}

/** The one-line warning for a container whose resolv.conf names no server (without `berth: warning: `). */
export function noServerWarning(id: string, r: ContainerResolv): string {
  const stubs = r.loopback.map((s) => STUB_UPSTREAMS[s]).filter((p) => p !== undefined);
  const why = r.loopback.length > 0
    ? `${HOST_RESOLV_CONF} names only ${r.loopback.join(", ")} (the host's own resolver, ` +
      `unreachable from the container)` +
      (stubs.length > 0 ? ` and ${stubs.join(", ")} names no other server` : "")
    : `${HOST_RESOLV_CONF} names no server the container can reach`;
  return `container "${id}" gets no DNS server: ${why}; ` +
    `mount a resolv.conf of your own with -v FILE:/etc/resolv.conf:ro`;
}

/** Reads a file, or null where it is missing or unreadable. */
export function readOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}
