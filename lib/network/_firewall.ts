/**
 * berth's own iptables rules around its bridges (`bth-*`), host-wide and
 * shared by every root, beside what the CNI plugins make:
 *
 * - **No way into the host's loopback.** portmap sets `route_localnet=1`
 *   on a bridge that publishes a port (its DNAT of `127.0.0.1:HOSTPORT`
 *   needs it), and the kernel then takes packets a container addresses
 *   to 127.0.0.0/8 through its gateway as local: a UDP service bound to
 *   the host's 127.0.0.1 answered, TCP SYNs were answered
 *   (CVE-2020-8558's class). The raw table drops them before routing, as
 *   kube-proxy does: `raw PREROUTING` (first rule) `→ BERTH-PREROUTING`:
 *   `-d 127.0.0.0/8 -i bth+ -j DROP`. Replies to the host's own
 *   `127.0.0.1:HOSTPORT` connections are not touched: portmap masquerades
 *   those, so their replies are addressed to the gateway.
 * - **Networks are isolated from each other.** The firewall plugin
 *   accepts every packet a container sends, to any bridge; berth drops
 *   what one berth bridge forwards to another, in Docker's two stages:
 *   `filter FORWARD` (first rule, ahead of the plugin's `CNI-FORWARD`)
 *   `→ BERTH-FORWARD`: `-m conntrack --ctstate DNAT -j RETURN` first (a
 *   published port is reachable from every network, as from anywhere),
 *   then for each network `-i BR ! -o BR -j BERTH-ISOLATION` (what leaves
 *   its bridge for another interface), where `-o bth+ -j DROP`. A
 *   network's own traffic (bridged frames pass FORWARD where br_netfilter
 *   is loaded) and its way out stay open, and the networks of a berth
 *   without these rules (an older one on the same host) keep working.
 *
 * - **A network's own accepts and masquerade** (berth's own set-up, not
 *   the plugins'): in `BERTH-FORWARD`, replies into the subnet, what it
 *   sends out of the host's other interfaces (never to another `bth+`
 *   bridge, so no order of rules undoes the isolation) and what stays on
 *   its bridge (an internal network: only this); in nat `BERTH-POSTROUTING`
 *   (jumped to from POSTROUTING) `-s SUBNET ! -o BRIDGE` multicast aside
 *   `-j MASQUERADE`. One set per network, carrying the root's comment,
 *   removed with the network like its own rule.
 *
 * The chains and the static rules are made on first use, and both jumps
 * are put back first on every set-up; a network's own rule is made
 * whenever a container joins it and removed with the network. They go
 * with the last berth bridge: when `network rm` has removed a bridge and
 * no `bth-*` device is left in the network namespace (any root's), the
 * jumps and the three chains are removed, in one transaction under the
 * lock ({@linkcode planDrop}); `gc` does the same where a killed `network
 * rm` left them. The next set-up makes them again. A network's own rule carries the root's
 * tag in a comment (`berth:TAG`), so `gc` removes the rules of its root's
 * networks that are gone; another root's only where the bridge device they
 * name is gone from the namespace (its name is a hash of its network
 * directory: nobody's, `_sweep.ts`). Changes are made
 * under a host-wide lock ({@linkcode FIREWALL_LOCK}), as one
 * `iptables-restore --noflush` transaction, checked afterwards against
 * `iptables-save` (and retried: other programs change the same tables).
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { dirname } from "../_std/path.ts";
import type { ProcessRunner } from "../host/process.ts";
import { advanceMarks, nftGeneration, PORTS_MARK, removeAllMarks, removeMark } from "./_nft_gen.ts";
import { overlaps, parseCidr, type Subnet } from "./_subnet.ts";

/**
 * Where every berth on the host takes turns changing these rules (beside
 * the port lock, in root's /run): no two make the chains at once.
 */
export const FIREWALL_LOCK = "/run/berth-firewall.lock";

/** berth's chain in the raw table (jumped to from PREROUTING). */
export const PREROUTING_CHAIN = "BERTH-PREROUTING";
/** berth's chain in the filter table (jumped to first from FORWARD). */
export const FORWARD_CHAIN = "BERTH-FORWARD";
/** Where what leaves a berth bridge for another interface goes: dropped if that is a berth bridge. */
export const ISOLATION_CHAIN = "BERTH-ISOLATION";
/**
 * A table that always fails, last in a restore (`apply`'s `detach`): the
 * deletion of a rule from a chain that is never made. Its error line says
 * every commit before it is done.
 */
