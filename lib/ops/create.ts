/**
 * Creating a container: validate every input before touching disk, then
 * under the container's lock create the bundle and work directory, mount
 * the copy-on-write rootfs, record the state, and have the monitor run the
 * runtime's `create` (so the container's init becomes the monitor's child).
 * Any failure rolls back exactly what this call made.
 *
 * @module
 */

import { idByName } from "../container/names.ts";
import { join, resolve } from "../_std/path.ts";
import {
  createBundle,
  layerDirs,
  membersDir,
  removeAtomically,
  rootfsDir,
} from "../container/bundle.ts";
import { launchPaths, opRecord, runtimeTarget, withContainerLock } from "../container/container.ts";
import { crashPoint } from "../container/crash.ts";
import { emit } from "../container/events.ts";
import type { Context } from "../container/context.ts";
import { Exists, InvalidArgument, isNotFound, RuntimeError, WrongState } from "../host/errors.ts";
import { hostnameOf, validateId } from "../container/id.ts";
import { applySecurity, isCgroupV2, parseSecurityOpts, readSeccompFile } from "../host/security.ts";
import { launchRequest, monitorRequest, replyError } from "../monitor/client.ts";
import { mountOverlay, unmountAll } from "../host/mounts.ts";
import { Undo } from "../container/undo.ts";
import { applyOverrides, defaultSpec, type OciConfig, readConfig } from "../host/spec.ts";
import { launchArgs, requireRuntimeBinary } from "../host/runtime.ts";
import { notRunnableCode } from "./not_runnable.ts";
import type { ContainerState, CreateArgs, RestartPolicy } from "../container/state_file.ts";
import { removeOrphansLocked, resolveExisting } from "./orphans.ts";
import { loadReconciled } from "./reconcile.ts";
import { changeStatus } from "../container/status.ts";
import { applyLimits, swapAccounting } from "../limits/mod.ts";
import {
  applyPlan,
  type NetPlan,
  planNetwork,
  recordedNetwork,
  setUpNetwork,
} from "../network/mod.ts";
import type { FileLock } from "../host/lock.ts";
import {
  ensureVolumesLocked,
  lockVolumes,
  removeUnusedVolumes,
  volumeNames,
} from "../volume/mod.ts";
import {
  applyRunOptions,
  prepareRunOptions,
  type RunOptionsPlan,
  runOptionsRecord,
} from "../options/run_options.ts";

/** What `create`/`run` were asked for. */
export interface CreateRequest extends CreateArgs {
  id: string;
  /** Delete once it exits. */
  autoRemove: boolean;
  /** Restart policy (`run -d --restart`). */
  restart: RestartPolicy;
  /** `-t`: the process gets a terminal, whose master the monitor holds. */
  terminal?: boolean;
  /** Foreground `run -i` without `-t`: stdin is a pipe the monitor holds for its one client. */
  stdin?: boolean;
  /** `--env-file` paths (read at create; the state records the resulting `env`). */
  envFiles?: string[];
}

/** A validated request: the final config and the overlay's source. */
interface Prepared {
  config: OciConfig;
  source: string;
  /** With `--image`: the image and its layers (the overlay's lowers). */
  image: import("../image/mod.ts").ImageSource | null;
  /** The sandbox's exact ID, or null. */
  sandbox: string | null;
  /** The network it gets (`--network`, `-p`). */
  net: NetPlan;
  /** The resolved run options (env, user). */
  runOptions: RunOptionsPlan;
}

/** Namespaces a sandbox member shares with its sandbox. */
const SHARED_NAMESPACES: Record<string, string> = { network: "net", ipc: "ipc", uts: "uts" };

/**
 * Resolves `--sandbox SID` (a running container that is no member itself)
 * and points the config's network, IPC and UTS namespaces at its init.
 */
