/**
 * What test runs may leave on the host, checked after them (scripts/stress.sh):
 *
 * - a mount under a test root (`$TMPDIR/berth-test-*`, `$TMPDIR/berth-bench-*`);
 * - a per-container iptables rule (nat, filter) whose comment names a berth
 *   token (`berth-TOKEN`) that no attachment record of any root still on
 *   the host names (the test roots, `/run/berth`, and the roots given as
 *   arguments), or a portmap/bridge chain (`CNI-…`) nothing jumps to;
 * - a `bth-*` bridge device, or a veth on one;
 * - a rule of berth's own per network (`BERTH-FORWARD`, `BERTH-POSTROUTING`,
 *   comment `berth:TAG`) naming a `bth-*` device that is not there.
 *
 * `--save FILE` writes what is there now (before the runs); `--against
 * FILE` leaves that out of the check; `--settle S` looks again after S
 * seconds and counts only what is still there (a test running meanwhile on
 * a shared host holds its roots' mounts and rules while it runs). A bridge of a root still on the host
 * (anything under $TMPDIR two levels deep with a `networks/` directory, or given as ROOT:DATA) is that root's. Exit status 1
 * when something is left, with one line per thing.
 *
 * Usage: deno run -A scripts/host_check.ts [--save FILE | --against FILE] [--settle S] [ROOT[:DATA]...]
 *
 * @module
 */

import { join } from "../lib/_std/path.ts";
import { bridgeName, parseDump } from "../lib/network/mod.ts";

const dec = new TextDecoder();

async function sh(argv: string[]): Promise<string> {
  try {
    const r = await new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "null",
    }).output();
    return r.success ? dec.decode(r.stdout) : "";
  } catch {
    return "";
  }
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

const tmp = Deno.env.get("TMPDIR") || "/tmp";
const testRoots = names(tmp).filter((n) => /^berth-(test|bench)-/.test(n) && n.includes("-"))
  .map((n) => join(tmp, n))
  .filter((p) => {
    try {
      return Deno.statSync(p).isDirectory;
    } catch {
      return false;
    }
  });

/** Mounts under the test roots. */
function mounts(): string[] {
  const all = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((l) => l.split(" ")[4] ?? "").filter((m) => m !== "");
  return all.filter((m) => testRoots.some((r) => m === r || m.startsWith(r + "/")));
}

/**
 * Directories holding a `networks/` directory (a `--root`: attachment
 * records; a `--data-root`: conflists) among $TMPDIR/X and $TMPDIR/X/Y,
 * /run/berth, /var/lib/berth and `$BERTH_ROOT`/`$BERTH_DATA_ROOT`: the roots
 * still on this host, whoever made them.
 */
function rootsOnHost(extraRoots: string[]): string[] {
  const out = new Set<string>(["/run/berth", "/var/lib/berth"]);
  for (const v of ["BERTH_ROOT", "BERTH_DATA_ROOT"]) {
    if (Deno.env.get(v)) out.add(Deno.env.get(v)!);
  }
  for (const r of extraRoots) for (const p of r.split(":")) out.add(p);
  for (const x of names(tmp)) {
    const dx = join(tmp, x);
    out.add(dx);
    for (const y of names(dx)) out.add(join(dx, y));
  }
  return [...out].filter((d) => {
    try {
      return Deno.statSync(join(d, "networks")).isDirectory;
    } catch {
      return false;
    }
  });
}

/** Tokens the attachment records of every root we can find name. */
function recordedTokens(roots: string[]): Set<string> {
  const out = new Set<string>();
  for (const root of roots) {
    for (const n of names(join(root, "networks/attach"))) {
      if (n.endsWith(".json")) out.add(n.slice(0, -5));
    }
  }
  return out;
}

interface Snapshot {
  mounts: string[];
  rules: string[];
  chains: string[];
  links: string[];
  /** berth's network rules of bridges that are gone (absent in older baselines). */
  bridgeRules?: string[];
}