const SENTINEL = "*filter\n-D BERTH-NO-SUCH-CHAIN -j ACCEPT\nCOMMIT\n";

/** berth's chain in the nat table (jumped to from POSTROUTING): the networks' masquerade. */
export const NAT_CHAIN = "BERTH-POSTROUTING";
/** Every berth bridge, as an iptables interface pattern. */
export const BRIDGES = "bth+";

/** One rule of an `iptables-save` listing. */
export interface SavedRule {
  table: string;
  chain: string;
  /** The rule's arguments after `-A CHAIN`, unquoted. */
  args: string[];
}

/** What an `iptables-save` listing holds: the chains of each table, the rules in order. */
export interface Saved {
  chains: Set<string>;
  rules: SavedRule[];
}

/** Splits an `iptables-save` line into words (double quotes and `\"` undone). */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === "\\" && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === " " || c === "\t") {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** Parses the output of `iptables-save` (chains as `TABLE/CHAIN`). */
export function parseSave(text: string): Saved {
  const chains = new Set<string>();
  const rules: SavedRule[] = [];
  let table = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("*")) table = line.slice(1);
    else if (line.startsWith(":")) chains.add(`${table}/${line.slice(1).split(" ")[0]}`);
    else if (line.startsWith("-A ")) {
      const words = splitWords(line);
      rules.push({ table, chain: words[1] ?? "", args: words.slice(2) });
    }
  }
  return { chains, rules };
}

/**
 * A rule's arguments as a canonical key: its options (each with its values
 * and a preceding `!`) sorted, so two listings of one rule compare equal
 * whatever order the iptables variant prints them in.
 */
export function ruleKey(args: readonly string[]): string {
  const opts: string[] = [];
  let cur: string[] = [];
  let neg = false;
  for (const w of args) {
    if (w === "!") {
      neg = true;
      continue;
    }
    if (w.startsWith("-") && w.length > 1 && !/^-[0-9]/.test(w)) {
      if (cur.length > 0) opts.push(cur.join(" "));
      cur = neg ? ["!", w] : [w];
      neg = false;
    } else {
      cur.push(w);
    }
  }
  if (cur.length > 0) opts.push(cur.join(" "));
  return opts.sort().join("\u0000");
}

function has(saved: Saved, table: string, chain: string, args: readonly string[]): boolean {
  const key = ruleKey(args);
  return saved.rules.some((r) => r.table === table && r.chain === chain && ruleKey(r.args) === key);
}

/** The comment that marks the rules of one root. */
export function rootComment(tag: string): string {
  return `berth:${tag}`;
}

/** The rules, as arguments after `-A CHAIN`. */
export const RULES = {
  preroutingJump: ["-j", PREROUTING_CHAIN],
  localnetDrop: ["-d", "127.0.0.0/8", "-i", BRIDGES, "-j", "DROP"],
  forwardJump: ["-j", FORWARD_CHAIN],
  publishedReturn: ["-m", "conntrack", "--ctstate", "DNAT", "-j", "RETURN"],
  crossDrop: ["-o", BRIDGES, "-j", "DROP"],
  /**
   * What leaves a network's bridge for another interface: to the
   * isolation chain, or dropped outright for an internal network (no way
   * out: neither to another network nor beyond the host).
   */
  own(bridge: string, tag: string, internal = false): string[] {
    return [
      "-i",
      bridge,
      "!",
      "-o",
      bridge,
      "-m",
      "comment",
      "--comment",
      rootComment(tag),
      "-j",
      internal ? "DROP" : ISOLATION_CHAIN,
    ];
  },
  postroutingJump: ["-j", NAT_CHAIN],
  /**
   * A network's own accepts (berth's own set-up: one set per network, not
   * per container, as netavark makes them): replies into it, what it sends
   * out of the host's other interfaces (never to another berth bridge:
   * whatever the order of the rules, these never undo the isolation), and
   * what stays on its bridge; an internal network only the last.
   */
  accepts(bridge: string, subnet: string, tag: string, internal: boolean): string[][] {
    const c = ["-m", "comment", "--comment", rootComment(tag)];
    const within = ["-s", subnet, "-i", bridge, "-o", bridge, ...c, "-j", "ACCEPT"];
    if (internal) return [within];
    return [
      [
        "-d",
        subnet,
        "-o",
        bridge,
        "-m",
        "conntrack",
        "--ctstate",
        "RELATED,ESTABLISHED",
        ...c,
        "-j",
        "ACCEPT",
      ],
      ["-s", subnet, "-i", bridge, "!", "-o", BRIDGES, ...c, "-j", "ACCEPT"],
      within,
    ];
  },
  /** A network's masquerade: what its addresses send off the bridge, multicast aside. */
  masquerade(bridge: string, subnet: string, tag: string): string[] {
    return [
      "-s",
      subnet,
      "!",
      "-o",
      bridge,
      "-m",
      "addrtype",
      "!",
      "--dst-type",
      "MULTICAST",
      "-m",
      "comment",
      "--comment",
      rootComment(tag),
      "-j",
      "MASQUERADE",
    ];
  },
} as const;

