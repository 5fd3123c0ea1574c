/**
 * `berth inspect`: one container in podman 4's shape (`Id`, `Name`,
 * `State`, `Config`, `HostConfig`, `NetworkSettings`, `Mounts`, …), with
 * berth's own entry (the state object plus `config`) under `Berth`. Built
 * from what the state records (its `request`, limits, network, restart
 * policy and count), the bundle's `config.json` (the process as the
 * runtime runs it) and the network attachment record (address, gateway,
 * MAC). A field nothing has recorded is null (in `Berth`) or podman's
 * zero value. What only some containers need (the network record, the
 * events log, signal names) is imported when needed: `inspect --format`
 * starts about as fast as `state`.
 *
 * @module
 */

import { nameOf } from "../container/names.ts";
import { join } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import { type ContainerState, publicState } from "../container/state_file.ts";

/** The `config` object of one container's `Berth` entry. */
export type InspectConfig = Record<string, unknown>;

/** Podman's zero time, for a start or an exit that has not happened. */
const ZERO_TIME = "0001-01-01T00:00:00Z";

function readBundleConfig(bundle: string): Record<string, unknown> | null {
  try {
    return JSON.parse(Deno.readTextFileSync(join(bundle, "config.json")));
  } catch {
    return null;
  }
}

/** berth's own entry: the state object plus `config` (the `Berth` field). */
export function berthEntry(
  ctx: Context,
  s: ContainerState,
  oci: Record<string, unknown> | null = readBundleConfig(s.bundle),
): Record<string, unknown> {
  const rec = s as unknown as Record<string, unknown>;
  const req = (s.request ?? {}) as unknown as Record<string, unknown>;
  const p = (oci?.process ?? {}) as Record<string, unknown>;
  const caps = p.capabilities as Record<string, string[]> | undefined;
  const root = oci?.root as { readonly?: boolean } | undefined;
  const config: InspectConfig = {
    image: rec.image ?? req.image ?? null,
    process: {
      args: p.args ?? null,
      env: p.env ?? null,
      cwd: p.cwd ?? null,
      user: { ...((p.user as object | undefined) ?? {}), name: req.user ?? null },
      terminal: p.terminal === true,
      hostname: (oci?.hostname as string | undefined) ?? null,
      readOnly: root?.readonly === true,
      capabilities: caps?.effective ?? null,
      capAdd: req.capAdd ?? [],
      capDrop: req.capDrop ?? [],
    },
    mounts: ((req.mounts ?? []) as { type: string; source: string | null }[]).map((m) =>
      m.type === "volume" ? { ...m, hostPath: volumeHostPath(ctx, s.namespace, m.source!) } : m
    ),
    limits: rec.limits ?? req.limits ?? null,
    network: rec.network ?? req.network ?? null,
    ports: rec.ports ?? (Array.isArray(req.publish) && req.publish.length > 0 ? req.publish : null),
    restart: {
      policy: s.restart ?? "no",
      count: s.restartCount ?? 0,
      ...(s.restartError !== undefined ? { lastError: s.restartError } : {}),
    },
    health: req.healthcheck ?? null,
    labels: s.labels,
    sandbox: s.sandbox,
    privileged: req.privileged === true,
    securityOpt: req.securityOpt ?? [],
    autoRemove: s.autoRemove,
    source: s.source,
  };
  return { ...publicState(s), config };
}

function volumeHostPath(ctx: Context, ns: string, name: string): string {
  return join(ctx.paths.dataRoot, "volumes", ns, name, "_data");
}

/** The network details of a CNI attachment: address, prefix, gateway, MAC. */
export interface Attachment {
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
}

/**
 * Reads the attachment of `s` (its CNI result), or null. Loaded only for
 * a container that has one, so inspecting others does not pay for it.
 */
async function attachmentOf(ctx: Context, s: ContainerState): Promise<Attachment | null> {
  if (s.net === undefined) return null;
  const { readRecord, contextNetworkPaths } = await import("../network/mod.ts");
  let r;
  try {
    r = await readRecord(await contextNetworkPaths(ctx), s.net.token);
  } catch {
    return null;
  }
  const ip = r?.result?.ips?.find((i) => !i.address.includes(":")) ?? r?.result?.ips?.[0];
  if (ip === undefined) return null;
  const [addr, bits] = ip.address.split("/");
  const iface = r!.result!.interfaces?.find((i) => i.sandbox !== undefined && i.sandbox !== "");
  return {
    ip: addr!,
    prefixLen: Number(bits ?? 0),
    gateway: ip.gateway ?? "",
    mac: iface?.mac ?? "",
  };
}

