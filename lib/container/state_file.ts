/**
 * One JSON state file per container: load, save (atomic and durable), list,
 * destroy. Read-modify-write cycles must run under the container's lock
 * (`withContainerLock` in `lib/container/container.ts`); plain reads need no lock because saves are
 * atomic renames.
 *
 * @module
 */

import { isTempName, writeFileAtomic } from "../host/atomic_file.ts";
import { isNotFound, NotFound, RuntimeError } from "../host/errors.ts";
import { isValidId } from "./id.ts";
import type { Paths } from "./paths.ts";
import { type Status, STATUSES } from "./status.ts";
import { promised } from "../host/sync_io.ts";

/**
 * The operations recorded while they run (`op`); repair knows each one
 * (`ops/repair.ts`): create is rolled back, delete finished, the others
 * settled by the runtime's status, an update finished with the limits it
 * records. A restart records "start".
 */
export type OpName =
  | "create"
  | "start"
  | "pause"
  | "resume"
  | "delete"
  | "checkpoint"
  | "restore"
  | "update";

/** An operation in flight, recorded before multi-step work starts. */
export interface InFlight {
  /** What is under way. */
  name: OpName;
  /** The berth process doing it, and that process's start time. */
  pid: number;
  pidStartTime: number | null;
  /** When it began (ISO 8601). */
  since: string;
  /** The checkpoint image directory of a checkpoint or restore. */
  imagePath?: string;
  /** The limits an update applies (repair applies them again). */
  limits?: Limits;
}

/** The contract's `state` object (key order as in the contract). */
export interface PublicState {
  id: string;
  /**
   * The name berth finds it by after a `rename`, when that differs from
   * the ID (absent: the ID). The ID keeps naming everything on disk.
   */
  name?: string;
  namespace: string;
  /** Readonly: status.ts is its one writer (`changeStatus`, `settleStatus`). */
  readonly status: Status;
  /** The container's init process, once created. */
  pid: number | null;
  bundle: string;
  rootfs: string;
  createdAt: string;
  startedAt: string | null;
  /** 128+N when killed by signal N; 255 when the exit was not observed. */
  exitCode: number | null;
  exitedAt: string | null;
  runtime: string;
  sandbox: string | null;
  labels: Record<string, string>;
  /** `starting`, `healthy`, `unhealthy`, or null without a health check. */
  health: HealthStatus | null;
  /** Restarts by the `--restart` policy so far. */
  restartCount: number;
  /** The image it was made from (`--image`), or null. */
  image?: ImageUse | null;
  /** The network and the container's address on it (absent in older states: null). */
  network?: NetworkInfo | null;
}

/** The `network` field: the network's name and the address (null when none or host). */
export interface NetworkInfo {
  name: string;
  ip: string | null;
}

/** A published port (CNI's portMappings shape). */
export interface PublishedPort {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
  hostIP: string;
}

/** The image a container was made from. */
export interface ImageUse {
  /** The reference as given. */
  ref: string;
  /** The image ID (`sha256:…` of its config). */
  id: string;
}

/** A health check's verdict. */
export type HealthStatus = "starting" | "healthy" | "unhealthy";

