/**
 * Per-container firewall rules that outlived their attachment, and their
 * removal.
 *
 * The CNI plugins make host-wide iptables rules for each container, named
 * after its CNI container ID (`berth-TOKEN`, see `_attach.ts`): the bridge
 * plugin's masquerade (`nat POSTROUTING -s IP … --comment "name: \"NET\"
 * id: \"berth-TOKEN\"" -j CNI-HASH` and the chain `CNI-HASH`), portmap's
 * forwarding (`CNI-HOSTPORT-DNAT … --comment "dnat name: … id: …" -j
 * CNI-DN-HASH` and that chain), where HASH is the first hex digits of
 * SHA-512(NET + ID); and the firewall plugin's two `CNI-FORWARD` rules of
 * the container's address, which name no container. A DEL that was cut
 * short can leave them behind: the bridge plugin tears its masquerade down
 * only for the addresses it finds on the container's interface, so a DEL
 * repeated after the first one removed the interface (or one without a
 * namespace) leaves the masquerade; an ADD still running after its berth
 * was killed makes them after the rollback's DEL.
 *
 * A token begins with its root's tag (8 hex digits of a hash of `--root`,
 * see `newToken`), so a root only ever removes rules of its own tokens:
 * those whose token no attachment record and no container of the root
 * names. A firewall-plugin rule of an address goes with them only when no
 * other masquerade rule on the host (any root, any CNI runtime) and no
 * attachment of the root holds that address.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { rootTag } from "../container/paths.ts";
import type { ContainerState } from "../container/state_file.ts";
import { RuntimeError } from "../host/errors.ts";
import type { ProcessRunner } from "../host/process.ts";
import { join } from "../_std/path.ts";
import { listRecords, withNetworkLock } from "./_attach.ts";
import { contextNetworkPaths } from "./_networks.ts";
import { containerIpv4 } from "./_result.ts";
import { nftGeneration, readMark, writeMark } from "./_nft_gen.ts";
import { noteName, SWEEP_DIR } from "./_sweep.ts";

/** One rule of an `iptables-save` dump. */
interface Rule {
  table: string;
  chain: string;
  /** The rule after `-A CHAIN `, as iptables-save quotes it. */
  spec: string;
  /** The berth token its comment names, or null. */
  token: string | null;
  /** The network its comment names, or null. */
  network: string | null;
  /** Its jump target, or null. */
  target: string | null;
}

/** A dump: its rules and the chains each table declares. */
export interface Dump {
  rules: Rule[];
  chains: Map<string, Set<string>>;
}

const TOKEN_IN_COMMENT = /id: \\"berth-([0-9a-f]{16}(?:[0-9a-f]{8})?)\\"/;
const NETWORK_IN_COMMENT = /name: \\"([^"\\]*)\\"/;

/** Parses `iptables-save` output (any tables). */
export function parseDump(text: string): Dump {
  const rules: Rule[] = [];
  const chains = new Map<string, Set<string>>();
  let table = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) {
      table = line.slice(1).trim();
      chains.set(table, new Set());
    } else if (line.startsWith(":")) {
      chains.get(table)?.add(line.slice(1).split(" ")[0]!);
    } else if (line.startsWith("-A ")) {
      const rest = line.slice(3);
      const sp = rest.indexOf(" ");
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const spec = sp < 0 ? "" : rest.slice(sp + 1);
      rules.push({
        table,
        chain,
        spec,
        token: TOKEN_IN_COMMENT.exec(spec)?.[1] ?? null,
        network: NETWORK_IN_COMMENT.exec(spec)?.[1] ?? null,
        target: / -j (\S+)/.exec(" " + spec)?.[1] ?? null,
      });
    }
  }
  return { rules, chains };
}

/** The chains the bridge (`CNI-…`) and portmap (`CNI-DN-…`) plugins name after a container. */
export async function containerChains(network: string, containerId: string): Promise<string[]> {
  const digest = await crypto.subtle.digest(
    "SHA-512",
    new TextEncoder().encode(network + containerId),
  );
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  // libcni's FormatChainNameWithPrefix: at most 28 characters.
  return [`CNI-${hex}`.slice(0, 28), `CNI-DN-${hex}`.slice(0, 28)];
}