async function joinSandbox(
  ctx: Context,
  ref: string,
  config: OciConfig,
): Promise<ContainerState> {
  const sid = await resolveExisting(ctx, ref);
  const s = await loadReconciled(ctx, sid);
  if (s.sandbox !== null) {
    throw new InvalidArgument(
      `"${sid}" is a member of sandbox "${s.sandbox}": join "${s.sandbox}"`,
    );
  }
  if (s.status !== "running" || s.pid === null) {
    throw new WrongState(`cannot join sandbox "${sid}": container is ${s.status}`);
  }
  const linux = (config.linux ??= {});
  const namespaces = Array.isArray(linux.namespaces)
    ? (linux.namespaces as { type: string; path?: string }[]).filter((n) =>
      !(n.type in SHARED_NAMESPACES)
    )
    : [];
  for (const [type, file] of Object.entries(SHARED_NAMESPACES)) {
    namespaces.push({ type, path: `/proc/${s.pid}/ns/${file}` });
  }
  linux.namespaces = namespaces;
  delete config.hostname; // the sandbox's UTS namespace has its hostname
  return s;
}

async function requireDir(path: string, what: string): Promise<void> {
  try {
    if (!(await Deno.stat(path)).isDirectory) {
      throw new InvalidArgument(`${what} ${path} is not a directory`);
    }
  } catch (err) {
    if (isNotFound(err)) throw new InvalidArgument(`${what} ${path} does not exist`);
    throw err;
  }
}

/**
 * The request with every path made absolute once (`--bundle`, `--rootfs`,
 * `--config`, a `seccomp=FILE`): what is checked, used and recorded is the
 * same path.
 */
export function normalizeRequest(req: CreateRequest): CreateRequest {
  const abs = (p: string | null) => (p === null ? null : resolve(p));
  return {
    ...req,
    bundle: abs(req.bundle),
    rootfs: abs(req.rootfs),
    config: abs(req.config),
    ...(req.securityOpt !== undefined
      ? {
        securityOpt: req.securityOpt.map((o) =>
          o.startsWith("seccomp=") && o !== "seccomp=unconfined"
            ? `seccomp=${resolve(o.slice("seccomp=".length))}`
            : o
        ),
      }
      : {}),
  };
}

/**
 * Validates the (normalised) request and builds the config. Nothing of
 * the container is on disk yet; an `--image` missing from the store is
 * pulled into it (the store's own locks and crash rules apply).
 */
export async function prepareCreate(ctx: Context, req: CreateRequest): Promise<Prepared> {
  validateId(req.id);
  // Before anything slow (a pull): without a runtime nothing can be created.
  requireRuntimeBinary(ctx.globals.runtime);
  const image = req.image ?? null;
  const sources = [req.bundle, req.rootfs, image].filter((x) => x !== null).length;
  if (sources > 1) {
    throw new InvalidArgument("give one of --bundle, --rootfs or --image, not several");
  }
  if (sources === 0) {
    throw new InvalidArgument("give --bundle DIR, --rootfs DIR or --image REF");
  }
  if (req.config !== null && req.rootfs === null) {
    throw new InvalidArgument("--config goes with --rootfs");
  }
  if (req.cwd !== null && !req.cwd.startsWith("/")) {
    throw new InvalidArgument(`--cwd ${req.cwd} must be an absolute path`);
  }
  let base: OciConfig;
  let source: string;
  let img: Prepared["image"] = null;
  let args = req.entrypoint !== undefined ? [...req.entrypoint, ...req.command] : req.command;
  if (image !== null) {
    const mod = await import("../image/mod.ts");
    img = await mod.resolveImage(ctx, image, req.pull ?? "missing", {
      insecure: req.tlsVerify === false,
      ...(req.maxUnpackedSize !== undefined ? { maxUnpackedSize: req.maxUnpackedSize } : {}),
    });
    base = await mod.applyImageConfig(
      defaultSpec(),
      img,
      req.command,
      req.user != null,
      req.entrypoint,
    );
    args = [];
    source = img.layers[img.layers.length - 1] ?? ctx.paths.dataRoot;
  } else if (req.bundle !== null) {
    const dir = req.bundle;
    await requireDir(dir, "bundle");
    base = await readConfig(join(dir, "config.json"));
    source = resolve(dir, base.root!.path);
    await requireDir(source, "the bundle's root filesystem");
  } else {
    source = req.rootfs!;
    await requireDir(source, "rootfs");
    base = req.config !== null ? await readConfig(req.config) : defaultSpec();
  }
  if (img === null && /[,:\\\n]/.test(source)) {
    throw new InvalidArgument(`rootfs ${source} cannot be used: its path contains , : or \\`);
  }
  const runOptions = prepareRunOptions(ctx, req, img === null ? source : [...img.layers].reverse());
  const security = parseSecurityOpts(req.securityOpt ?? [], req.privileged === true);
  const seccompProfile = security.seccomp.kind === "file"
    ? await readSeccompFile(security.seccomp.path)
    : undefined;
  const config = applyOverrides(base, {
    args,
    env: runOptions.env,
    cwd: req.cwd,
    hostname: hostnameOf(req.id),
    cgroupsPath: ctx.paths.cgroupPath(ctx.globals.namespace, req.id),
  });
  // The config's own `terminal` is replaced: without -t berth has no console socket.
  config.process!.terminal = req.terminal === true;
  if (req.terminal === true && !config.process!.env?.some((e) => e.startsWith("TERM="))) {
    config.process!.env = [...(config.process!.env ?? []), "TERM=xterm"];
  }
  // Given limits go in first: applySecurity adds the default pids limit only where none is set.
  applyLimits(config, req.limits ?? {}, { swapAccounting: swapAccounting() });
  applySecurity(config, security, {
    cgroupV2: isCgroupV2(),
    ...(seccompProfile === undefined ? {} : { seccompProfile }),
  });
  applyRunOptions(ctx, config, req, runOptions);
  const owner = req.sandbox === null ? null : await joinSandbox(ctx, req.sandbox, config);
  const net = await planNetwork(
    ctx,
    req.network ?? null,
    req.publish ?? [],
    owner,
    config,
    req.ip ?? null,
    {
      dns: req.dns ?? [],
      addHost: req.addHost ?? [],
      aliases: req.networkAlias ?? [],
    },
  );
  await applyPlan(ctx, config, net, ctx.paths.bundleDir(ctx.globals.namespace, req.id));
  return { config, source, sandbox: owner?.id ?? null, net, image: img, runOptions };
}

