/**
 * `berth create [OPTS] IMAGE [CMD...]` (the podman form) and `berth create
 * --rootfs DIR|--bundle DIR|--image REF [OPTS] ID [-- CMD...]` (the runc
 * form): prepares the bundle and the container; status `created`.
 *
 * @module
 */

import {
  bool,
  expectPositionals,
  type OptionSpec,
  parseCommandArgs,
  type ParsedArgs,
  parseKeyValues,
  str,
  strs,
} from "../args.ts";
import type { Command } from "../command.ts";
import type { Context } from "../../container/context.ts";
import { HOSTNAME_MAX_LENGTH, validateId } from "../../container/id.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { resolve } from "../../_std/path.ts";
import { canonicalCapabilities } from "../../options/capabilities.ts";
import { checkEnvValues } from "../../options/process_env.ts";
import { checkUserSyntax } from "../../options/process_user.ts";
import { parseMounts } from "../../volume/mod.ts";
import { createContainer, type CreateRequest } from "../../ops/create.ts";
import { parseSize } from "../../host/size.ts";
import { type HealthConfig, parseHealth, parseLimits } from "../../limits/mod.ts";
import { DEFAULT_LOG_MAX_SIZE, MIN_LOG_MAX_SIZE } from "../../host/log_trim.ts";
import { insecureOf, TLS_VERIFY_OPTION } from "./tls_verify.ts";
import { MAX_UNPACKED_SIZE_OPTION, maxUnpackedSizeOf } from "./max_unpacked_size.ts";
import { withCommandCodes } from "./not_runnable.ts";
import { parseAddHosts, parseDnsServers, parseNetworkAliases } from "../../network/mod.ts";
import { notRunnableCode } from "../../ops/not_runnable.ts";