/** Everything berth records about a container: the public state and berth's own fields. */
export interface ContainerState extends Omit<PublicState, "health" | "restartCount"> {
  /** The health check's verdict (absent: no health check). */
  health?: HealthStatus | null;
  /** Start time of `pid` (from /proc), to tell it from a reused pid. */
  pidStartTime: number | null;
  /** False while `exitCode` is synthetic (255 for an unobserved exit). */
  exitObserved: boolean;
  /** The read-only source of the overlay (lower directory). */
  source: string;
  /** The container's work directory under the data root. */
  workDir: string;
  /** Delete once it exits (`run --rm`). */
  autoRemove: boolean;
  /** An operation under way, or null. */
  op: InFlight | null;
  /** The last checkpoint's image directory, if any. */
  checkpoint?: string | null;
  /** Restart policy kept by the monitor (`run -d --restart`). */
  restart?: RestartPolicy;
  /** Restarts so far (resets after a run of 10 s or more). */
  restartCount?: number;
  /**
   * Why the runtime refused to launch its command (not found, cannot run):
   * the container stays created without a runtime container, as podman
   * keeps it, and `start` launches it (cleared once it runs).
   */
  launchError?: string;
  /** Why the restart policy's last restart failed (cleared by the next success). */
  restartError?: string;
  /** Set by `kill` with a terminating signal: the policy does not restart it. */
  restartSuppressed?: boolean;
  /** What the container was created from (for `generate systemd`). */
  request?: CreateArgs;
  /** The limits in force: as created, then as `update` changed them (absent: none). */
  limits?: Limits;
  /** The health check (absent: none); its verdict is `health`. */
  healthcheck?: HealthConfig;
  /** Cap of each log file in bytes (absent: the default, 10 MiB). */
  logMaxSize?: number;
  /** It has a terminal (`-t`), whose master the monitor holds; `attach` connects to it. */
  terminal?: boolean;
  /** Its network attachment (lib/network): the record's token and the published ports. */
  net?: { token: string; ports: PublishedPort[] };
  /**
   * Networks joined later (`network connect`), each its own attachment in
   * the same network namespace, on its own interface (eth1, eth2, ...).
   */
  nets?: ExtraNetwork[];
  /**
   * The `commit` that paused it (saved before the freeze), cleared by every
   * resume: once that process is dead, the next command or `berth gc`
   * resumes the container (lib/ops/commit_pause.ts). A pause the user asked
   * for has none.
   */
  pausedBy?: PauseOwner | null;
}

/** The process that paused a container for its own use (`commit`). */
export interface PauseOwner {
  pid: number;
  pidStartTime: number | null;
  /** When it paused it (ISO 8601). */
  since: string;
}

/** A network a container joined with `network connect`. */
export interface ExtraNetwork {
  /** The attachment record's token. */
  token: string;
  network: string;
  /** The interface inside the container. */
  ifName: string;
  ip: string;
}

/** Resource limits (`--memory`, `--cpus`, `--pids-limit`; absent: not set). */
export interface Limits {
  /** Memory limit in bytes. */
  memory?: number;
  /** CPUs (fractional), enforced as a CFS quota per 100 ms period. */
  cpus?: number;
  /** Most tasks at once; -1: unlimited. */
  pidsLimit?: number;
}

/** A health check (`--health-*`), run by the monitor through the runtime's `exec`. */
export interface HealthConfig {
  /** Run as `sh -c CMD` in the container; exit 0 is healthy. */
  cmd: string;
  intervalMs: number;
  /** A check still running after this long is killed and counts as failed. */
  timeoutMs: number;
  /** Consecutive failures that make it unhealthy. */
  retries: number;
  /** Failures in this first stretch after a start do not count (while still starting). */
  startPeriodMs: number;
}

/** `--restart` policies. */
export type RestartPolicy = "no" | "on-failure" | "always" | "unless-stopped";

/** The create/run inputs that define a container, as given. */
export interface CreateArgs {
  /** `--bundle DIR`, or null. */
  bundle: string | null;
  /** `--rootfs DIR`, or null. */
  rootfs: string | null;
  /** `--config FILE` (with --rootfs), or null. */
  config: string | null;
  /** The command after `--` (empty: the config's). */
  command: string[];
  /**
   * `--entrypoint` (absent: the image's): replaces the image's Entrypoint,
   * and its Cmd is then not used (podman, docker); `[]` clears it.
   */
  entrypoint?: string[];
  /** `-e K=V` entries. */
  env: string[];
  /** `--cwd DIR`, or null. */
  cwd: string | null;
  labels: Record<string, string>;
  /** `--sandbox SID`: join the network, IPC and UTS namespaces of running container SID. */
  sandbox: string | null;
  /** `--privileged` (absent in states of older berths: false). */
  privileged?: boolean;
  /** `--security-opt` values, as given (absent: none). */
  securityOpt?: string[];
  /** `--memory`, `--cpus`, `--pids-limit` as given (absent: none). */
  limits?: Limits;
  /** `--network` as given (absent or null: the default). */
  network?: string | null;
  /** `-p` values, as given. */
  publish?: string[];
  /** `--ip`: the address asked for on the network (absent or null: any). */
  ip?: string | null;
  /** `--image REF`, or null (absent: none). */
  image?: string | null;
  /** `--pull` policy with `--image`. */
  pull?: "missing" | "always" | "never";
  /** `--tls-verify=false` with `--image` (absent: true). */
  tlsVerify?: boolean;
  /** `--max-unpacked-size` with `--image`, as given (absent: none). */
  maxUnpackedSize?: string;
  /** `--health-*` (absent: none). */
  healthcheck?: HealthConfig;
  /** `--log-max-size` in bytes (absent: the default, 10 MiB). */
  logMaxSize?: number;
  /** `-v`, `--mount` and `--tmpfs`, normalized (absent: none). */
  mounts?: MountSpec[];
  /** `-u, --user` as given (a name is resolved at create; absent: the config's). */
  user?: string | null;
  /** `--hostname` (absent: the ID). */
  hostname?: string | null;
  /** `--read-only`: a read-only root filesystem. */
  readOnly?: boolean;
  /** `--cap-add` / `--cap-drop`, canonical names or `ALL` (absent: none). */
  capAdd?: string[];
  capDrop?: string[];
  /** `--dns` servers (absent: the network's). */
  dns?: string[];
  /** `--add-host NAME:IP` values, as given (absent: none). */
  addHost?: string[];
  /** `--network-alias` names, lower case (absent: none). */
  networkAlias?: string[];
}

