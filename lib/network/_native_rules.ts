/**
 * The iptables rules the CNI plugins make for one container (bridge's
 * masquerade, portmap's forwarding, firewall's accepts), rule for rule and
 * chain for chain as containernetworking-plugins 1.1.1 make them, so that
 * berth's own set-up can apply them in one `iptables-restore --noflush`
 * and either side (berth or a plugin's DEL, `_stale_rules.ts`) removes what
 * the other made.
 *
 * @module
 */

import { type Saved, type SavedRule } from "./_firewall.ts";
import { ruleKey } from "./_firewall.ts";
import type { PortMapping } from "./_ports.ts";

/** One rule: table, chain, the arguments after `-A CHAIN`. */
export type Rule = SavedRule;

/** A container's rules and the chains of its own. */
export interface ContainerRules {
  /** `[table, chain]` the container owns (made with it, dropped with it). */
  ownChains: [string, string][];
  /** Its rules, in the order they are added (those of own chains included). */
  rules: Rule[];
}

/** Chains the plugins share between containers, and the rules that lead into them. */
interface Shared {
  chains: [string, string][];
  /** `[rule, first]`: made when missing (`first`: inserted at the top). */
  rules: [Rule, boolean][];
}

/** What one container needs to know. */
export interface RuleInput {
  network: string;
  /** The CNI container ID (`berth-TOKEN`). */
  containerId: string;
  ip: string;
  /** The network's subnet, `A.B.C.D/BITS` (host bits zero). */
  subnet: string;
  masquerade: boolean;
  firewall: boolean;
  ports: PortMapping[];
}

async function hashHex(network: string, id: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-512", new TextEncoder().encode(network + id));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const SETMARK = "CNI-HOSTPORT-SETMARK";
const DNAT = "CNI-HOSTPORT-DNAT";
const MASQ = "CNI-HOSTPORT-MASQ";
const FWD = "CNI-FORWARD";
const ADMIN = "CNI-ADMIN";

function shared(input: RuleInput): Shared {
  const chains: [string, string][] = [];
  const rules: [Rule, boolean][] = [];
  if (input.firewall) {
    chains.push(["filter", FWD], ["filter", ADMIN]);
    rules.push(
      [{
        table: "filter",
        chain: "FORWARD",
        args: ["-m", "comment", "--comment", "CNI firewall plugin rules", "-j", FWD],
      }, true],
      [{
        table: "filter",
        chain: FWD,
        args: ["-m", "comment", "--comment", "CNI firewall plugin admin overrides", "-j", ADMIN],
      }, true],
    );
  }
  if (input.ports.length > 0) {
    chains.push(["nat", DNAT], ["nat", SETMARK], ["nat", MASQ]);
    const local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT];
    rules.push(
      [{ table: "nat", chain: "PREROUTING", args: local }, false],
      [{ table: "nat", chain: "OUTPUT", args: local }, false],
      [{
        table: "nat",
        chain: "POSTROUTING",
        args: ["-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", MASQ],
      }, false],
      [{
        table: "nat",
        chain: MASQ,
        args: ["-m", "mark", "--mark", "0x2000/0x2000", "-j", "MASQUERADE"],
      }, false],
      [{
        table: "nat",
        chain: SETMARK,
        args: [
          "-m",
          "comment",
          "--comment",
          "CNI portfwd masquerade mark",
          "-j",
          "MARK",
          "--set-xmark",
          "0x2000/0x2000",
        ],
      }, false],
    );
  }
  return { chains, rules };
}

/** The container's own rules (see the module doc). */
export async function containerRules(input: RuleInput): Promise<ContainerRules> {
  const hex = await hashHex(input.network, input.containerId);
  const masqChain = `CNI-${hex}`.slice(0, 28);
  const dnChain = `CNI-DN-${hex}`.slice(0, 28);
  const comment = `name: "${input.network}" id: "${input.containerId}"`;
  const ownChains: [string, string][] = [];
  const rules: Rule[] = [];
  if (input.masquerade) {
    ownChains.push(["nat", masqChain]);
    const c = ["-m", "comment", "--comment", comment];
    rules.push(
      { table: "nat", chain: masqChain, args: ["-d", input.subnet, ...c, "-j", "ACCEPT"] },
      {
        table: "nat",
        chain: masqChain,
        args: ["!", "-d", "224.0.0.0/4", ...c, "-j", "MASQUERADE"],
      },
      { table: "nat", chain: "POSTROUTING", args: ["-s", `${input.ip}/32`, ...c, "-j", masqChain] },
    );
  }
  if (input.ports.length > 0) {
    ownChains.push(["nat", dnChain]);
    for (const p of input.ports) {
      const d = p.hostIP ? ["-d", `${p.hostIP}/32`] : [];
      const match = ["-p", p.protocol, "-m", p.protocol, "--dport", String(p.hostPort)];
      rules.push(
        { table: "nat", chain: dnChain, args: ["-s", input.subnet, ...d, ...match, "-j", SETMARK] },
        {
          table: "nat",
          chain: dnChain,
          args: ["-s", "127.0.0.1/32", ...d, ...match, "-j", SETMARK],
        },
        {
          table: "nat",
          chain: dnChain,
          args: [
            ...d,
            ...match,
            "-j",
            "DNAT",
            "--to-destination",
            `${input.ip}:${p.containerPort}`,
          ],
        },
      );
    }
    for (const proto of ["tcp", "udp"] as const) {
      const ports = input.ports.filter((p) => p.protocol === proto).map((p) => p.hostPort);
      // multiport takes at most 15 ports per rule.
      for (let i = 0; i < ports.length; i += 15) {
        rules.push({
          table: "nat",
          chain: DNAT,
          args: [
            "-p",
            proto,
            "-m",
            "comment",
            "--comment",
            `dnat ${comment}`,
            "-m",
            "multiport",
            "--dports",
            ports.slice(i, i + 15).join(","),
            "-j",
            dnChain,
          ],
        });
      }
    }
  }
  if (input.firewall) {
    rules.push(
      {
        table: "filter",
        chain: FWD,
        args: [
          "-d",
          `${input.ip}/32`,
          "-m",
          "conntrack",
          "--ctstate",
          "RELATED,ESTABLISHED",
          "-j",
          "ACCEPT",
        ],
      },
      { table: "filter", chain: FWD, args: ["-s", `${input.ip}/32`, "-j", "ACCEPT"] },
    );
  }
  return { ownChains, rules };
}