/** Options shared by `create` and `run`. */
export const CREATE_OPTIONS: OptionSpec[] = [
  {
    name: "bundle",
    type: "string",
    value: "DIR",
    help: "an existing OCI bundle (config.json and its rootfs); the runc form: ID [-- CMD]",
    runcForm: true,
  },
  {
    name: "rootfs",
    type: "string",
    value: "DIR",
    help: "a root filesystem; config.json is generated (see berth spec); the runc form",
    runcForm: true,
  },
  { name: "config", type: "string", value: "FILE", help: "use this config.json with --rootfs" },
  {
    name: "image",
    type: "string",
    value: "REF",
    help: "root filesystem and defaults from an image (pulled if missing); the runc form",
    runcForm: true,
  },
  {
    name: "name",
    type: "string",
    value: "NAME",
    help: "the container's name, which is its ID (default: 12 random hex characters)",
  },
  {
    name: "pull",
    type: "string",
    value: "missing|always|never",
    choices: ["missing", "always", "never"],
    default: "missing",
    help: "when to pull the image",
  },
  TLS_VERIFY_OPTION,
  { ...MAX_UNPACKED_SIZE_OPTION, help: `with --image: ${MAX_UNPACKED_SIZE_OPTION.help}` },
  {
    name: "env",
    short: "e",
    type: "string",
    multiple: true,
    value: "K=V|NAME",
    help: "set an environment variable; a bare NAME takes berth's own value (repeatable)",
  },
  {
    name: "env-file",
    type: "string",
    multiple: true,
    value: "FILE",
    help: "K=V lines (# comments) to add to the environment; -e wins (repeatable)",
  },
  {
    name: "entrypoint",
    type: "string",
    value: "CMD|JSON",
    help:
      'replaces the image\'s Entrypoint (and its Cmd): a word, a JSON array (\'["sh","-c"]\'), "" none',
  },
  { name: "cwd", type: "string", value: "DIR", help: "working directory of the process" },
  { name: "workdir", short: "w", type: "string", value: "DIR", help: "the same as --cwd" },
  {
    name: "user",
    short: "u",
    type: "string",
    value: "UID[:GID]|NAME[:GROUP]",
    help: "the process's user; a NAME is looked up in the container's /etc/passwd",
  },
  {
    name: "hostname",
    short: "h",
    type: "string",
    value: "NAME",
    help: "the container's hostname (default: its ID)",
  },
  { name: "read-only", type: "boolean", help: "mount the container's root filesystem read-only" },
  {
    name: "cap-add",
    type: "string",
    multiple: true,
    value: "CAP",
    help: "add a capability (NET_ADMIN, CAP_SYS_TIME, ALL; repeatable)",
  },
  {
    name: "cap-drop",
    type: "string",
    multiple: true,
    value: "CAP",
    help: "drop a capability (ALL: every one; repeatable)",
  },
  {
    name: "volume",
    short: "v",
    type: "string",
    multiple: true,
    value: "SRC:DST[:ro]",
    help: "SRC an absolute host path (bind) or a volume name (made on first use)",
  },
  {
    name: "mount",
    type: "string",
    multiple: true,
    value: "type=bind|volume|tmpfs,src=…,dst=…[,ro]",
    help: "a mount, long form (tmpfs: size=N)",
  },
  {
    name: "tmpfs",
    type: "string",
    multiple: true,
    value: "DST[:size=N]",
    help: "a tmpfs at DST (size: 64m, 1g, bytes)",
  },
  {
    name: "label",
    type: "string",
    multiple: true,
    value: "K=V",
    help: "a label kept in the state (repeatable)",
  },
  {
    name: "sandbox",
    type: "string",
    value: "SID",
    help: "join the network, IPC and UTS namespaces of running container SID (a pod)",
  },
  {
    name: "security-opt",
    type: "string",
    multiple: true,
    value: "seccomp=unconfined|FILE",
    help: "replace berth's default seccomp profile (see README, Security)",
  },
  {
    name: "privileged",
    type: "boolean",
    help: "no seccomp, all capabilities, no masked paths, all devices",
  },
  {
    name: "memory",
    short: "m",
    type: "string",
    value: "SIZE",
    help: "memory limit (512m, 1g; at least 6m); exceeding it is exit 137 and an oom event",
  },
  { name: "cpus", type: "string", value: "N", help: "CPU limit, e.g. 1.5 (a CFS quota)" },
  {
    name: "pids-limit",
    type: "string",
    value: "N",
    default: "2048",
    help: "most processes at once; -1: unlimited",
  },
  {
    name: "network",
    type: "string",
    value: "none|host|bridge|NAME",
    help: "the network: an address on a CNI bridge network, the host's, or only loopback",
    default: "bridge, or $BERTH_NETWORK",
  },
  {
    name: "ip",
    type: "string",
    value: "IP",
    help: "the container's address on its bridge network (free, inside the network's subnet)",
  },
  {
    name: "publish",
    short: "p",
    type: "string",
    multiple: true,
    value: "[IP:]HOSTPORT:PORT[/tcp|udp]",
    help: "forward a host port to the container (CNI portmap; repeatable)",
  },
  {
    name: "dns",
    type: "string",
    multiple: true,
    value: "IP",
    help: "a nameserver of the container instead of its network's (repeatable)",
  },
  {
    name: "add-host",
    type: "string",
    multiple: true,
    value: "NAME:IP",
    help: "a line of the container's /etc/hosts (repeatable)",
  },
  {
    name: "network-alias",
    type: "string",
    multiple: true,
    value: "NAME",
    help: "another name the container is found by on its network (repeatable)",
  },
  {
    name: "health-cmd",
    type: "string",
    value: "CMD",
    help: "health check, run by the monitor as sh -c CMD in the container; exit 0 is healthy",
  },
  {
    name: "health-interval",
    type: "string",
    value: "D",
    default: "30s",
    help: "time between checks (500ms, 30s, 1m30s)",
  },
  {
    name: "health-timeout",
    type: "string",
    value: "D",
    default: "30s",
    help: "a check running longer is killed and fails",
  },
  {
    name: "health-retries",
    type: "string",
    value: "N",
    default: "3",
    help: "consecutive failures that make it unhealthy",
  },
  {
    name: "health-start-period",
    type: "string",
    value: "D",
    default: "0s",
    help: "failures in this first stretch do not count",
  },
  {
    name: "log-max-size",
    type: "string",
    value: "SIZE",
    default: "10m",
    help: "cap of each log file; the oldest output is dropped from the front",
  },
];

/** `--log-max-size`: a size of at least 16k. */
export function parseLogMaxSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = parseSize(text, "--log-max-size");
  if (n < MIN_LOG_MAX_SIZE) {
    throw new InvalidArgument(`--log-max-size "${text}" is below the minimum of 16k`);
  }
  return n === DEFAULT_LOG_MAX_SIZE ? undefined : n;
}