/** One mount of a container (`-v`, `--mount`, `--tmpfs`), normalized; see volume/_mount_spec.ts. */
export interface MountSpec {
  type: "bind" | "volume" | "tmpfs";
  /** bind: an absolute host path; volume: the volume's name; tmpfs: null. */
  source: string | null;
  /** An absolute path inside the container. */
  destination: string;
  readOnly: boolean;
  /** tmpfs only: its size in bytes (absent: the kernel's default, half of RAM). */
  size?: number;
}

/** The printed projection of a state. */
export function publicState(s: ContainerState): PublicState {
  return {
    id: s.id,
    namespace: s.namespace,
    status: s.status,
    pid: s.status === "stopped" ? null : s.pid,
    bundle: s.bundle,
    rootfs: s.rootfs,
    createdAt: s.createdAt,
    startedAt: s.startedAt,
    exitCode: s.exitCode,
    exitedAt: s.exitedAt,
    runtime: s.runtime,
    sandbox: s.sandbox,
    labels: s.labels,
    health: s.health ?? null,
    restartCount: s.restartCount ?? 0,
    network: s.network ?? null,
    image: s.image ?? null,
  };
}

const decoder = new TextDecoder();

function isStringOrNull(v: unknown): v is string | null {
  return v === null || typeof v === "string";
}
function isIntOrNull(v: unknown): v is number | null {
  return v === null || Number.isInteger(v);
}

/** Parses and validates a state file's text; throws on anything malformed. */
export function parseState(text: string, where: string): ContainerState {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new RuntimeError(`corrupt state file ${where}: ${(err as Error).message}`);
  }
  const ok = typeof v === "object" && v !== null &&
    typeof v.id === "string" && typeof v.namespace === "string" &&
    STATUSES.includes(v.status as Status) && isIntOrNull(v.pid) &&
    typeof v.bundle === "string" && typeof v.rootfs === "string" &&
    typeof v.createdAt === "string" && isStringOrNull(v.startedAt) &&
    isIntOrNull(v.exitCode) && isStringOrNull(v.exitedAt) &&
    typeof v.runtime === "string" && isStringOrNull(v.sandbox) &&
    typeof v.labels === "object" && v.labels !== null &&
    isIntOrNull(v.pidStartTime) && typeof v.exitObserved === "boolean" &&
    typeof v.source === "string" && typeof v.workDir === "string" &&
    typeof v.autoRemove === "boolean" && (v.op === null || typeof v.op === "object") &&
    (v.name === undefined || typeof v.name === "string");
  if (!ok) throw new RuntimeError(`corrupt state file ${where}: missing or mistyped fields`);
  return v as unknown as ContainerState;
}

/**
 * Reads a state file's bytes: null when there is none; a RuntimeError when
 * it is not a regular file (a FIFO would block the open forever, a device
 * could be anything). The roots are private (see host/roots.ts), so the
 * check and the read see the same file.
 */
