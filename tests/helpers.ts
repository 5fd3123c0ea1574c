/**
 * Test helpers: throwaway roots, running the berth CLI as a real process
 * (`deno run -A main.ts`, or the binary named by BERTH_TEST_BINARY), a
 * busybox rootfs, and checks for leftovers.
 */

import { fileURLToPath as fromFileUrl } from "node:url";
import { join } from "node:path";
import { bridgeName } from "../lib/network/_networks.ts";
import { NetworkFirewall } from "../lib/network/_firewall.ts";
import { removeTokenRules } from "../lib/network/_stale_rules.ts";
import { rootTag } from "../lib/container/paths.ts";
import { denoRunner } from "../lib/host/process.ts";
import { loadNetworkFfi } from "../lib/network/_ffi.ts";

// The cleanup's NetworkFirewall reads nf_tables' generation through FFI
// (lib/network/_nft_gen.ts): the library is opened here, not in a test
// (whose sanitizer would count it as leaked).
loadNetworkFfi();

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const decoder = new TextDecoder();

/** The command line that runs berth under test. */
export function berthArgv(): string[] {
  const bin = Deno.env.get("BERTH_TEST_BINARY");
  if (!bin) return [Deno.execPath(), "run", "-A", "--quiet", MAIN];
  // The bundle (`deno task build`) runs under deno, like main.ts.
  return bin.endsWith(".js") ? [Deno.execPath(), "run", "-A", "--quiet", bin] : [bin];
}

/** One event of `berth events --format json`. */
export interface EventLine {
  type: string;
  time: string;
  id: string | null;
  restart?: number;
  exitCode?: number;
  /** restart_failed: why. */
  error?: string;
}

/** The events of container `id` (all of them when `id` is null), oldest first. */
export async function eventsOf(roots: Roots, id: string | null): Promise<EventLine[]> {
  return (await berthOk(roots, ["events", "--format", "json"])).trim().split("\n")
    .filter((l) => l).map((l) => JSON.parse(l) as EventLine)
    .filter((e) => id === null || e.id === id);
}

/**
 * The entries left in namespace "default" of `roots`: bundles, lock files,
 * the runtime's state and work directories (each listed with its place).
 */
export async function leftovers(roots: Roots): Promise<string[]> {
  const places = {
    containers: join(roots.root, "ns/default/containers"),
    locks: join(roots.root, "ns/default/locks"),
    runc: join(roots.root, "ns/default/runc"),
    data: join(roots.dataRoot, "ns/default"),
  };
  const out: string[] = [];
  for (const [name, dir] of Object.entries(places)) {
    out.push(...(await listTree(dir)).map((p) => `${name}/${p}`));
  }
  return out;
}

/** A pair of throwaway roots, with their own network directory. */
export interface Roots {
  root: string;
  dataRoot: string;
  /**
   * `--network-dir`: private to the test (networks are host-wide: tests
   * running at once must not share them); its runtime state is in `run/`.
   */
  networkDir: string;
  /** Environment that points berth at these roots. */
  env: Record<string, string>;
}

/** Result of one berth run. */
export interface BerthResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Creates fresh roots under /tmp (the root itself is not created). */
export async function makeRoots(): Promise<Roots> {
  const base = await Deno.makeTempDir({ prefix: "berth-test-" });
  const root = join(base, "run");
  const dataRoot = join(base, "data");
  const networkDir = join(base, "networks");
  return {
    root,
    dataRoot,
    networkDir,
    env: {
      BERTH_ROOT: root,
      BERTH_DATA_ROOT: dataRoot,
      BERTH_NETWORK_DIR: networkDir,
      BERTH_MONITOR_IDLE_MS: "300",
      // Containers get only loopback unless a test names a network: the
      // bridge is slower, and roots of tests running in parallel would
      // share its subnet (tests/e2e/network_test.ts creates its own networks).
      BERTH_NETWORK: "none",
    },
  };
}

/**
 * Runs berth with `args` against `roots` (`env` added), behind the command
 * line `prefix` when one is given (e.g. an nsenter into a test's namespace).
 */