/** What removing some tokens' rules takes: per token, what it had; the restore script. */
export interface Removal {
  /** Token → its network and addresses. */
  tokens: Map<string, { network: string; ips: string[] }>;
  /** `iptables-restore --noflush` input; empty when there is nothing to remove. */
  script: string;
}

/**
 * The rules and chains of the tokens `pick` chooses in `dump`.
 * `ipInUse`: an address an attachment of the root still holds (its
 * firewall-plugin rules stay).
 */
export async function planRemoval(
  dump: Dump,
  pick: (token: string) => boolean,
  ipInUse: (ip: string) => boolean = () => false,
): Promise<Removal> {
  const tokens = new Map<string, { network: string; ips: string[] }>();
  for (const r of dump.rules) {
    if (r.token === null || !pick(r.token)) continue;
    const t = tokens.get(r.token) ?? { network: r.network ?? "", ips: [] };
    if (t.network === "" && r.network !== null) t.network = r.network;
    const ip = r.chain === "POSTROUTING" ? /(?:^| )-s ([0-9.]+)\/32 /.exec(r.spec)?.[1] : undefined;
    if (ip !== undefined && !t.ips.includes(ip)) t.ips.push(ip);
    tokens.set(r.token, t);
  }
  if (tokens.size === 0) return { tokens, script: "" };
  // Per table: the chains to drop, the rules to delete.
  const drop = new Map<string, Set<string>>();
  for (const [token, t] of tokens) {
    for (const chain of await containerChains(t.network, `berth-${token}`)) {
      for (const [table, declared] of dump.chains) {
        if (declared.has(chain)) {
          if (!drop.has(table)) drop.set(table, new Set());
          drop.get(table)!.add(chain);
        }
      }
    }
  }
  const deletes: Rule[] = [];
  for (const r of dump.rules) {
    const dropped = drop.get(r.table);
    if (dropped?.has(r.chain)) continue; // flushed with its chain
    const own = r.token !== null && tokens.has(r.token);
    if (own || (r.target !== null && dropped?.has(r.target))) deletes.push(r);
  }
  // The firewall plugin's rules of an address no live masquerade holds.
  const deleting = new Set(deletes);
  for (const t of tokens.values()) {
    for (const ip of t.ips) {
      if (ipInUse(ip)) continue;
      const held = dump.rules.some((r) =>
        r.table === "nat" && r.chain === "POSTROUTING" && !deleting.has(r) &&
        new RegExp(`(?:^| )-s ${ip.replaceAll(".", "\\.")}/32 `).test(r.spec)
      );
      if (held) continue;
      for (const r of dump.rules) {
        if (r.table !== "filter" || r.chain !== "CNI-FORWARD" || deleting.has(r)) continue;
        if (
          r.spec === `-d ${ip}/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` ||
          r.spec === `-s ${ip}/32 -j ACCEPT`
        ) {
          deletes.push(r);
          deleting.add(r);
        }
      }
    }
  }
  const tables = new Set([...deletes.map((r) => r.table), ...drop.keys()]);
  const lines: string[] = [];
  for (const table of [...tables].sort()) {
    lines.push(`*${table}`);
    for (const r of deletes) if (r.table === table) lines.push(`-D ${r.chain} ${r.spec}`);
    const chains = [...(drop.get(table) ?? [])].sort();
    for (const c of chains) lines.push(`-F ${c}`);
    for (const c of chains) lines.push(`-X ${c}`);
    lines.push("COMMIT");
  }
  return { tokens, script: lines.join("\n") + "\n" };
}

/** `iptables-save` of the tables per-container rules live in (null: no iptables here). */
async function dumpRules(runner: ProcessRunner): Promise<Dump | null> {
  let text = "";
  for (const table of ["nat", "filter"]) {
    const r = await runner.exec({ argv: ["iptables-save", "-t", table], timeoutMs: 10_000 })
      .catch(() => null);
    if (r === null || r.code !== 0) return null;
    text += r.stdout;
  }
  return parseDump(text);
}

/**
 * Removes (unless `dryRun`) the per-container rules of the tokens `pick`
 * chooses, in one `iptables-restore --noflush` (`scratchDir`: a private
 * directory for its input). A dump that changed meanwhile (another root's
 * ADD or DEL) is read again, a few times. Returns, per token removed, a
 * description.
 */