/** Options of {@linkcode createContainer}. */
export interface CreateOptions {
  /**
   * Start it as well, in the same runtime call (`runtime run --detach`,
   * for `run -d`): one runtime process and one lock instead of two.
   * Default false.
   */
  start?: boolean;
}

/**
 * Leaves a marker for member `id` in sandbox `sid`'s bundle, so deleting the
 * sandbox finds its members without reading every state. A sandbox made
 * by an older berth has no markers directory: nothing to mark, it is
 * scanned instead. A marker whose member is gone is ignored.
 */
async function markMember(ctx: Context, ns: string, sid: string, id: string): Promise<void> {
  try {
    await Deno.writeFile(join(membersDir(ctx.paths.bundleDir(ns, sid)), id), new Uint8Array(), {
      mode: 0o600,
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Creates the container; returns its state (status `created`, or
 * `running` with `options.start`).
 */
export async function createContainer(
  ctx: Context,
  req: CreateRequest,
  options: CreateOptions = {},
): Promise<ContainerState> {
  req = normalizeRequest(req);
  const ns = ctx.globals.namespace;
  const id = req.id;
  // An ID in use is refused before anything slow (a pull); the check under
  // the lock below is the one that counts (a state found there may be an
  // interrupted create, which repair rolls back).
  validateId(id);
  const known = await ctx.store.tryLoad(ns, id).catch(() => null);
  if (known !== null && known.op === null) throw new Exists(`container "${id}" already exists`);
  if ((await idByName(ctx, ns, id)) !== null) {
    throw new Exists(`container "${id}" already exists`);
  }
  const prepared = await prepareCreate(ctx, req);
  return await withContainerLock(ctx, ns, id, async () => {
    const existing = await ctx.store.tryLoad(ns, id);
    // Under the lock, a recorded op is an interrupted one: settle it first.
    // Repair code loads only for a state that is there (start-up time).
    if (
      existing !== null &&
      (await (await import("./repair.ts")).repairLocked(ctx, existing)) !== null
    ) {
      throw new Exists(`container "${id}" already exists`);
    }
    // A renamed container's name (rename takes this ID's lock to claim it).
    if ((await idByName(ctx, ns, id)) !== null) {
      throw new Exists(`container "${id}" already exists`);
    }
    // What a create or delete killed midway left under this ID goes first.
    await removeOrphansLocked(ctx, ns, id, false, false);
    return await createLocked(ctx, req, prepared, options.start === true);
  });
}

async function createLocked(
  ctx: Context,
  req: CreateRequest,
  prepared: Prepared,
  start: boolean,
): Promise<ContainerState> {
  const ns = ctx.globals.namespace;
  const bundle = ctx.paths.bundleDir(ns, req.id);
  const workDir = ctx.paths.workDir(ns, req.id);
  await Deno.mkdir(ctx.paths.runtimeRoot(ns), { recursive: true, mode: 0o700 });
  await createBundle({
    bundleDir: bundle,
    workDir,
    config: prepared.config,
    rootMode: prepared.image !== null ? 0o755 : Deno.statSync(prepared.source).mode ?? 0o755,
  });
  crashPoint(ctx.crashAt, "create:bundle");
  const state: ContainerState = {
    id: req.id,
    namespace: ns,
    status: "created",
    pid: null,
    bundle,
    rootfs: rootfsDir(bundle),
    createdAt: ctx.clock.now().toISOString(),
    startedAt: null,
    exitCode: null,
    exitedAt: null,
    runtime: ctx.globals.runtime,
    sandbox: prepared.sandbox,
    labels: req.labels,
    image: prepared.image === null ? null : { ref: prepared.image.ref, id: prepared.image.id },
    pidStartTime: null,
    exitObserved: false,
    source: prepared.source,
    workDir,
    autoRemove: req.autoRemove,
    op: opRecord(ctx, "create"),
    restart: req.restart,
    restartCount: 0,
    ...(req.limits !== undefined && Object.keys(req.limits).length > 0
      ? { limits: req.limits }
      : {}),
    ...(req.healthcheck !== undefined
      ? { healthcheck: req.healthcheck, health: "starting" as const }
      : {}),
    ...(req.logMaxSize !== undefined ? { logMaxSize: req.logMaxSize } : {}),
    ...(req.terminal === true ? { terminal: true } : {}),
    ...(await recordedNetwork(prepared.net)),
    request: {
      bundle: req.bundle,
      rootfs: req.rootfs,
      config: req.config,
      command: req.command,
      ...(req.entrypoint !== undefined ? { entrypoint: req.entrypoint } : {}),
      env: req.env,
      cwd: req.cwd,
      labels: req.labels,
      sandbox: prepared.sandbox,
      privileged: req.privileged === true,
      ...(req.limits !== undefined ? { limits: req.limits } : {}),
      ...(req.image !== undefined && req.image !== null ? { image: req.image } : {}),
      ...(req.pull !== undefined ? { pull: req.pull } : {}),
      ...(req.tlsVerify === false ? { tlsVerify: false } : {}),
      ...(req.maxUnpackedSize !== undefined ? { maxUnpackedSize: req.maxUnpackedSize } : {}),
      ...(req.healthcheck !== undefined ? { healthcheck: req.healthcheck } : {}),
      ...(req.logMaxSize !== undefined ? { logMaxSize: req.logMaxSize } : {}),
      securityOpt: req.securityOpt ?? [],
      network: req.network ?? null,
      publish: req.publish ?? [],
      ...(req.ip ? { ip: req.ip } : {}),
      ...(req.dns?.length ? { dns: req.dns } : {}),
      ...(req.addHost?.length ? { addHost: req.addHost } : {}),
      ...(req.networkAlias?.length ? { networkAlias: req.networkAlias } : {}),
      ...runOptionsRecord(req, prepared.runOptions),
    },
  };
  const volumes = volumeNames(req.mounts ?? []);
  // Each step registers its undo as soon as it has succeeded; a failure
  // anywhere takes back exactly what was done, newest first. A command the
  // runtime cannot launch keeps the container (below) and is thrown after.
  const made = await new Undo().run(async (undo) => {
    undo.push("work directory", () => removeAtomically(workDir));
    undo.push("bundle", () => removeAtomically(bundle));
    if (prepared.image !== null) {
      const { takeImage, releaseImage } = await import("../image/mod.ts");
      await takeImage(ctx, ns, req.id, prepared.image);
      undo.push("image use", () => releaseImage(ctx, ns, req.id));
    }
    const lower = prepared.image === null ? prepared.source : prepared.image.layers;
    mountOverlay(rootfsDir(bundle), { lower, ...layerDirs(workDir) }, ctx.libc, workDir);
    undo.push("overlay", () => unmountAll(bundle));
    crashPoint(ctx.crashAt, "create:mounted");
    // The sandbox's marker goes first: a member is never recorded without one.
    if (prepared.sandbox !== null) {
      const marker = join(membersDir(ctx.paths.bundleDir(ns, prepared.sandbox)), req.id);
      await markMember(ctx, ns, prepared.sandbox, req.id);
      undo.push("sandbox marker", () => Deno.remove(marker));
    }
    // Volumes made on first use and the state naming them, under the volumes lock:
    // a `volume rm` or `prune` sees either no volume or a container using it.
    let volumeLock: FileLock | null = null;
    if (volumes.length > 0) {
      const made: string[] = []; // each volume as soon as it exists
      undo.push("volumes made", () => removeUnusedVolumes(ctx, ns, made));
      volumeLock = await lockVolumes(ctx.paths, ns);
      const lock = volumeLock;
      undo.push("volumes lock", () => lock.release());
      const user = prepared.config.process?.user as { uid?: number; gid?: number } | undefined;
      const owner = user?.uid !== undefined && user.uid !== 0
        ? { uid: user.uid, gid: user.gid ?? 0 }
        : null;
      await ensureVolumesLocked(ctx, ns, volumes, owner, made);
    }
    await ctx.store.save(state);
    // From here the state names everything (the attachment before it
    // exists): delete takes all of it back, also after a crash (an
    // interrupted create is rolled back by repair). If the runtime refuses
    // even its delete, berth's side goes anyway: gc deletes what it holds.
    undo.push("recorded container", async () => {
      const { deleteLocked } = await import("./delete.ts");
      await deleteLocked(ctx, state, true);
    });
    volumeLock?.release();
    crashPoint(ctx.crashAt, "create:recorded");
    const finishNetwork = await setUpNetwork(ctx, state, prepared.net);
    // The network's last step (the firewall rules of a bridge network) runs
    // while the monitor launches the container; it is done (or has failed,
    // and the undo takes the container back) before the container counts
    // as made, on every path.
    let network: Promise<void> | null = null;
    const finish = () => network ??= finishNetwork();
    let reply: Awaited<ReturnType<typeof monitorRequest>>;
    try {
      const launch = launchPaths(ctx, state);
      ctx.runtime.traceDelegated(
        runtimeTarget(ctx, state),
        launchArgs(req.id, launch.bundle, launch.pidFile, start),
      );
      const stdin = req.stdin === true && req.terminal !== true ? { stdin: true } : {};
      reply = await monitorRequest(
        ctx,
        { op: "create", start, ...launchRequest(state), ...stdin },
        () => void finish().catch(() => {}),
      );
    } catch (err) {
      await finish().catch(() => {});
      throw err;
    }
    await finish();
    if (reply === null) throw new RuntimeError(`create "${req.id}": the berth monitor died`);
    if (!reply.ok) {
      const refused = replyError(reply);
      if (req.autoRemove || notRunnableCode(refused) === null) throw refused;
      // Its command cannot be found or run: kept, created and never launched
      // (as podman keeps it; --rm takes it back); `start` launches it.
      state.launchError = refused.message;
      state.op = null;
      await ctx.store.save(state);
      await emit(ctx, "create", ns, req.id, { pid: null });
      return { state, refused };
    }
    crashPoint(ctx.crashAt, "create:runtime");
    state.pid = reply.pid ?? null;
    state.pidStartTime = reply.startTime ?? null;
    if (start) changeStatus(state, "start", ctx.clock.now());
    state.op = null;
    await ctx.store.save(state);
    await emit(ctx, "create", ns, req.id, { pid: state.pid });
    if (start) await emit(ctx, "start", ns, req.id);
    return { state, refused: null };
  });
  if (made.refused !== null) throw made.refused;
  return made.state;
}