/**
 * Whether the kernel's OOM killer ended the last run: the monitor records
 * an `oom` event right after the exit (137) of a container it killed (one
 * for a process killed earlier in a run that went on comes before the exit).
 */
async function oomKilled(ctx: Context, s: ContainerState): Promise<boolean> {
  if (s.status !== "stopped" || s.exitCode !== 137 || s.exitedAt === null) return false;
  const { eventsPaths, parseEvents } = await import("../container/events.ts");
  const paths = eventsPaths(ctx.globals.dataRoot);
  for (const file of [paths.log, paths.old]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    // Most logs hold no oom event at all: not a line of them is parsed then.
    if (!text.includes('"oom"')) continue;
    if (
      parseEvents(text).some((e) =>
        e.type === "oom" && e.namespace === s.namespace && e.id === s.id &&
        e.time >= s.exitedAt!
      )
    ) return true;
  }
  return false;
}

/** `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`, podman's ports map. */
function portMap(s: ContainerState): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of s.net?.ports ?? []) {
    (out[`${p.containerPort}/${p.protocol}`] ??= []).push({
      HostIp: p.hostIP,
      HostPort: String(p.hostPort),
    });
  }
  return out;
}

/** The image's stop signal (an annotation of the bundle's config), else SIGTERM. */
async function stopSignal(oci: Record<string, unknown> | null): Promise<number> {
  const sig = (oci?.annotations as Record<string, string> | undefined)?.[
    "org.opencontainers.image.stopSignal"
  ];
  if (typeof sig !== "string" || sig === "") return 15;
  const { parseSignal } = await import("../host/signals.ts");
  try {
    return parseSignal(sig);
  } catch {
    return 15; // not a signal: the default
  }
}

/** `created`, `running`, `paused` or `exited` (podman's word for berth's `stopped`). */
export function podmanStatus(s: ContainerState): string {
  return s.status === "stopped" ? "exited" : s.status;
}