export async function removeTokenRules(
  runner: ProcessRunner,
  scratchDir: string,
  pick: (token: string) => boolean,
  ipInUse: (ip: string) => boolean = () => false,
  dryRun = false,
): Promise<string[]> {
  // Where a dump at this nf_tables generation named no token `pick`
  // chooses, none can be there now: no listing (gc runs often).
  const note = noteName("tokens");
  const gen = nftGeneration();
  if (note !== null && gen !== null) {
    const text = readMark(note, gen, SWEEP_DIR);
    try {
      if (text !== null && !(JSON.parse(text) as string[]).some(pick)) return [];
    } catch { /* a torn note: list */ }
  }
  for (let attempt = 0;; attempt++) {
    const dump = await dumpRules(runner);
    if (dump === null) return [];
    const plan = await planRemoval(dump, pick, ipInUse);
    if (plan.script === "" && attempt === 0 && note !== null && gen !== null) {
      const tokens = new Set(dump.rules.map((r) => r.token).filter((t) => t !== null));
      writeMark(note, gen, SWEEP_DIR, JSON.stringify([...tokens]));
    }
    const what = [...plan.tokens].map(([token, t]) =>
      `the firewall rules of network attachment ${token} (network ${t.network || "?"}${
        t.ips.length > 0 ? `, ${t.ips.join(", ")}` : ""
      })`
    );
    if (plan.script === "" || dryRun) return what;
    Deno.mkdirSync(scratchDir, { recursive: true, mode: 0o700 });
    const file = join(scratchDir, `.rules-${crypto.randomUUID().slice(0, 8)}`);
    Deno.writeTextFileSync(file, plan.script, { mode: 0o600 });
    try {
      const r = await runner.exec({
        argv: ["iptables-restore", "-w", "5", "--noflush", file],
        timeoutMs: 20_000,
      });
      if (r.code === 0) return what;
      if (attempt >= 2) {
        throw new RuntimeError(
          `cannot remove ${what.join(", ")}: iptables-restore: ${r.stderr.trim() || r.code}`,
        );
      }
    } finally {
      Deno.removeSync(file);
    }
  }
}

/** Tokens the containers of the root name (every namespace), read from their states. */
function containerTokens(ctx: Context): Set<string> {
  const out = new Set<string>();
  const names = (dir: string) => {
    try {
      return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !n.startsWith("."));
    } catch {
      return [];
    }
  };
  for (const ns of names(ctx.paths.namespacesDir)) {
    for (const id of names(ctx.paths.containersDir(ns))) {
      try {
        const s = JSON.parse(Deno.readTextFileSync(ctx.paths.stateFile(ns, id))) as ContainerState;
        if (typeof s.net?.token === "string") out.add(s.net.token);
        for (const n of s.nets ?? []) if (typeof n.token === "string") out.add(n.token);
      } catch { /* no state (being made or removed), or unreadable: names nothing */ }
    }
  }
  return out;
}

/**
 * For `gc`: the per-container firewall rules of this root's tokens (their
 * first 8 digits are the root's tag) that no attachment record and no
 * container of the root names, removed unless `dryRun`. Under the root's
 * network lock, so no set-up or tear-down of the root runs meanwhile (a
 * set-up writes its record before its ADD).
 */
export async function staleRuleLeftovers(ctx: Context, dryRun: boolean): Promise<string[]> {
  const paths = contextNetworkPaths(ctx);
  try {
    if (!Deno.statSync(paths.stateDir).isDirectory) return [];
  } catch {
    return []; // this root never had a network
  }
  const tag = rootTag(ctx.paths.root);
  return await withNetworkLock(paths, async () => {
    const records = listRecords(paths);
    const named = new Set([...records.map((r) => r.token), ...containerTokens(ctx)]);
    const held = new Set(
      records.map((r) => r.result === null ? null : containerIpv4(r.result)).filter((ip) =>
        ip !== null
      ),
    );
    return await removeTokenRules(
      ctx.runner,
      paths.stateDir,
      (t) => t.length === 24 && t.startsWith(tag) && !named.has(t),
      (ip) => held.has(ip),
      dryRun,
    );
  });
}