function quote(w: string): string {
  return /^[A-Za-z0-9_+./:=!,-]+$/.test(w)
    ? w
    : `"${w.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

function line(op: string, chain: string, args: readonly string[]): string {
  return [op, chain, ...args].map(quote).join(" ");
}

function present(saved: Saved, r: Rule): boolean {
  const key = ruleKey(r.args);
  return saved.rules.some((s) =>
    s.table === r.table && s.chain === r.chain && ruleKey(s.args) === key
  );
}

/** Restore lines by table. */
export type Tables = Record<string, string[]>;

function push(t: Tables, table: string, l: string): void {
  (t[table] ??= []).push(l);
}

/**
 * What makes the container's rules (and the plugins' shared chains they
 * hang off) complete in `saved`: chains to create with `iptables -N`
 * (shared ones: a restore would flush them), and restore lines. Rules
 * already there are not added again, so applying it twice is harmless.
 */
export function planAdd(saved: Saved, input: RuleInput, own: ContainerRules): {
  chains: [string, string][];
  tables: Tables;
} {
  const s = shared(input);
  const chains = s.chains.filter(([t, c]) => !saved.chains.has(`${t}/${c}`));
  const tables: Tables = {};
  for (const [r, first] of s.rules) {
    if (present(saved, r)) continue;
    push(
      tables,
      r.table,
      first ? line("-I", r.chain, ["1", ...r.args]) : line("-A", r.chain, r.args),
    );
  }
  // The container's own chains: declared (made, or emptied when a cut-short
  // set-up left them), then filled.
  const ownSet = new Set(own.ownChains.map(([t, c]) => `${t}/${c}`));
  for (const [t, c] of own.ownChains) push(tables, t, `:${c} - [0:0]`);
  for (const r of own.rules) {
    if (!ownSet.has(`${r.table}/${r.chain}`) && present(saved, r)) continue;
    push(tables, r.table, line("-A", r.chain, r.args));
  }
  return { chains, tables };
}

/**
 * The restore lines that remove the container's rules and chains: every
 * one (`saved` null: the quick try, which fails as a whole if one is
 * missing), or those `saved` holds.
 */
export function planDel(saved: Saved | null, own: ContainerRules): Tables {
  const tables: Tables = {};
  const ownSet = new Set(own.ownChains.map(([t, c]) => `${t}/${c}`));
  for (const r of own.rules) {
    if (ownSet.has(`${r.table}/${r.chain}`)) continue; // flushed with the chain
    if (saved !== null && !present(saved, r)) continue;
    push(tables, r.table, line("-D", r.chain, r.args));
  }
  for (const [t, c] of own.ownChains) {
    if (saved !== null && !saved.chains.has(`${t}/${c}`)) continue;
    push(tables, t, `-F ${c}`);
    push(tables, t, `-X ${c}`);
  }
  return tables;
}

/** `iptables-restore` input of `tables`; "" when there is nothing. */
export function restoreInput(tables: Tables): string {
  let out = "";
  for (const [table, lines] of Object.entries(tables)) {
    // Chain declarations ahead of the rules that use them.
    const sorted = [
      ...lines.filter((l) => l.startsWith(":")),
      ...lines.filter((l) => !l.startsWith(":")),
    ];
    if (lines.length > 0) out += `*${table}\n${sorted.join("\n")}\nCOMMIT\n`;
  }
  return out;
}

/** Merges restore lines of two plans (table by table, `a`'s first). */
export function mergeTables(a: Tables, b: Tables): Tables {
  const out: Tables = {};
  for (const t of [a, b]) for (const [k, v] of Object.entries(t)) (out[k] ??= []).push(...v);
  return out;
}

/** Whether `saved` holds every chain and rule the plugins share that `input` needs. */
export function sharedComplete(saved: Saved, input: RuleInput): boolean {
  const s = shared(input);
  return s.chains.every(([t, c]) => saved.chains.has(`${t}/${c}`)) &&
    s.rules.every(([r]) => present(saved, r));
}

/** A listing of just the chains and rules the plugins share that `input` needs. */
export function sharedOnly(input: RuleInput): Saved {
  const s = shared(input);
  return {
    chains: new Set(s.chains.map(([t, c]) => `${t}/${c}`)),
    rules: s.rules.map(([r]) => r),
  };
}