/** What is on the host now that the check looks at. */
async function snapshot(extraRoots: string[]): Promise<{ now: Snapshot; orphanRules: string[] }> {
  const text = (await sh(["iptables-save", "-t", "nat"])) +
    (await sh(["iptables-save", "-t", "filter"]));
  const dump = await parseDump(text);
  const roots = rootsOnHost(extraRoots);
  const tokens = recordedTokens(roots);
  const rules = dump.rules.filter((r) => r.token !== null).map((r) =>
    `${r.table} ${r.chain} ${r.spec}`
  );
  const orphanRules = dump.rules.filter((r) => r.token !== null && !tokens.has(r.token))
    .map((r) => `${r.table} ${r.chain} ${r.spec}`);
  // Per-container chains (CNI-<hash>, CNI-DN-<hash>) that nothing jumps to.
  const chains: string[] = [];
  for (const [table, declared] of dump.chains) {
    for (const c of declared) {
      if (!/^CNI-(DN-)?[0-9a-f]{20,}$/.test(c)) continue;
      if (!dump.rules.some((r) => r.table === table && r.target === c)) {
        chains.push(`${table} ${c}`);
      }
    }
  }
  // Bridges of roots still on the host are theirs (a test still running).
  const owned = new Set<string>();
  for (const data of roots) {
    const nets = [
      "bridge",
      ...names(join(data, "networks")).filter((n) => n.endsWith(".conflist"))
        .map((n) => n.slice(0, -".conflist".length)),
    ];
    // An older berth named bridges after the data root; now after the
    // network directory (tests put theirs at BASE/networks, the default is
    // /etc/berth/networks).
    for (const n of nets) {
      owned.add(await bridgeName(data, n)).add(await bridgeName(join(data, "networks"), n));
    }
  }
  for (const n of ["bridge", ...names("/etc/berth/networks")]) {
    owned.add(await bridgeName("/etc/berth/networks", n.replace(/\.conflist$/, "")));
  }
  const links: string[] = [];
  const linkList = await sh(["ip", "-o", "link", "show"]);
  const devices = new Set(
    linkList.split("\n").map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((n) => n !== undefined),
  );
  // berth's rules of a network whose bridge device is gone.
  const bridgeRules = dump.rules.filter((r) =>
    (r.chain === "BERTH-FORWARD" || r.chain === "BERTH-POSTROUTING") &&
    /--comment "?berth:/.test(r.spec) &&
    [...r.spec.matchAll(/-[io] (bth-[0-9a-z]+)/g)].some((m) => !devices.has(m[1]!))
  ).map((r) => `${r.table} ${r.chain} ${r.spec}`);
  for (const line of linkList.split("\n")) {
    const m = /^\d+: ([^:@]+)[@:].*?(?: master (\S+))?/.exec(line);
    if (m === null) continue;
    const [, name, master] = m;
    const bridge = / master (bth-\S+)/.exec(line)?.[1] ?? master;
    if (name!.startsWith("bth-")) {
      if (!owned.has(name!)) links.push(name!);
    } else if (bridge?.startsWith("bth-") && !owned.has(bridge)) {
      links.push(`${name} (on ${bridge})`);
    }
  }
  return {
    now: { mounts: mounts(), rules, chains, links: links.sort(), bridgeRules },
    orphanRules,
  };
}

const args = [...Deno.args];
let save: string | null = null;
let against: string | null = null;
let settle = 0;
for (;;) {
  if (args[0] === "--save") save = args.splice(0, 2)[1] ?? null;
  else if (args[0] === "--against") against = args.splice(0, 2)[1] ?? null;
  else if (args[0] === "--settle") settle = Number(args.splice(0, 2)[1] ?? "0");
  else break;
}
if (save !== null) {
  const { now } = await snapshot(args);
  Deno.writeTextFileSync(save, JSON.stringify(now));
  console.log(
    `host check: saved ${now.mounts.length} mounts, ${now.rules.length} berth rules, ` +
      `${now.chains.length} unreferenced chains, ${now.links.length} bth-* links, ` +
      `${now.bridgeRules?.length ?? 0} rules of bridges that are gone as the baseline`,
  );
  Deno.exit(0);
}
const before: Snapshot = against === null
  ? { mounts: [], rules: [], chains: [], links: [] }
  : JSON.parse(Deno.readTextFileSync(against));

/** What is left now that was not there before. */
async function problems(): Promise<string[]> {
  const { now, orphanRules } = await snapshot(args);
  const fresh = (xs: string[], old: string[]) => xs.filter((x) => !old.includes(x));
  return [
    ...fresh(now.mounts, before.mounts).map((m) => `mount under a test root: ${m}`),
    ...fresh(orphanRules, before.rules).map((r) => `rule of no attachment: ${r}`),
    ...fresh(now.chains, before.chains).map((c) => `chain nothing jumps to: ${c}`),
    ...fresh(now.links, before.links).map((l) => `link left: ${l}`),
    ...fresh(now.bridgeRules ?? [], before.bridgeRules ?? []).map((r) =>
      `rule of a bridge that is gone: ${r}`
    ),
  ];
}

let left = await problems();
if (left.length > 0 && settle > 0) {
  // A test of someone else's still running on this host: what it holds
  // now is gone once it ends. Only what stays counts.
  await new Promise((r) => setTimeout(r, settle * 1000));
  const again = await problems();
  left = left.filter((p) => again.includes(p));
}
for (const p of left) console.log(`host check: ${p}`);
console.log(
  left.length === 0
    ? "host check: nothing left (mounts, per-container rules and chains, bth-* links, " +
      "rules of bridges that are gone)"
    : `host check: ${left.length} thing(s) left`,
);
Deno.exit(left.length === 0 ? 0 : 1);