/** The run options of parsed `create`/`run` arguments, syntax checked (no file read). */
function runOptionsFrom(
  p: ParsedArgs,
): Partial<CreateRequest> & Pick<CreateRequest, "env" | "cwd"> {
  const env = strs(p.values, "env");
  checkEnvValues(env);
  const cwd = str(p.values, "cwd");
  const workdir = str(p.values, "workdir");
  if (cwd !== undefined && workdir !== undefined && cwd !== workdir) {
    throw new InvalidArgument("give --cwd or -w/--workdir, not both");
  }
  const user = str(p.values, "user");
  if (user !== undefined) checkUserSyntax(user);
  const hostname = str(p.values, "hostname");
  if (hostname !== undefined && !isValidHostname(hostname)) {
    throw new InvalidArgument(`--hostname "${hostname}" is not a valid hostname`);
  }
  const mounts = parseMounts(
    strs(p.values, "volume"),
    strs(p.values, "mount"),
    strs(p.values, "tmpfs"),
  );
  const capAdd = canonicalCapabilities(strs(p.values, "cap-add"), "--cap-add");
  const capDrop = canonicalCapabilities(strs(p.values, "cap-drop"), "--cap-drop");
  const envFiles = strs(p.values, "env-file").map((f) => resolve(f));
  const dns = parseDnsServers(strs(p.values, "dns"));
  const addHost = parseAddHosts(strs(p.values, "add-host"));
  const networkAlias = parseNetworkAliases(strs(p.values, "network-alias"));
  return {
    env,
    cwd: cwd ?? workdir ?? null,
    ...(envFiles.length > 0 ? { envFiles } : {}),
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
    ...(bool(p.values, "read-only") ? { readOnly: true } : {}),
    ...(capAdd.length > 0 ? { capAdd } : {}),
    ...(capDrop.length > 0 ? { capDrop } : {}),
    ...(dns.length > 0 ? { dns } : {}),
    ...(addHost.length > 0 ? { addHost } : {}),
    ...(networkAlias.length > 0 ? { networkAlias } : {}),
  };
}

/** A hostname the kernel and resolvers take: labels of letters, digits and `-`, at most 64. */
function isValidHostname(name: string): boolean {
  return name.length <= HOSTNAME_MAX_LENGTH &&
    /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(
      name,
    );
}

/**
 * A parsed `create`/`run` request. In the podman form (`podman`) without
 * `--name`, `id` is `""`: {@linkcode withId} makes one when it runs.
 */
export type CliCreateRequest = CreateRequest & { podman?: true };

/** The request with its ID (a generated one when none was given), as `createContainer` takes it. */
export async function withId(ctx: Context, req: CliCreateRequest): Promise<CreateRequest> {
  const { podman: _, ...request } = req;
  if (request.id !== "") return request;
  const { newContainerId } = await import("../../ops/new_id.ts");
  return { ...request, id: await newContainerId(ctx) };
}

/**
 * The ID and image of parsed `create`/`run` arguments: the podman form
 * (`IMAGE [CMD...]`, the ID from `--name` or made later) or the runc form
 * (`ID`, with `--name` the same ID or instead of it).
 */
function idAndImage(cmd: string, p: ParsedArgs): { id: string; image?: string; podman?: true } {
  const name = str(p.values, "name");
  if (name !== undefined) validateId(name, "container name");
  if (p.firstPositional === true) {
    const [image] = p.positionals;
    if (image === undefined) throw new InvalidArgument(`${cmd}: missing IMAGE`);
    return { id: name ?? "", image, podman: true };
  }
  if (name !== undefined && p.positionals.length === 0) return { id: name };
  const [id] = expectPositionals(cmd, p.positionals, ["ID"]);
  if (name !== undefined && name !== id) {
    throw new InvalidArgument(`${cmd}: give the ID or --name, not both`);
  }
  return { id: validateId(id!) };
}

/** Builds a create request from parsed `create`/`run` arguments. */
export function createRequestFrom(
  cmd: string,
  p: ParsedArgs,
  autoRemove: boolean,
): CliCreateRequest {
  const { id, image, podman } = idAndImage(cmd, p);
  return {
    id,
    bundle: str(p.values, "bundle") ?? null,
    rootfs: str(p.values, "rootfs") ?? null,
    config: str(p.values, "config") ?? null,
    command: p.command ?? [],
    ...runOptionsFrom(p),
    labels: parseKeyValues(strs(p.values, "label"), "--label"),
    autoRemove,
    sandbox: str(p.values, "sandbox") ?? null,
    restart: "no",
    privileged: bool(p.values, "privileged"),
    securityOpt: strs(p.values, "security-opt"),
    limits: parseLimits({
      memory: str(p.values, "memory"),
      cpus: str(p.values, "cpus"),
      pidsLimit: str(p.values, "pids-limit"),
    }),
    network: str(p.values, "network") ?? null,
    publish: strs(p.values, "publish"),
    ...(str(p.values, "ip") === undefined ? {} : { ip: str(p.values, "ip")! }),
    ...imageOf(p, image),
    ...optionalFields(p),
    ...entrypointOf(str(p.values, "entrypoint")),
    ...(podman ? { podman } : {}),
  };
}