/** A network's addresses and whether berth masquerades them (its own set-up). */
export interface NetworkRules {
  /** `A.B.C.D/BITS`, host bits zero. */
  subnet: string;
  masquerade: boolean;
}

/** What {@linkcode planEnsure} asks for: chains to make, then one restore text (or ""). */
export interface Plan {
  /** `[table, chain]` pairs to create (`iptables -N`, never a flushing restore). */
  chains: [string, string][];
  /** The `iptables-restore --noflush` input, or "" when nothing is to change. */
  restore: string;
  /**
   * `PROTO/PORT`s whose forwarding (portmap's DNAT) the restore deletes:
   * once it is committed, the ports note no longer counts them.
   */
  unforwarded?: string[];
}

/** `edit` of {@linkcode advanceMarks}: the ports note without `ports`. */
function withoutPorts(ports: string[] | undefined): (name: string, payload: string) => string {
  return (name, payload) => {
    if (ports === undefined || ports.length === 0 || name !== PORTS_MARK) return payload;
    try {
      const note = JSON.parse(payload) as { forwarded?: unknown };
      if (!Array.isArray(note.forwarded)) return payload;
      const gone = new Set(ports);
      return JSON.stringify({ ...note, forwarded: note.forwarded.filter((p) => !gone.has(p)) });
    } catch {
      return payload; // one listing more
    }
  };
}

