/**
 * Where berth keeps things. Everything lives under the two roots:
 *
 * ```
 * ROOT/                              (--root, volatile, mode 0700)
 *   monitor.sock  monitor.lock       the shared monitor's socket and lock
 *   console/PID-RAND.sock            a console socket while a runtime hands over a
 *                                    terminal master (mode 0700 directory)
 *   ns/NS/containers/ID/             a container's bundle:
 *       config.json  rootfs/  state.json  runc.log
 *   ns/NS/containers/.trash-*        an interrupted atomic delete
 *   ns/NS/locks/ID.lock              the container's sidecar lock file
 *   ns/NS/names/NAME -> ID           a renamed container's name (its state's
 *                                    `name` says which entry is live)
 *   ns/NS/runc/                      the OCI runtime's --root
 *   ns/NS/runc/ID/                   the runtime's state of a container (runc: state.json;
 *                                    for a moment while one of its processes starts,
 *                                    runc.XXXXXX, a bind mount of its own binary)
 * DATA/                              (--data-root, persistent, mode 0700)
 *   ns/NS/ID/                        a container's work directory:
 *       upper/  work/                overlay layers
 *       stdout.log  stderr.log       what the container wrote
 *   ns/NS/.trash-*                   an interrupted atomic delete
 *   monitor.log                      the monitor's own diagnostics
 * ```
 *
 * IDs and namespaces are validated before they reach these functions.
 *
 * @module
 */

import { join } from "../_std/path.ts";

/** Path layout of one pair of roots. */
export class Paths {
  /** @param root the volatile root; @param dataRoot the persistent root */
  constructor(readonly root: string, readonly dataRoot: string) {}

  /** Directory holding every namespace's volatile state. */
  get namespacesDir(): string {
    return join(this.root, "ns");
  }
  /** A namespace's volatile directory. */
  nsDir(ns: string): string {
    return join(this.root, "ns", ns);
  }
  /** Directory of the namespace's bundles. */
  containersDir(ns: string): string {
    return join(this.root, "ns", ns, "containers");
  }
  /** A container's bundle directory. */
  bundleDir(ns: string, id: string): string {
    return join(this.root, "ns", ns, "containers", id);
  }
  /** A container's state file (inside its bundle: removed with it). */
  stateFile(ns: string, id: string): string {
    return join(this.bundleDir(ns, id), "state.json");
  }
  /** The namespace's names index: NAME -> ID symbolic links of renamed containers. */
  namesDir(ns: string): string {
    return join(this.root, "ns", ns, "names");
  }
  /** Directory of the namespace's lock files. */
  locksDir(ns: string): string {
    return join(this.root, "ns", ns, "locks");
  }
  /** A container's sidecar lock file. */
  lockFile(ns: string, id: string): string {
    return join(this.root, "ns", ns, "locks", `${id}.lock`);
  }
  /** The OCI runtime's `--root` for a namespace. */
  runtimeRoot(ns: string): string {
    return join(this.root, "ns", ns, "runc");
  }
  /** The runtime's state directory of a container (runc's `--root`/ID). */
  runtimeStateDir(ns: string, id: string): string {
    return join(this.root, "ns", ns, "runc", id);
  }
  /** A namespace's persistent directory. */
  dataNsDir(ns: string): string {
    return join(this.dataRoot, "ns", ns);
  }
  /** A container's work directory (overlay layers and logs). */
  workDir(ns: string, id: string): string {
    return join(this.dataRoot, "ns", ns, id);
  }
  /** The monitor's unix socket. */
  get monitorSocket(): string {
    return join(this.root, "monitor.sock");
  }
  /** The lock the running monitor holds for its whole life. */
  get monitorLock(): string {
    return join(this.root, "monitor.lock");
  }
  /**
   * Directory (0700) of the console sockets a runtime sends terminal
   * masters to (`--console-socket`), one per create or `exec -t` while it
   * runs, named `PID-RANDOM.sock` after the process that listens.
   */
  get consoleDir(): string {
    return join(this.root, "console");
  }
  /**
   * Directory (0700) recording the temps `save -o` and `export -o` write
   * beside their target while they exist, one file each, so that `berth gc`
   * removes those of a killed writer (lib/host/atomic_file.ts writeBeside).
   * Under the data root: the temps outlive a reboot, so must their records.
   */
  get outputsJournal(): string {
    return join(this.dataRoot, "outputs");
  }
  /** The monitor's diagnostics log. */
  get monitorLog(): string {
    return join(this.dataRoot, "monitor.log");
  }
  /**
   * The container's cgroup (`linux.cgroupsPath`): `/berth/TAG/NS/ID`, where
   * TAG is a hash of `--root`, so containers of two roots on one host never
   * share a cgroup (a runtime `delete --force` kills everything in one).
   */
  cgroupPath(ns: string, id: string): string {
    return `/berth/${rootTag(this.root)}/${ns}/${id}`;
  }
}

/** 8 hex digits of FNV-1a over `root`. */
export function rootTag(root: string): string {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(root)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** Log files in a work directory. */
export function logFiles(workDir: string): { stdout: string; stderr: string } {
  return { stdout: join(workDir, "stdout.log"), stderr: join(workDir, "stderr.log") };
}