function readStateBytes(path: string): Uint8Array | null {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch (err) {
    if (isNotFound(err) || err instanceof Deno.errors.NotADirectory) return null;
    throw err;
  }
  if (!st.isFile) throw new RuntimeError(`corrupt state file ${path}: not a regular file`);
  try {
    return Deno.readFileSync(path); // synchronous: see sync_io.ts
  } catch (err) {
    if (isNotFound(err) || err instanceof Deno.errors.NotADirectory) return null;
    throw err;
  }
}

/** Reads, writes and lists the state files of one pair of roots. */
export class StateStore {
  constructor(readonly paths: Paths) {}

  /** The state of `ns/id`; throws NotFound when there is none. */
  async load(ns: string, id: string): Promise<ContainerState> {
    const state = await this.tryLoad(ns, id);
    if (state === null) throw new NotFound(`container "${id}" not found`);
    return state;
  }

  /** The state of `ns/id`, or null when there is none. */
  tryLoad(ns: string, id: string): Promise<ContainerState | null> {
    return promised(() => {
      const path = this.paths.stateFile(ns, id);
      const bytes = readStateBytes(path);
      return bytes === null
        ? null
        : this.#located(parseState(decoder.decode(bytes), path), ns, id, path);
    });
  }

  /**
   * A state file's paths are never trusted: the bundle, rootfs and work
   * directory are recomputed from the roots and the ID (a forged state
   * could otherwise name any directory for `delete` to remove), and its
   * ID and namespace must be those of its place.
   */
  #located(s: ContainerState, ns: string, id: string, path: string): ContainerState {
    if (s.id !== id || s.namespace !== ns) {
      throw new RuntimeError(`corrupt state file ${path}: it names ${s.namespace}/${s.id}`);
    }
    s.bundle = this.paths.bundleDir(ns, id);
    s.rootfs = `${s.bundle}/rootfs`;
    s.workDir = this.paths.workDir(ns, id);
    return s;
  }

  /** True when a state file exists for `ns/id` (one stat, no scan). */
  exists(ns: string, id: string): Promise<boolean> {
    return promised(() => {
      try {
        Deno.lstatSync(this.paths.stateFile(ns, id));
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    });
  }

  /** Atomically and durably replaces the state file of `state`. */
  async save(state: ContainerState): Promise<void> {
    await writeFileAtomic(
      this.paths.stateFile(state.namespace, state.id),
      JSON.stringify(state, null, 1) + "\n",
      { mode: 0o600 },
    );
  }

  /** Removes the state file of `ns/id` (no error if it is already gone). */
  destroy(ns: string, id: string): Promise<void> {
    return promised(() => {
      try {
        Deno.removeSync(this.paths.stateFile(ns, id));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  /** IDs that have a bundle directory in `ns` (hidden leftovers excluded). */
  ids(ns: string): Promise<string[]> {
    return promised(() => {
      const out: string[] = [];
      try {
        for (const e of Deno.readDirSync(this.paths.containersDir(ns))) {
          if (!e.name.startsWith(".") && !isTempName(e.name) && isValidId(e.name)) out.push(e.name);
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return out.sort();
    });
  }

  /** Namespaces that have a directory under the root. */
  namespaces(): Promise<string[]> {
    return promised(() => {
      const out: string[] = [];
      try {
        for (const e of Deno.readDirSync(this.paths.namespacesDir)) {
          if (e.isDirectory && !e.name.startsWith(".")) out.push(e.name);
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return out.sort();
    });
  }

  /**
   * All states of `ns`. A file that vanishes mid-scan is skipped silently;
   * one that fails to parse is skipped with a warning, never failing the list.
   * (Synchronous reads: for many small files they cost a fraction of async ones.)
   */
  async list(ns: string, warn: (msg: string) => void = () => {}): Promise<ContainerState[]> {
    const out: ContainerState[] = [];
    for (const id of await this.ids(ns)) {
      const path = this.paths.stateFile(ns, id);
      let bytes: Uint8Array | null;
      try {
        bytes = readStateBytes(path);
      } catch (err) {
        warn(`skipping ${ns}/${id}: ${(err as Error).message}`);
        continue;
      }
      if (bytes === null) continue;
      try {
        out.push(this.#located(parseState(decoder.decode(bytes), path), ns, id, path));
      } catch (err) {
        warn(`skipping ${ns}/${id}: ${(err as Error).message}`);
      }
    }
    return out;
  }
}