function quote(w: string): string {
  return /^[A-Za-z0-9_+./:=!-]+$/.test(w)
    ? w
    : `"${w.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

function line(op: string, chain: string, args: readonly string[]): string {
  return [op, chain, ...args].map(quote).join(" ");
}

function restoreText(tables: Record<string, string[]>): string {
  let out = "";
  for (const [table, lines] of Object.entries(tables)) {
    if (lines.length > 0) out += `*${table}\n${lines.join("\n")}\nCOMMIT\n`;
  }
  return out;
}

/**
 * The restore lines that make `jump` the first rule of `table`'s `chain`
 * (once: a copy further down is deleted in the same transaction); none
 * when it is.
 */
function firstJump(saved: Saved, table: string, chain: string, jump: readonly string[]): string[] {
  const rules = saved.rules.filter((r) => r.table === table && r.chain === chain);
  const key = ruleKey(jump);
  if (rules.length > 0 && ruleKey(rules[0]!.args) === key) return [];
  const out = rules.filter((r) => ruleKey(r.args) === key).map(() => line("-D", chain, jump));
  return [...out, line("-I", chain, ["1", ...jump])];
}

/**
 * What makes the rules of bridge `bridge` (of the root tagged `tag`)
 * complete in the listing `saved`: nothing when they are.
 */
export function planEnsure(
  saved: Saved,
  bridge: string,
  tag: string,
  internal = false,
  net: NetworkRules | null = null,
): Plan {
  const { chains, tables } = planEnsureTables(saved, bridge, tag, internal, net);
  return { chains, restore: restoreText(tables) };
}

/**
 * {@linkcode planEnsure}'s chains and restore lines by table (`raw`,
 * `filter`, `nat`). With `net` (berth's own set-up), the network's own
 * accepts and masquerade too, and any other rule of berth's naming the
 * bridge goes (a network of that bridge name made again otherwise).
 */
export function planEnsureTables(
  saved: Saved,
  bridge: string,
  tag: string,
  internal = false,
  net: NetworkRules | null = null,
): { chains: [string, string][]; tables: Record<string, string[]> } {
  const chains: [string, string][] = [];
  if (!saved.chains.has(`raw/${PREROUTING_CHAIN}`)) chains.push(["raw", PREROUTING_CHAIN]);
  for (const chain of [FORWARD_CHAIN, ISOLATION_CHAIN]) {
    if (!saved.chains.has(`filter/${chain}`)) chains.push(["filter", chain]);
  }
  const raw = firstJump(saved, "raw", "PREROUTING", RULES.preroutingJump);
  if (!has(saved, "raw", PREROUTING_CHAIN, RULES.localnetDrop)) {
    raw.push(line("-A", PREROUTING_CHAIN, RULES.localnetDrop));
  }
  // The firewall plugin puts its CNI-FORWARD (which accepts all a
  // container sends) first in FORWARD when it makes it.
  const filter = firstJump(saved, "filter", "FORWARD", RULES.forwardJump);
  // The DNAT RETURN goes in at the top, the networks' rules at the end:
  // it stays above them all, whoever adds what when.
  if (!has(saved, "filter", FORWARD_CHAIN, RULES.publishedReturn)) {
    filter.push(line("-I", FORWARD_CHAIN, ["1", ...RULES.publishedReturn]));
  }
  // A network of that bridge name made again with the other --internal: its old rule goes.
  for (const r of saved.rules) {
    const own = ownRule(r);
    if (own?.bridge === bridge && own.internal !== internal) {
      filter.push(line("-D", FORWARD_CHAIN, r.args));
    }
  }
  if (!has(saved, "filter", FORWARD_CHAIN, RULES.own(bridge, tag, internal))) {
    filter.push(line("-A", FORWARD_CHAIN, RULES.own(bridge, tag, internal)));
  }
  if (!has(saved, "filter", ISOLATION_CHAIN, RULES.crossDrop)) {
    filter.push(line("-A", ISOLATION_CHAIN, RULES.crossDrop));
  }
  const nat: string[] = [];
  if (net !== null) {
    if (!saved.chains.has(`nat/${NAT_CHAIN}`)) chains.push(["nat", NAT_CHAIN]);
    if (!has(saved, "nat", "POSTROUTING", RULES.postroutingJump)) {
      nat.push(line("-A", "POSTROUTING", RULES.postroutingJump));
    }
    const wantFilter = [
      RULES.own(bridge, tag, internal),
      ...RULES.accepts(bridge, net.subnet, tag, internal),
    ];
    const wantNat = net.masquerade && !internal ? [RULES.masquerade(bridge, net.subnet, tag)] : [];
    const wanted = new Set([
      ...wantFilter.map((a) => `filter/${ruleKey(a)}`),
      ...wantNat.map((a) => `nat/${ruleKey(a)}`),
    ]);
    for (const r of saved.rules) {
      if (netRule(r)?.bridge !== bridge || wanted.has(`${r.table}/${ruleKey(r.args)}`)) continue;
      if (ownRule(r) !== null) continue; // above
      (r.table === "nat" ? nat : filter).push(line("-D", r.chain, r.args));
    }
    // Another berth bridge's accepts and masquerade on this subnet (or one
    // overlapping it): that bridge no longer routes it (this network's
    // set-up found it unrouted), so they outlived their device (deleted
    // without its rules), and its masquerade would take this network's
    // traffic. Its own rule names no subnet: `gc` sweeps it.
    const mine = parseCidr(net.subnet);
    for (const r of saved.rules) {
      const other = netRule(r)?.bridge;
      if (other === undefined || other === bridge || !other.startsWith("bth-")) continue;
      const s = subnetArg(r);
      if (mine !== null && s !== null && overlaps(s, mine)) {
        (r.table === "nat" ? nat : filter).push(line("-D", r.chain, r.args));
      }
    }
    for (const a of wantFilter.slice(1)) {
      if (!has(saved, "filter", FORWARD_CHAIN, a)) filter.push(line("-A", FORWARD_CHAIN, a));
    }
    for (const a of wantNat) {
      if (!has(saved, "nat", NAT_CHAIN, a)) nat.push(line("-A", NAT_CHAIN, a));
    }
    nat.push(...duplicates(saved, "nat", NAT_CHAIN));
  }
  // A rule twice (two berths at once where /run held no lock, or by
  // hand): the copy goes.
  raw.push(...duplicates(saved, "raw", PREROUTING_CHAIN));
  filter.push(...duplicates(saved, "filter", FORWARD_CHAIN));
  filter.push(...duplicates(saved, "filter", ISOLATION_CHAIN));
  return { chains, tables: net === null ? { raw, filter } : { raw, filter, nat } };
}

/**
 * Restore lines deleting the second and later copies of each rule of
 * `chain` (`-D` takes the first copy; the copies are the same rule).
 */
function duplicates(saved: Saved, table: string, chain: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of saved.rules) {
    if (r.table !== table || r.chain !== chain) continue;
    const key = ruleKey(r.args);
    if (seen.has(key)) out.push(line("-D", chain, r.args));
    seen.add(key);
  }
  return out;
}

/** The subnet a rule's `-s` (else `-d`) names, or null. */
function subnetArg(r: SavedRule): Subnet | null {
  for (const flag of ["-s", "-d"]) {
    const i = r.args.indexOf(flag);
    const v = i < 0 ? undefined : r.args[i + 1];
    if (v !== undefined) return parseCidr(v, false);
  }
  return null;
}

/** The own-bridge rule of a listing: its bridge and root comment, or null. */
function ownRule(r: SavedRule): { bridge: string; comment: string; internal: boolean } | null {
  if (r.table !== "filter" || r.chain !== FORWARD_CHAIN) return null;
  // The value after `flag`, with whether a `!` came before it.
  const at = (flag: string): [string | null, boolean] => {
    const i = r.args.indexOf(flag);
    return i < 0 ? [null, false] : [r.args[i + 1] ?? null, r.args[i - 1] === "!"];
  };
  const [i, notI] = at("-i");
  const [o, notO] = at("-o");
  const [comment] = at("--comment");
  if (i === null || notI || i !== o || !notO || i === BRIDGES) return null;
  const target = at("-j")[0];
  if (target !== ISOLATION_CHAIN && target !== "DROP") return null;
  return { bridge: i, comment: comment ?? "", internal: target === "DROP" };
}

/**
 * A network's rule in berth's chains (its own rule, accepts, masquerade):
 * the bridge it names and its root comment; null for any other.
 */
export function netRule(r: SavedRule): { bridge: string; comment: string } | null {
  const own = ownRule(r);
  if (own !== null) return own;
  if (
    !(r.table === "filter" && r.chain === FORWARD_CHAIN) &&
    !(r.table === "nat" && r.chain === NAT_CHAIN)
  ) return null;
  const value = (flag: string) => {
    const i = r.args.indexOf(flag);
    return i < 0 ? null : r.args[i + 1] ?? null;
  };
  const comment = value("--comment");
  if (comment === null || !comment.startsWith("berth:")) return null;
  for (const dev of [value("-i"), value("-o")]) {
    if (dev !== null && dev !== BRIDGES) return { bridge: dev, comment };
  }
  return null;
}

/**
 * The restore text that deletes the networks' rules `pick` selects
 * (given bridge and comment), with the bridges they name; "" when none.
 */
export function planRemove(
  saved: Saved,
  pick: (bridge: string, comment: string) => boolean,
): { restore: string; bridges: string[] } {
  const tables: Record<string, string[]> = { filter: [], nat: [] };
  const bridges = new Set<string>();
  for (const r of saved.rules) {
    const net = netRule(r);
    if (net === null || !pick(net.bridge, net.comment)) continue;
    tables[r.table]!.push(line("-D", r.chain, r.args));
    bridges.add(net.bridge);
  }
  return { restore: restoreText(tables), bridges: [...bridges] };
}

/** berth's chains, by table. */
const OWN_CHAINS: Readonly<Record<string, readonly string[]>> = {
  raw: [PREROUTING_CHAIN],
  filter: [FORWARD_CHAIN, ISOLATION_CHAIN],
  nat: [NAT_CHAIN],
};

/**
 * The restore text that removes berth's chains and every jump to them
 * (the jumps, then the chains flushed, then deleted); "" when none is
 * there.
 */
export function planDrop(saved: Saved): string {
  const tables: Record<string, string[]> = {};
  for (const [table, chains] of Object.entries(OWN_CHAINS)) {
    const present = chains.filter((c) => saved.chains.has(`${table}/${c}`));
    if (present.length === 0) continue;
    const lines: string[] = [];
    for (const r of saved.rules) {
      if (r.table !== table || present.includes(r.chain)) continue;
      const j = r.args.indexOf("-j");
      if (j >= 0 && present.includes(r.args[j + 1] ?? "")) lines.push(line("-D", r.chain, r.args));
    }
    for (const c of present) lines.push(`-F ${c}`);
    for (const c of present) lines.push(`-X ${c}`);
    tables[table] = lines;
  }
  return restoreText(tables);
}

/** The `bth-*` devices in an `ip -o link show` listing. */
export function parseBerthBridges(text: string): string[] {
  const out: string[] = [];
  for (const l of text.split("\n")) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(l)?.[1];
    if (name !== undefined && name.startsWith("bth-")) out.push(name);
  }
  return out;
}

/**
 * Whether `iptables-save` is on `PATH` (where it is not, berth never made
 * a rule: set-up needs iptables).
 */
export function iptablesInstalled(
  path: string = Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
): boolean {
  return path.split(":").some((dir) => {
    try {
      return dir !== "" && Deno.statSync(`${dir}/iptables-save`).isFile;
    } catch {
      return false;
    }
  });
}

/** The host's rules, through `iptables` and `iptables-save`. */
export class NetworkFirewall {
  constructor(readonly runner: ProcessRunner, readonly lockPath: string = FIREWALL_LOCK) {}

  /** Runs `fn` under the host-wide lock (without, where its directory is missing). */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    let lock: FileLock | null = null;
    try {
      Deno.statSync(dirname(this.lockPath));
      lock = await FileLock.acquire(this.lockPath, "berth's firewall rules", {
        timeoutMs: 60_000,
      });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    try {
      return await fn();
    } finally {
      lock?.release();
    }
  }

  /** The listing of every table. */
  async save(): Promise<Saved> {
    const r = await this.runner.exec({ argv: ["iptables-save"], timeoutMs: 10_000 });
    if (r.code !== 0) {
      throw new RuntimeError(`iptables-save failed: ${(r.stderr || r.stdout).trim()}`);
    }
    return parseSave(r.stdout);
  }

  /**
   * Makes `plan`'s chains, then applies its restore. `detach`: where it
   * deletes rules, an iptables-restore waits out an RCU grace period when
   * it closes its netlink socket (10-25 ms here), after its commits; a
   * last table that always fails ({@linkcode SENTINEL}) makes it report,
   * on stderr, the moment every commit before it is done, and the caller
   * goes on then (the child ends on its own).
   */
  private async apply(
    plan: Plan,
    detach = false,
    listed?: { gen: number; seen: (gen: number) => void },
  ): Promise<string> {
    // Each made chain and each COMMIT is one nf_tables generation: where
    // the ID moved by exactly those, the marks current before still are.
    const before = nftGeneration();
    // The plan came from a listing taken at `listed.gen`; nothing changed
    // since where the ID is still that, and then what the plan makes is all
    // there once its own commits alone moved the ID.
    const exact = (after: number | null) => {
      if (listed === undefined || before !== listed.gen || after === null) return;
      if (((after - before) >>> 0) === commits) listed.seen(after);
    };
    let commits = 0;
    for (const [table, chain] of plan.chains) {
      // Fails when another berth made it meanwhile: the check that follows tells.
      const r = await this.runner.exec({
        argv: ["iptables", "-w", "5", "-t", table, "-N", chain],
        timeoutMs: 10_000,
      });
      if (r.code === 0) commits++;
    }
    if (plan.restore === "") {
      const after = nftGeneration();
      advanceMarks(before, after, commits);
      exact(after);
      return "";
    }
    commits += plan.restore.split("\n").filter((l) => l === "COMMIT").length;
    // The sentinel's line: after the restore's own lines and its table's.
    const done = `line ${plan.restore.split("\n").length + 1} failed`;
    const input = new TextEncoder().encode(detach ? plan.restore + SENTINEL : plan.restore);
    const r = await this.runner.exec({
      argv: ["iptables-restore", "-w", "5", "--noflush"],
      stdin: "piped",
      onStdin: (s) => {
        const w = s.getWriter();
        w.write(input).then(() => w.close()).catch(() => {});
      },
      ...(detach ? { stdout: "null" as const, detachWhen: (e: string) => e.includes(done) } : {}),
      timeoutMs: 10_000,
    });
    if (detach && r.stderr.includes(done)) {
      // Done, but not waited for: reading the ID now would wait out the
      // grace period too. Committed in exactly `commits` steps after
      // `before` (under the lock): were another program's commit among
      // them, the ID is past the one given and no mark ever matches it.
      advanceMarks(
        before,
        before === null ? null : (before + commits) >>> 0,
        commits,
        undefined,
        withoutPorts(plan.unforwarded),
      );
      return "";
    }
    if (r.code !== 0) return (r.stderr || r.stdout).trim() || `exit status ${r.code}`;
    const after = nftGeneration();
    advanceMarks(before, after, commits, undefined, withoutPorts(plan.unforwarded));
    exact(after);
    return "";
  }

  /**
   * Makes bridge `bridge`'s rules (of the root tagged `tag`) and berth's
   * chains complete; one `iptables-save` when they are.
   */
  ensure(bridge: string, tag: string, internal = false): Promise<void> {
    return this.locked(() => this.ensureLocked(bridge, tag, internal));
  }

  private async ensureLocked(bridge: string, tag: string, internal: boolean): Promise<void> {
    let why = "";
    for (let attempt = 0;; attempt++) {
      const plan = planEnsure(await this.save(), bridge, tag, internal);
      if (plan.chains.length === 0 && plan.restore === "") return;
      if (attempt === 4) {
        throw new RuntimeError(
          `cannot set up the firewall rules of bridge ${bridge}${why ? `: ${why}` : ""}`,
        );
      }
      why = await this.apply(plan);
    }
  }

  /**
   * One change under the lock: `plan` gets the listing and returns chains
   * to make and restore input; applied, and planned again from a fresh
   * listing when the restore failed (another program changed the tables
   * meanwhile), a few times. `plan` must give nothing more to do once its
   * change is there. `seen`: told the nf_tables generation at which what
   * the plan makes is known to be all there (the listing's, where it had
   * nothing to do; the one its own commits reached, where nothing else
   * changed the tables in between), never where that is not known.
   */
  batch(plan: (saved: Saved) => Plan, seen?: (gen: number) => void): Promise<void> {
    return this.locked(async () => {
      let why = "";
      for (let attempt = 0;; attempt++) {
        const g = seen === undefined ? null : nftGeneration();
        const p = plan(await this.save());
        if (p.chains.length === 0 && p.restore === "") {
          if (seen !== undefined && g !== null) seen(g);
          return;
        }
        if (attempt === 4) throw new RuntimeError(`cannot change the firewall rules: ${why}`);
        why = await this.apply(
          p,
          false,
          seen !== undefined && g !== null ? { gen: g, seen } : undefined,
        );
        if (why === "") return;
      }
    });
  }

  /**
   * {@linkcode batch}, then a listing that shows nothing more to do; the
   * nf_tables generation ID read before each listing is given to `plan`
   * with it, and the one before the last listing to `seen`
   * (`_nft_gen.ts`: a later set-up that reads the same ID skips the
   * listing). `gen` reads the ID (null: unknown).
   */
  batchSeen(
    plan: (saved: Saved, gen: number | null) => Plan,
    gen: () => number | null,
    seen: (gen: number) => void,
  ): Promise<void> {
    return this.locked(async () => {
      let why = "";
      for (let attempt = 0;; attempt++) {
        const g = gen();
        const p = plan(await this.save(), g);
        if (p.chains.length === 0 && p.restore === "") {
          if (g !== null) seen(g);
          return;
        }
        if (attempt === 4) throw new RuntimeError(`cannot change the firewall rules: ${why}`);
        why = await this.apply(p);
      }
    });
  }

  /**
   * Applies `restore` under the lock where nf_tables' generation is still
   * `gen` (nothing changed since the caller's knowledge of the rules);
   * false, changing nothing, where it moved or the restore failed.
   */
  restoreAt(gen: number, restore: string): Promise<boolean> {
    return this.locked(async () => {
      if (nftGeneration() !== gen) return false;
      return await this.apply({ chains: [], restore }) === "";
    });
  }

  /**
   * Applies `restore` under the lock when it applies as a whole; else
   * `fallback` plans from a fresh listing (see {@linkcode batch}).
   */
  restoreOr(
    restore: string,
    fallback: (saved: Saved) => Plan,
    unforwarded: string[] = [],
  ): Promise<void> {
    return this.locked(async () => {
      if (restore !== "" && await this.apply({ chains: [], restore, unforwarded }, true) === "") {
        return;
      }
      let why = "";
      for (let attempt = 0;; attempt++) {
        const p = fallback(await this.save());
        if (p.chains.length === 0 && p.restore === "") return;
        if (attempt === 4) throw new RuntimeError(`cannot change the firewall rules: ${why}`);
        why = await this.apply(p);
        if (why === "") return;
      }
    });
  }

  /**
   * Runs `fn` under the host-wide lock: a listing ({@linkcode save}) and
   * the change planned from it ({@linkcode restoreLocked}) in one turn.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.locked(fn);
  }

  /**
   * Applies `restore` (`iptables-restore --noflush`; the caller holds the
   * lock, see {@linkcode exclusive}); "" when done, else why it failed.
   */
  restoreLocked(restore: string): Promise<string> {
    return this.apply({ chains: [], restore });
  }

  /**
   * Removes the own-bridge rules `pick` selects; returns the bridges they
   * named (what `dryRun` would remove, without removing it).
   */
  remove(
    pick: (bridge: string, comment: string) => boolean,
    dryRun = false,
  ): Promise<string[]> {
    return this.locked(() => this.removeLocked(pick, dryRun));
  }

  private async removeLocked(
    pick: (bridge: string, comment: string) => boolean,
    dryRun: boolean,
  ): Promise<string[]> {
    let why = "";
    let removed: string[] = [];
    for (let attempt = 0;; attempt++) {
      const plan = planRemove(await this.save(), pick);
      if (attempt === 0) removed = plan.bridges;
      if (plan.restore === "" || dryRun) return removed;
      // Before the rules: a mark left would say they are there.
      for (const b of plan.bridges) removeMark(b);
      if (attempt === 4) throw new RuntimeError(`cannot remove firewall rules: ${why}`);
      why = await this.apply({ chains: [], restore: plan.restore });
    }
  }

  /**
   * Removes bridge `bridge`'s own rule (`network rm`, once the device is
   * gone), and berth's chains when it was the last berth bridge. `before`
   * (the device's removal) runs first under the same lock: no listing
   * under the lock (`gc`'s sweep) sees the device gone and its rules there,
   * but after a kill between the two.
   */
  removeBridge(bridge: string, before?: () => Promise<void>): Promise<void> {
    return this.locked(async () => {
      await before?.();
      removeMark(bridge);
      await this.removeLocked((b) => b === bridge, false);
      await this.dropLocked(false);
    });
  }

  /**
   * The `bth-*` devices in the runner's network namespace (any root's), or
   * null when `ip` cannot tell (then berth's chains stay).
   */
  async berthBridges(): Promise<string[] | null> {
    const r = await this.runner.exec({ argv: ["ip", "-o", "link", "show"], timeoutMs: 10_000 });
    return r.code === 0 ? parseBerthBridges(r.stdout) : null;
  }

  /**
   * Removes berth's chains and their jumps when no berth bridge is left
   * (gc: where a killed `network rm` left them); true when they were
   * there (and, unless `dryRun`, are gone).
   */
  dropWhenNoBridge(dryRun = false): Promise<boolean> {
    return this.locked(() => this.dropLocked(dryRun));
  }

  private async dropLocked(dryRun: boolean): Promise<boolean> {
    // Under the lock: a set-up that made a bridge meanwhile either shows
    // here, or makes the chains again after this (its ensure waits).
    const bridges = await this.berthBridges();
    if (bridges === null || bridges.length > 0) return false;
    let why = "";
    for (let attempt = 0;; attempt++) {
      const restore = planDrop(await this.save());
      if (restore === "") return attempt > 0;
      if (dryRun) return true;
      if (attempt === 4) {
        throw new RuntimeError(`cannot remove berth's firewall chains: ${why}`);
      }
      removeAllMarks();
      why = await this.apply({ chains: [], restore });
    }
  }
}
