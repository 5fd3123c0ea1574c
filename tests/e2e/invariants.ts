/**
 * The invariants that must hold after any crash once the next command or
 * `berth gc` has run (issue "crash safety").
 */

import { join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import { berth, berthOk, listTree, mountsUnder, type Roots } from "../helpers.ts";
import { parseState } from "../../lib/container/state_file.ts";
import { pidsWithEnv } from "../../lib/host/proc.ts";

/** Pids whose command line contains `marker`. */
export async function processesWith(marker: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0").join(" ");
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      if (cmd.includes(marker) && !/\) [ZX] /.test(stat)) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** IDs the runtime knows in namespace `ns`. */
async function runtimeIds(roots: Roots, ns: string): Promise<string[]> {
  const root = join(roots.root, "ns", ns, "runc");
  const out = await new Deno.Command("runc", {
    args: ["--root", root, "list", "--format", "json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const v = JSON.parse(new TextDecoder().decode(out.stdout) || "null") as { id: string }[] | null;
  return (v ?? []).map((c) => c.id).sort();
}

/**
 * Asserts the invariants for namespace "default" of `roots`. `markers`
 * maps container IDs to a string only their processes' command lines hold.
 */
export async function assertInvariants(
  roots: Roots,
  markers: Record<string, string>,
  context: string,
): Promise<string[]> {
  const ns = "default";
  // Every state file parses.
  const containersDir = join(roots.root, "ns", ns, "containers");
  const ids: string[] = [];
  for (const e of await Array.fromAsync(Deno.readDir(containersDir)).catch(() => [])) {
    assertTrue(!e.name.startsWith("."), `${context}: leftover ${e.name}`);
    const file = join(containersDir, e.name, "state.json");
    parseState(await Deno.readTextFile(file), file); // throws if unparsable or missing
    ids.push(e.name);
  }
  ids.sort();
  const listed = (await berthOk(roots, ["list", "-q"])).split("\n").filter((s) => s).sort();
  assertEquals(listed, ids, `${context}: list`);
  // The runtime knows no container berth does not.
  for (const id of await runtimeIds(roots, ns)) {
    assertTrue(ids.includes(id), `${context}: runtime knows ${id}, berth does not`);
  }
  // No runtime state directory (runc lists none without its state.json) but a container's.
  for (const n of await listTree(join(roots.root, "ns", ns, "runc"))) {
    if (n.includes("/")) continue;
    assertTrue(ids.includes(n), `${context}: stray runtime state directory ${n}`);
  }
  // No mount under either root but the rootfs of a container that exists.
  // Network attachments: each one's owner is there and names it; every
  // namespace file and host-local address belongs to one of them.
  const netDir = join(roots.root, "networks");
  const tokens: string[] = [];
  for (const n of await listTree(join(netDir, "attach"))) {
    if (!n.endsWith(".json") || n.startsWith(".")) continue;
    const r = JSON.parse(await Deno.readTextFile(join(netDir, "attach", n)));
    assertTrue(ids.includes(r.id), `${context}: network attachment of deleted ${r.id}`);
    const owner = parseState(
      await Deno.readTextFile(join(containersDir, r.id, "state.json")),
      r.id,
    );
    assertEquals(owner.net?.token, r.token, `${context}: attachment ${r.token} of ${r.id}`);
    tokens.push(r.token);
  }
  for (const n of await listTree(join(netDir, "netns"))) {
    assertTrue(tokens.includes(n), `${context}: stray network namespace ${n}`);
  }
  // Addresses and leases are host-wide, beside the network directory (the
  // roots' own: only these roots use it).
  const hostRun = join(roots.networkDir, "run");
  // The resolver's name records: each one's attachment is there.
  for (const n of await listTree(join(hostRun, "dns", "records"))) {
    if (!n.endsWith(".json") || n.startsWith(".")) continue;
    assertTrue(tokens.includes(n.slice(0, -5)), `${context}: stray DNS record ${n}`);
  }
  for (const f of await listTree(join(hostRun, "ipam"))) {
    if (!/\/[0-9.]+$/.test(f)) continue;
    const owner = (await Deno.readTextFile(join(hostRun, "ipam", f))).split(/\r?\n/)[0]!;
    assertTrue(tokens.includes(owner.replace(/^berth-/, "")), `${context}: stray address ${f}`);
  }
  for (const n of await listTree(join(hostRun, "leases"))) {
    if (!n.endsWith(".json") || n.startsWith(".")) continue;
    assertTrue(tokens.includes(n.slice(0, -5)), `${context}: stray lease ${n}`);
  }
  const allowed = [
    ...ids.map((id) => join(containersDir, id, "rootfs")),
    ...tokens.map((t) => join(netDir, "netns", t)),
  ];
  for (const m of [...await mountsUnder(roots.root), ...await mountsUnder(roots.dataRoot)]) {
    if (allowed.includes(m) || await runtimeMountInFlight(roots, ids, m)) continue;
    assertTrue(false, `${context}: stray mount ${m}`);
  }
  // No file naming a container that is gone.
  const names = (dir: string) => listTree(dir).then((l) => l.filter((p) => !p.includes("/")));
  for (const n of await names(join(roots.root, "ns", ns, "locks"))) {
    assertTrue(ids.includes(n.replace(/\.lock$/, "")), `${context}: stray lock ${n}`);
  }
  for (const n of await names(join(roots.dataRoot, "ns", ns))) {
    assertTrue(ids.includes(n), `${context}: stray work directory ${n}`);
  }
  // No process of a container that is gone.
  for (const [id, marker] of Object.entries(markers)) {
    if (!ids.includes(id)) {
      assertEquals(await processesWith(marker), [], `${context}: processes of deleted ${id}`);
    }
  }
  return ids;
}

/**
 * True when `m` is runc's bind mount of its binary (`runc/ID/runc.XXXXXX`)
 * in the runtime state of a container that exists, made by a runc process
 * that is starting right now (a health check's exec, say): it names that
 * directory in its environment, or the mount is gone on a second look. A
 * mount whose runc is gone stays: that one is a leak.
 */
async function runtimeMountInFlight(roots: Roots, ids: string[], m: string): Promise<boolean> {
  const runcRoot = join(roots.root, "ns", "default", "runc");
  const found = new RegExp(`^${runcRoot.replaceAll(".", "\\.")}/([^/]+)/runc\\.[A-Za-z0-9]{6}$`)
    .exec(m);
  if (found === null || !ids.includes(found[1]!)) return false;
  const busy = pidsWithEnv("_LIBCONTAINER_STATEDIR", join(runcRoot, found[1]!)).length > 0;
  return busy || !(await mountsUnder(m)).includes(m);
}

/** A surviving container is fully usable; a gone one can be created again. */
export async function assertUsable(
  roots: Roots,
  rootfs: string,
  id: string,
  present: boolean,
  context: string,
): Promise<void> {
  if (!present) {
    await berthOk(roots, ["create", "--rootfs", rootfs, id, "--", "sleep", "1000"]);
  }
  const s = JSON.parse(await berthOk(roots, ["state", id]));
  if (s.status === "created") await berthOk(roots, ["start", id]);
  const after = JSON.parse(await berthOk(roots, ["state", id]));
  if (after.status !== "stopped") {
    const k = await berth(roots, ["kill", id, "KILL"]);
    assertEquals(k.code, 0, `${context}: kill: ${k.stderr}`);
    await berthOk(roots, ["wait", id]);
  }
  await berthOk(roots, ["delete", id]);
  assertEquals((await berth(roots, ["state", id])).code, 3, context);
}