/** `--entrypoint`: a JSON array of strings, `""` (none), or one word. */
export function entrypointOf(text: string | undefined): { entrypoint?: string[] } {
  if (text === undefined) return {};
  if (text === "") return { entrypoint: [] };
  if (!text.startsWith("[")) return { entrypoint: [text] };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = null;
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new InvalidArgument(`--entrypoint ${text} must be a word or a JSON array of strings`);
  }
  return { entrypoint: v };
}

/** The health check and log cap, present only when given. */
function optionalFields(p: ParsedArgs): { healthcheck?: HealthConfig; logMaxSize?: number } {
  const health = parseHealth({
    cmd: str(p.values, "health-cmd"),
    interval: str(p.values, "health-interval"),
    timeout: str(p.values, "health-timeout"),
    retries: str(p.values, "health-retries"),
    startPeriod: str(p.values, "health-start-period"),
  });
  const logMaxSize = parseLogMaxSize(str(p.values, "log-max-size"));
  return {
    ...(health === null ? {} : { healthcheck: health }),
    ...(logMaxSize === undefined ? {} : { logMaxSize }),
  };
}

function imageOf(
  p: ParsedArgs,
  positional: string | undefined,
): {
  image?: string;
  pull?: "missing" | "always" | "never";
  tlsVerify?: false;
  maxUnpackedSize?: string;
} {
  const image = positional ?? str(p.values, "image");
  if (str(p.values, "tls-verify") !== undefined && image === undefined) {
    throw new InvalidArgument("--tls-verify goes with --image");
  }
  const size = str(p.values, "max-unpacked-size");
  if (size !== undefined && image === undefined) {
    throw new InvalidArgument("--max-unpacked-size goes with --image");
  }
  maxUnpackedSizeOf(p); // a bad size is exit 2 before anything is fetched
  const insecure = {
    ...(insecureOf(p) ? { tlsVerify: false as const } : {}),
    ...(size !== undefined ? { maxUnpackedSize: size } : {}),
  };
  const v = str(p.values, "pull");
  if (v === undefined) return image === undefined ? {} : { image, ...insecure };
  if (image === undefined) throw new InvalidArgument("--pull goes with --image");
  return { image, pull: v as "missing" | "always" | "never", ...insecure };
}

/** The two forms of `create`/`run`, for their help. */
export const FORMS_HELP =
  "IMAGE first (the podman form): options end at IMAGE; what follows is the container's\n" +
  "command (-h, -p there are its own; a -- right after IMAGE is dropped). IMAGE is pulled\n" +
  "if missing (--pull). --name NAME sets the ID; without it berth makes one (12 hex).\n" +
  "With --rootfs, --bundle or --image before the first -- (the runc form), the ID is\n" +
  "positional, options may follow it, and the command comes after --.\n" +
  "Boolean options take a value only with = (--tls-verify=false). -h is --hostname.\n" +
  "A command that cannot be found exits 127, one that cannot be run 126; the container\n" +
  "stays, created (unless --rm), and start tries again.";

/** `create`. */
export const createCommand: Command<CliCreateRequest> = {
  name: "create",
  summary: "prepare the bundle and the container; status created",
  usage: "create [OPTIONS] IMAGE [CMD [ARG...]]\n" +
    "       create --rootfs DIR|--bundle DIR|--image REF [OPTIONS] ID [-- CMD [ARG...]]",
  description: FORMS_HELP + "\nThe podman form prints the ID.\n" +
    "The root filesystem is mounted copy-on-write (overlay): the source is never modified.",
  options: CREATE_OPTIONS,
  optionsEnd: "first-positional",
  examples: [
    "berth create --name web1 docker.io/library/busybox httpd -f -p 80",
    "berth create --rootfs /srv/rootfs web1 -- httpd -f",
    "berth create --bundle /srv/bundles/web web2",
    "berth create --image docker.io/library/busybox web3 -- sleep 60",
    "berth create --rootfs /srv/rootfs -v /srv/www:/www:ro -v data:/data --tmpfs /tmp:size=64m web3",
    "berth create --rootfs /srv/rootfs -u nobody -w /tmp --cap-drop ALL --read-only web4",
  ],
  parse(args) {
    const p = parseCommandArgs("create", args, CREATE_OPTIONS, "first-positional");
    return createRequestFrom("create", p, false);
  },
  run: (ctx, req) =>
    withCommandCodes(ctx, async () => {
      const named = await withId(ctx, req);
      try {
        await createContainer(ctx, named);
      } catch (err) {
        // Its command cannot be run (127/126): it stays, created; its ID is news.
        if (req.podman && notRunnableCode(err) !== null) ctx.io.out(`${named.id}\n`);
        throw err;
      }
      if (req.podman) ctx.io.out(`${named.id}\n`);
      return 0;
    }),
};