/** One entry of `inspect`'s array, in podman's shape. */
export async function inspectEntry(
  ctx: Context,
  s: ContainerState,
): Promise<Record<string, unknown>> {
  const oci = readBundleConfig(s.bundle);
  const berth = berthEntry(ctx, s, oci);
  const req = s.request;
  const p = (oci?.process ?? {}) as {
    args?: string[];
    env?: string[];
    cwd?: string;
    user?: { uid?: number; gid?: number };
  };
  // Cmd is the command given after the image (or `--`); what comes before it in the
  // process's args is the image's Entrypoint. Without a command the two are not told
  // apart (the state does not keep the image's Cmd): Cmd is the whole of args.
  const args = p.args ?? [];
  const command = req?.command ?? [];
  const tail = command.length > 0 && command.length <= args.length &&
    command.every((a, k) => args[args.length - command.length + k] === a);
  const entrypoint = tail ? args.slice(0, args.length - command.length) : [];
  const limits = s.limits ?? req?.limits ?? {};
  const resources = ((oci?.linux as Record<string, unknown> | undefined)?.resources ?? {}) as {
    pids?: { limit?: number };
    memory?: { limit?: number };
  };
  const live = s.status === "running" || s.status === "paused";
  const ports = portMap(s);
  const att = await attachmentOf(ctx, s);
  const netName = s.network?.name ?? null;
  const mode = s.sandbox !== null
    ? `container:${s.sandbox}`
    : netName === null
    ? "none"
    : netName === "host"
    ? "host"
    : "bridge";
  const ip = att?.ip ?? s.network?.ip ?? "";
  const networks: Record<string, unknown> = {};
  if (netName !== null && netName !== "host" && s.sandbox === null) {
    networks[netName] = {
      EndpointID: "",
      Gateway: att?.gateway ?? "",
      IPAddress: ip,
      IPPrefixLen: att?.prefixLen ?? 0,
      IPv6Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      MacAddress: att?.mac ?? "",
      NetworkID: netName,
      Aliases: [s.id, ...(req?.networkAlias ?? [])],
    };
    // Networks joined later (`network connect`): the address kept in the state.
    for (const n of s.nets ?? []) {
      networks[n.network] = {
        EndpointID: "",
        Gateway: "",
        IPAddress: n.ip,
        IPPrefixLen: 0,
        IPv6Gateway: "",
        GlobalIPv6Address: "",
        GlobalIPv6PrefixLen: 0,
        MacAddress: "",
        NetworkID: n.network,
        Aliases: [s.id],
      };
    }
  }
  const mounts = req?.mounts ?? [];
  const root = oci?.root as { readonly?: boolean } | undefined;
  const user = req?.user ??
    (p.user?.uid !== undefined && (p.user.uid !== 0 || (p.user.gid ?? 0) !== 0)
      ? `${p.user.uid}:${p.user.gid ?? 0}`
      : "");
  return {
    Id: s.id,
    Created: s.createdAt,
    Path: args[0] ?? "",
    Args: args.slice(1),
    State: {
      OciVersion: (oci?.ociVersion as string | undefined) ?? "",
      Status: podmanStatus(s),
      Running: s.status === "running",
      Paused: s.status === "paused",
      Restarting: false,
      OOMKilled: await oomKilled(ctx, s),
      Dead: false,
      Pid: live ? s.pid ?? 0 : 0,
      ExitCode: s.status === "stopped" ? s.exitCode ?? 0 : 0,
      // Why its command could not be launched (kept created), else the restart policy's.
      Error: (s.status === "created" ? s.launchError : undefined) ?? s.restartError ?? "",
      StartedAt: s.startedAt ?? ZERO_TIME,
      FinishedAt: s.exitedAt ?? ZERO_TIME,
      Health: { Status: s.health ?? "", FailingStreak: 0, Log: null },
    },
    Image: s.image?.id.replace(/^sha256:/, "") ?? "",
    ImageName: s.image?.ref ?? req?.image ?? "",
    Rootfs: s.image === null || s.image === undefined ? s.source : "",
    Name: nameOf(s),
    RestartCount: s.restartCount ?? 0,
    Driver: "overlay",
    Mounts: mounts.map((m) => ({
      Type: m.type,
      ...(m.type === "volume" ? { Name: m.source } : {}),
      Source: m.type === "volume" ? volumeHostPath(ctx, s.namespace, m.source!) : m.source ?? "",
      Destination: m.destination,
      ...(m.type === "volume" ? { Driver: "local" } : {}),
      Mode: "",
      Options: m.type === "tmpfs" ? [] : ["rbind"],
      RW: !m.readOnly,
      Propagation: m.type === "tmpfs" ? "" : "rprivate",
    })),
    NetworkSettings: {
      Bridge: "",
      SandboxID: "",
      Ports: ports,
      SandboxKey: "",
      Gateway: att?.gateway ?? "",
      IPAddress: ip,
      IPPrefixLen: att?.prefixLen ?? 0,
      MacAddress: att?.mac ?? "",
      Networks: networks,
    },
    Config: {
      Hostname: (oci?.hostname as string | undefined) ?? "",
      Domainname: "",
      User: user,
      Env: p.env ?? [],
      Cmd: tail ? command : args,
      Image: s.image?.ref ?? req?.image ?? "",
      WorkingDir: p.cwd ?? "",
      Entrypoint: entrypoint.join(" "),
      Labels: s.labels,
      Annotations: (oci?.annotations as Record<string, string> | undefined) ?? {},
      StopSignal: await stopSignal(oci),
      Tty: (oci?.process as { terminal?: boolean } | undefined)?.terminal === true,
    },
    HostConfig: {
      Binds: mounts.filter((m) => m.type !== "tmpfs").map((m) =>
        `${m.source}:${m.destination}:${m.readOnly ? "ro" : "rw"},rprivate,rbind`
      ),
      Tmpfs: Object.fromEntries(
        mounts.filter((m) => m.type === "tmpfs").map((m) => [
          m.destination,
          m.size !== undefined ? `size=${m.size}` : "",
        ]),
      ),
      NetworkMode: mode,
      PortBindings: ports,
      Dns: req?.dns ?? [],
      ExtraHosts: req?.addHost ?? [],
      RestartPolicy: { Name: s.restart ?? "no", MaximumRetryCount: 0 },
      AutoRemove: s.autoRemove,
      CapAdd: req?.capAdd ?? [],
      CapDrop: req?.capDrop ?? [],
      Privileged: req?.privileged === true,
      ReadonlyRootfs: root?.readonly === true,
      SecurityOpt: req?.securityOpt ?? [],
      Memory: limits.memory ?? resources.memory?.limit ?? 0,
      NanoCpus: limits.cpus !== undefined ? Math.round(limits.cpus * 1e9) : 0,
      PidsLimit: limits.pidsLimit ?? resources.pids?.limit ?? 0,
    },
    Berth: berth,
  };
}