export async function berth(
  roots: Roots,
  args: string[],
  env: Record<string, string> = {},
  prefix: string[] = [],
): Promise<BerthResult> {
  const [exe, ...pre] = [...prefix, ...berthArgv()];
  const out = await new Deno.Command(exe!, {
    args: [...pre, ...args],
    env: { ...roots.env, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Runs berth with `input` on its stdin (a pipe). */
export async function berthIn(roots: Roots, args: string[], input: string): Promise<BerthResult> {
  const [exe, ...pre] = berthArgv();
  const child = new Deno.Command(exe!, {
    args: [...pre, ...args],
    env: roots.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs berth and fails the test unless it exits 0. */
export async function berthOk(roots: Roots, args: string[]): Promise<string> {
  const r = await berth(roots, args);
  if (r.code !== 0) {
    throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  }
  return r.stdout;
}

/**
 * What `berth gc [--dry-run]` did (or would do) to this root: its output
 * without the lines of the host-wide network sweep (stale `bth-*` bridges
 * and the rules of gone ones, left by whatever else runs on the host,
 * other tests in parallel among them), which are nobody's root's.
 */
export async function rootGc(roots: Roots, dryRun = false): Promise<string> {
  const out = await berthOk(roots, dryRun ? ["gc", "--dry-run"] : ["gc"]);
  return out.split("\n")
    .filter((l) =>
      !/^(would remove|removed) (the stale bridge bth-|the firewall rules of bridge bth-)/.test(l)
    )
    .join("\n");
}

/** The parsed `berth state` of `id`. */
export async function stateOf(roots: Roots, id: string): Promise<Record<string, unknown>> {
  return JSON.parse(await berthOk(roots, ["state", id]));
}

/** A busybox rootfs shared by the tests (built once, atomically). */
export async function busyboxRootfs(): Promise<string> {
  const dir = "/tmp/berth-test-rootfs";
  const script = fromFileUrl(new URL("../scripts/make_rootfs.sh", import.meta.url));
  const r = await new Deno.Command("bash", { args: [script, dir], stdout: "null" }).output();
  if (r.code !== 0) throw new Error("cannot build the busybox rootfs");
  return dir;
}

/** Mount points under `dir`. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) =>
    m === dir || m.startsWith(dir + "/")
  );
}

/** Every path below `dir` (relative), or [] if it does not exist. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory) await walk(join(d, e.name), r);
    }
  }
  await walk(dir, "");
  return out.sort();
}

/** Pids of monitor processes serving `roots`. */
export async function monitorPids(roots: Roots): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0");
      if (cmd.includes("__monitor") && cmd.includes(roots.root)) out.push(Number(e.name));
    } catch { /* exited */ }
  }
  return out;
}

/** Pids of resolver processes of `roots`' DNS directory. */
export async function resolverPids(roots: Roots): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0");
      if (cmd.includes("__resolver") && cmd.includes(join(roots.networkDir, "run", "dns"))) {
        out.push(Number(e.name));
      }
    } catch { /* exited */ }
  }
  return out;
}

/** Polls `cond` until it is true or `timeoutMs` passes. */
export async function eventually(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Deletes every container of `roots` (all namespaces), waits for the monitor to go, removes the roots. */
export async function cleanup(roots: Roots): Promise<void> {
  const ns = await Array.fromAsync(Deno.readDir(join(roots.root, "ns"))).catch(() => []);
  for (const n of ns) {
    const ids = (await berth(roots, ["-n", n.name, "list", "-q"])).stdout.split("\n").filter((s) =>
      s
    );
    if (ids.length > 0) await berth(roots, ["-n", n.name, "delete", "-f", ...ids]);
  }
  const networked = existsPath(join(roots.root, "networks")) ||
    existsPath(join(roots.networkDir, "run"));
  if (networked) {
    // What a killed berth left: network attachments of gone containers,
    // whose firewall rules are host-wide and would outlive the roots.
    await berth(roots, ["gc"]);
    // The last resort, for a failed delete or a record a test removed:
    // every firewall rule of this root's tokens goes with the root.
    const tag = rootTag(roots.root);
    await removeTokenRules(
      denoRunner,
      join(roots.root, ".."),
      (t) => t.length === 24 && t.startsWith(tag),
    ).catch(() => {});
  }
  await eventually(async () => (await monitorPids(roots)).length === 0, 10_000, "monitor exit")
    .catch(async () => {
      for (const pid of await monitorPids(roots)) Deno.kill(pid, "SIGKILL");
    });
  // The resolver goes by itself a few seconds after its last container: at once here.
  for (const pid of await resolverPids(roots)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  for (const m of (await mountsUnder(join(roots.root, ".."))).reverse()) {
    await new Deno.Command("umount", { args: ["-l", m] }).output();
  }
  await removeBridges(roots);
  await Deno.remove(join(roots.root, ".."), { recursive: true }).catch(() => {});
}

/**
 * Deletes the bridge devices of the roots' networks (the default `bridge`
 * and every conflist in the network directory), and berth's firewall rule of
 * each: the plugin makes them on first use and nothing removes them but
 * `network rm` (or `gc`, once the network is gone); berth's chains when
 * no berth bridge is left.
 */
export async function removeBridges(roots: Roots): Promise<void> {
  const names = ["bridge"];
  const devs: string[] = [];
  for (const dir of [roots.networkDir, join(roots.dataRoot, "networks")]) {
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (!e.name.endsWith(".conflist")) continue;
        names.push(e.name.slice(0, -".conflist".length));
        // The bridge a definition names (a migrated one keeps its older name).
        const conf = JSON.parse(Deno.readTextFileSync(join(dir, e.name)));
        const dev = conf.plugins?.find((p: { type?: string }) => p.type === "bridge")?.bridge;
        if (typeof dev === "string" && dev.startsWith("bth-")) devs.push(dev);
      }
    } catch { /* no networks */ }
  }
  devs.push(...names.map((n) => bridgeName(roots.networkDir, n)));
  devs.push(...names.map((n) => bridgeName(roots.dataRoot, n)));
  const networked = existsPath(join(roots.root, "networks")) ||
    existsPath(join(roots.networkDir, "run"));
  // Rules are made when a container joins a network: only roots that had one.
  if (hasNetworking() && networked) {
    await new NetworkFirewall(denoRunner).remove((b) => devs.includes(b)).catch(() => {});
  }
  for (const dev of devs) {
    try {
      Deno.statSync(`/sys/class/net/${dev}`);
    } catch {
      continue;
    }
    await new Deno.Command("ip", { args: ["link", "delete", dev, "type", "bridge"] }).output();
  }
  // As network rm does: berth's chains go with the last berth bridge.
  if (hasNetworking() && networked) {
    await new NetworkFirewall(denoRunner).dropWhenNoBridge().catch(() => {});
  }
}

function existsPath(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when this host has what bridge networks need (else network tests skip). */
export function hasNetworking(): boolean {
  return [
    "/usr/lib/cni/bridge",
    "/usr/lib/cni/host-local",
    "/usr/lib/cni/portmap",
    "/usr/lib/cni/loopback",
    "/usr/lib/cni/firewall",
    "/usr/sbin/iptables",
    "/usr/sbin/ip",
  ]
    .every((f) => {
      try {
        return Deno.statSync(f).isFile;
      } catch {
        return false;
      }
    }) && Deno.uid() === 0;
}

/** IPv4 routes of the host as [network, mask] numbers. */
function hostRoutes(): [number, number][] {
  const out: [number, number][] = [];
  const le = (h: string) => {
    const n = parseInt(h, 16);
    return (((n & 255) << 24) | (((n >> 8) & 255) << 16) | (((n >> 16) & 255) << 8) |
      ((n >>> 24) & 255)) >>> 0;
  };
  for (const line of Deno.readTextFileSync("/proc/net/route").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8) out.push([le(f[1]!), le(f[7]!)]);
  }
  return out;
}

/**
 * A random /24 in 10.200.0.0/13 that no host route covers: test networks of
 * roots running at the same time on this host never share a subnet.
 */
export function freeTestSubnet(): string {
  for (;;) {
    const b = 200 + Math.floor(Math.random() * 8);
    const c = Math.floor(Math.random() * 256);
    const net = ((10 << 24) | (b << 16) | (c << 8)) >>> 0;
    if (hostRoutes().some(([n, m]) => m !== 0 && ((net & m) >>> 0) === n)) continue;
    return `10.${b}.${c}.0/24`;
  }
}

/** A TCP port on 127.0.0.1 that is free right now. */
export function freePort(): number {
  // Below the kernel's ephemeral range, so no client connection of the
  // host (a registry test's, say) holds it as its local port meanwhile.
  let low = 32768;
  try {
    low = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0]);
  } catch { /* the kernel's default */ }
  const top = low > 21000 ? Math.min(low, 32768) : 32768;
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * (top - 20000));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken */ }
  }
}

/** Runs `fn` with fresh roots and the busybox rootfs, cleaning up afterwards. */
export async function withRoots(
  fn: (roots: Roots, rootfs: string) => Promise<void>,
): Promise<void> {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  try {
    await fn(roots, rootfs);
  } finally {
    await cleanup(roots);
  }
}
