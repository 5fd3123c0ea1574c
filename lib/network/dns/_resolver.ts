/**
 * berth's resolver: one process per host (per {@linkcode dnsDir}), the
 * hidden `__resolver` command, started on demand by `_ensure.ts` and gone
 * once no container of its records runs.
 *
 * It listens on UDP port 53 of the gateway of every network its records
 * name (the gateway is the container's nameserver). A query is answered
 * only for a container it knows by its source address on that gateway
 * (anything else is REFUSED: the resolver is no open resolver on the
 * host's bridge addresses). A name (or `--network-alias`) of a container
 * on the same network and in the asker's own root and namespace gets its
 * `A` record; every other query is sent on to the host's own resolvers
 * (`/etc/resolv.conf`, loopback stubs included: the resolver runs on the
 * host) and the checked answer relayed back.
 *
 * The records are read again whenever their directory changes (checked at
 * each query and each second) or on SIGHUP. Each second the resolver also
 * looks for a process in any record's network namespace; after two looks
 * without one it exits.
 *
 * @module
 */

import { join } from "../../_std/path.ts";
import type { Libc } from "../../host/libc.ts";
import { trimFilePages } from "../../host/memory_trim.ts";
import {
  buildAnswer,
  buildError,
  isReplyTo,
  parseQuery,
  type Query,
  RCODE,
  TYPE_A,
  withId,
} from "./_message.ts";
import {
  type DnsRecord,
  listDnsRecords,
  recordsDir,
  RESOLVER_LOCK,
  RESOLVER_PID,
} from "./_records.ts";
import { addressOf, isAddressNotAvailable, UdpSocket } from "./_udp.ts";
import { containerResolv, parseResolvConf, readOrNull } from "../_resolv_conf.ts";

/** How long an upstream server has to answer before the next is asked. */
const UPSTREAM_TIMEOUT_MS = 2000;
/** Quiet time before the resolver trims its start-up pages. */
const TRIM_DELAY_MS = 1000;
/** The least time between two trims. */
const TRIM_EVERY_MS = 30_000;
/** TTL of the answers for containers' names (they change as containers come and go). */
const TTL = 0;
const TYPE_ANY = 255;
/** A change of the records this recent keeps the resolver up (a container between create and start). */
const RECENT_MS = 5000;
/** TCP clients served at once, and how long one may stay silent. */
const MAX_TCP_CONNS = 64;
const TCP_IDLE_MS = 10_000;

/** Settings of {@linkcode runResolver}. */
export interface ResolverOptions {
  dir: string;
  /** Period of the reload check and of the look for running containers. */
  pollMs: number;
  /** Looks without a running container before it exits. */
  idleChecks: number;
  libc: Libc;
  /** The host's resolver file (its nameservers are the upstreams). */
  hostResolvConf: string;
  /** How long a start or a change of the records keeps it up (default {@linkcode RECENT_MS}). */
  graceMs?: number;
}

/**
 * Runs the resolver of `options.dir` until no container of its records
 * runs; returns at once when another resolver holds the lock.
 */
export async function runResolver(options: ResolverOptions): Promise<void> {
  Deno.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const lockFile = Deno.openSync(join(options.dir, RESOLVER_LOCK), {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  try {
    if (!lockFile.tryLockSync(true)) return; // another resolver runs
    const pidFile = join(options.dir, RESOLVER_PID);
    Deno.writeTextFileSync(pidFile, `${Deno.pid}\n`, { mode: 0o600 });
    const r = new Resolver(options);
    try {
      await r.run();
    } finally {
      // A resolver started after this one's last look may already have written its own.
      if (readOrNull(pidFile)?.trim() === String(Deno.pid)) {
        try {
          Deno.removeSync(pidFile);
        } catch { /* gone */ }
      }
    }
  } finally {
    lockFile.close();
  }
}

/** A record's lookup key: network (bridge), root, namespace, name. */
function nameKey(bridge: string, root: string, ns: string, name: string): string {
  return `${bridge}\0${root}\0${ns}\0${name}`;
}

/** The resolver's state and loops. */
class Resolver {
  #records: DnsRecord[] = [];
  /** `gateway ip` → the asking container's record. */
  #askers = new Map<string, DnsRecord>();
  /** {@linkcode nameKey} → addresses. */
  #names = new Map<string, string[]>();
  #sockets = new Map<string, UdpSocket>();
  #listeners = new Map<string, Deno.TcpListener>();
  #tcpConns = 0;
  #stamp = "";
  #idle = 0;
  #done: (() => void) | null = null;
  #upstreamStamp = "";
  #upstreams: string[] = [];
  #trimTimer: ReturnType<typeof setTimeout> | undefined;
  #lastActive = 0;
  #lastTrim = 0;
  readonly #startedAt = Date.now();

  readonly #grace: number;

  constructor(readonly o: ResolverOptions) {
    this.#grace = o.graceMs ?? RECENT_MS;
  }

  async run(): Promise<void> {
    const hup = () => this.#reload();
    Deno.addSignalListener("SIGHUP", hup);
    try {
      for (;;) {
        await this.#serveUntilIdle();
        // Its sockets are closed now: a berth that touched the records before this look
        // keeps it up; one after it finds no listener and starts another resolver.
        if (!this.#recentChange()) return;
        this.#idle = 0;
        this.#stamp = "";
      }
    } finally {
      Deno.removeSignalListener("SIGHUP", hup);
      if (this.#trimTimer !== undefined) clearTimeout(this.#trimTimer);
    }
  }

  /** Serves until the idle looks say no container runs; then closes every socket. */
  async #serveUntilIdle(): Promise<void> {
    const finished = new Promise<void>((resolve) => (this.#done = resolve));
    this.#reload();
    this.#tick();
    const timer = setInterval(() => this.#tick(), this.o.pollMs);
    try {
      await finished;
    } finally {
      clearInterval(timer);
      for (const s of this.#sockets.values()) s.close();
      this.#sockets.clear();
      for (const l of this.#listeners.values()) l.close();
      this.#listeners.clear();
    }
  }

  /** The reload check and the look for a running container. */
  #tick(): void {
    this.#reloadIfChanged();
    // A record written in the last seconds is a container about to start (or just made).
    if (
      Date.now() - this.#startedAt < this.#grace || this.#recentChange() || this.#anyRunning()
    ) {
      this.#idle = 0;
      return;
    }
    if (++this.#idle >= this.o.idleChecks) this.#done?.();
  }

  /** Reads the records again when their directory changed (or changed within the last second). */
  #reloadIfChanged(): void {
    let stamp = "";
    try {
      const st = Deno.statSync(recordsDir(this.o.dir));
      const m = st.mtime?.getTime() ?? 0;
      // A change within the clock's last tick may not show in the stamp: recent ones always reload.
      stamp = Date.now() - m < 1000 ? `recent-${Math.random()}` : `${st.ino}-${m}`;
    } catch { /* no records */ }
    if (stamp !== this.#stamp) this.#reload();
  }

  #reload(): void {
    let stamp = "";
    try {
      const st = Deno.statSync(recordsDir(this.o.dir));
      stamp = `${st.ino}-${st.mtime?.getTime() ?? 0}`;
    } catch { /* none */ }
    this.#stamp = stamp;
    this.#records = listDnsRecords(this.o.dir);
    this.#askers.clear();
    this.#names.clear();
    for (const r of this.#records) {
      this.#askers.set(`${r.gateway} ${r.ip}`, r);
      for (const name of r.names) {
        const k = nameKey(r.bridge, r.root, r.ns, name.toLowerCase());
        const list = this.#names.get(k);
        if (list === undefined) this.#names.set(k, [r.ip]);
        else if (!list.includes(r.ip)) list.push(r.ip);
      }
    }
    const wanted = new Set(this.#records.map((r) => r.gateway));
    for (const [gw, s] of this.#sockets) {
      if (!wanted.has(gw)) {
        s.close();
        this.#sockets.delete(gw);
        this.#listeners.get(gw)?.close();
        this.#listeners.delete(gw);
      }
    }
    for (const gw of wanted) {
      if (this.#sockets.has(gw)) continue;
      let s: UdpSocket;
      try {
        s = UdpSocket.bind(gw, 53);
      } catch (err) {
        // The bridge does not have its address yet (or no more): the next reload tries again.
        if (isAddressNotAvailable(err)) continue;
        console.error(`berth resolver: ${err instanceof Error ? err.message : err}`);
        continue;
      }
      this.#sockets.set(gw, s);
      this.#serve(gw, s);
      // TCP too (a client retries there after a truncated answer); without it, UDP still serves.
      try {
        const l = Deno.listen({ hostname: gw, port: 53, transport: "tcp" });
        this.#listeners.set(gw, l);
        this.#serveTcp(gw, l);
      } catch (err) {
        console.error(`berth resolver: tcp ${gw}:53: ${err instanceof Error ? err.message : err}`);
      }
    }
    this.#scheduleTrim();
  }

  #recentChange(): boolean {
    try {
      return Date.now() - (Deno.statSync(recordsDir(this.o.dir)).mtime?.getTime() ?? 0) <
        this.#grace;
    } catch {
      return false;
    }
  }

  /** True when some process is in the network namespace of a record. */
  #anyRunning(): boolean {
    const inodes = new Set<number>();
    for (const r of this.#records) {
      try {
        inodes.add(Deno.statSync(r.netns).ino ?? -1);
      } catch { /* torn down */ }
    }
    if (inodes.size === 0) return false;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync("/proc")];
    } catch {
      return true;
    }
    for (const e of entries) {
      if (!/^[0-9]+$/.test(e.name)) continue;
      try {
        const link = Deno.readLinkSync(`/proc/${e.name}/ns/net`);
        const ino = Number(/\[(\d+)\]/.exec(link)?.[1] ?? -1);
        if (inodes.has(ino)) return true;
      } catch { /* exited, or a kernel thread */ }
    }
    return false;
  }

  async #serve(gateway: string, s: UdpSocket): Promise<void> {
    for (;;) {
      let d;
      try {
        d = await s.receive();
      } catch (err) {
        console.error(`berth resolver: ${gateway}: ${err instanceof Error ? err.message : err}`);
        d = undefined;
      }
      if (d === null) return; // closed
      if (d === undefined) continue;
      const { data, from } = d;
      this.#scheduleTrim();
      this.#answer(gateway, data, addressOf(from).ip).then(
        (reply) => {
          if (reply !== null) s.send(reply, from);
        },
        (err) => console.error(`berth resolver: ${err instanceof Error ? err.message : err}`),
      );
    }
  }

  async #serveTcp(gateway: string, l: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of l) {
        if (this.#tcpConns >= MAX_TCP_CONNS) {
          conn.close();
          continue;
        }
        this.#tcpConns++;
        this.#tcpConn(gateway, conn).catch(() => {}).finally(() => {
          this.#tcpConns--;
          try {
            conn.close();
          } catch { /* closed */ }
        });
      }
    } catch { /* closed */ }
  }

  /** One TCP client: length-prefixed queries until it closes or idles. */
  async #tcpConn(gateway: string, conn: Deno.TcpConn): Promise<void> {
    const asker = (conn.remoteAddr as Deno.NetAddr).hostname;
    for (;;) {
      const msg = await readFrame(conn, TCP_IDLE_MS);
      if (msg === null) return;
      const reply = await this.#answer(gateway, msg, asker, "tcp");
      if (reply === null) return;
      await writeFrame(conn, reply);
    }
  }

  /** The reply to `data` from `asker` on `gateway` (null: none at all). */
  async #answer(
    gateway: string,
    data: Uint8Array,
    asker: string,
    transport: "udp" | "tcp" = "udp",
  ): Promise<Uint8Array | null> {
    const q = parseQuery(data);
    if (q === null) return data.length >= 2 ? buildError(data, null, RCODE.FORMERR) : null;
    // One stat per query: a record removed (delete, disconnect, rename) is
    // never answered from the old set, not even within the second's check.
    this.#reloadIfChanged();
    const who = this.#askers.get(`${gateway} ${asker}`);
    if (who === undefined) return buildError(data, q, RCODE.REFUSED);
    const local = this.#lookup(who, q);
    if (local !== null) {
      return buildAnswer(data, q, q.type === TYPE_A || q.type === TYPE_ANY ? local : [], TTL);
    }
    return await this.#forward(data, q, transport);
  }

  #lookup(who: DnsRecord, q: Query): string[] | null {
    if (q.class !== 1 || q.name === "") return null;
    return this.#names.get(nameKey(who.bridge, who.root, who.ns, q.name)) ?? null;
  }

  /** Sends the query on to the host's resolvers, one after the other, and relays the first answer. */
  async #forward(data: Uint8Array, q: Query, transport: "udp" | "tcp"): Promise<Uint8Array> {
    for (const server of this.#upstreamServers()) {
      const reply = transport === "udp"
        ? await ask(server, data, q)
        : await askTcp(server, data, q);
      if (reply !== null) return withId(reply, q.id);
    }
    return buildError(data, q, RCODE.SERVFAIL);
  }

  /**
   * The host's nameservers (IPv4; loopback stubs too, the resolver being
   * on the host), less berth's own gateways; where the host names none, a
   * stub's upstream list, as for a container on `bridge`.
   */
  #upstreamServers(): string[] {
    const text = readOrNull(this.o.hostResolvConf) ?? "";
    if (text === this.#upstreamStamp && this.#upstreams.length > 0) return this.#upstreams;
    const ours = new Set(this.#records.map((r) => r.gateway));
    let servers = parseResolvConf(text).nameservers.filter((n) =>
      /^[0-9.]+$/.test(n) && !ours.has(n)
    );
    if (servers.length === 0) {
      servers = containerResolv(text, readOrNull).nameservers.filter((n) => !ours.has(n));
    }
    this.#upstreamStamp = text;
    this.#upstreams = servers.slice(0, 3);
    return this.#upstreams;
  }

  /**
   * Drops the pages of the Deno binary touched since the last trim (start-up,
   * a reload, a burst of queries) once the resolver has been quiet for
   * {@linkcode TRIM_DELAY_MS}, at most every {@linkcode TRIM_EVERY_MS} (see
   * memory_trim.ts; the monitor does the same). The next query faults back
   * the few it needs from the page cache.
   */
  #scheduleTrim(): void {
    this.#lastActive = Date.now();
    if (this.#trimTimer !== undefined) return;
    const wait = Math.max(TRIM_DELAY_MS, this.#lastTrim + TRIM_EVERY_MS - Date.now());
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = undefined;
      if (Date.now() - this.#lastActive < TRIM_DELAY_MS) return this.#scheduleTrimAgain();
      (globalThis as { gc?: () => void }).gc?.();
      trimFilePages(this.o.libc);
      this.#lastTrim = Date.now();
    }, wait);
  }

  #scheduleTrimAgain(): void {
    const last = this.#lastActive;
    this.#scheduleTrim();
    this.#lastActive = last;
  }
}

/** One upstream exchange: the query under a fresh ID; the checked reply, or null. */
async function ask(server: string, data: Uint8Array, q: Query): Promise<Uint8Array | null> {
  let s: UdpSocket;
  try {
    s = UdpSocket.connect(server, 53);
  } catch {
    return null;
  }
  const sent = withId(data, crypto.getRandomValues(new Uint16Array(1))[0]!);
  const timer = setTimeout(() => s.close(), UPSTREAM_TIMEOUT_MS);
  try {
    if (!s.send(sent)) return null;
    for (;;) {
      const d = await s.receive().catch(() => null);
      if (d === null) return null;
      if (isReplyTo(d.data, sent, q)) return d.data;
    }
  } finally {
    clearTimeout(timer);
    s.close();
  }
}

/** One upstream exchange over TCP (after a truncated answer): the checked reply, or null. */
async function askTcp(server: string, data: Uint8Array, q: Query): Promise<Uint8Array | null> {
  let conn: Deno.TcpConn;
  const connecting = Deno.connect({ hostname: server, port: 53 });
  try {
    conn = await withTimeout(connecting, UPSTREAM_TIMEOUT_MS);
  } catch {
    connecting.then((c) => c.close(), () => {}); // one that connects after all
    return null;
  }
  try {
    const sent = withId(data, crypto.getRandomValues(new Uint16Array(1))[0]!);
    await writeFrame(conn, sent);
    const reply = await readFrame(conn, UPSTREAM_TIMEOUT_MS);
    return reply !== null && isReplyTo(reply, sent, q) ? reply : null;
  } catch {
    return null;
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Reads one length-prefixed DNS message; null at end, on a bad length or after `timeoutMs`. */
async function readFrame(conn: Deno.Conn, timeoutMs: number): Promise<Uint8Array | null> {
  try {
    const head = await withTimeout(readExact(conn, 2), timeoutMs);
    if (head === null) return null;
    const len = (head[0]! << 8) | head[1]!;
    if (len < 12) return null;
    return await withTimeout(readExact(conn, len), timeoutMs);
  } catch {
    return null;
  }
}

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(out.subarray(at));
    if (got === null) return null;
    at += got;
  }
  return out;
}

async function writeFrame(conn: Deno.Conn, msg: Uint8Array): Promise<void> {
  const out = new Uint8Array(msg.length + 2);
  out[0] = (msg.length >> 8) & 0xff;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  let at = 0;
  while (at < out.length) at += await conn.write(out.subarray(at));
}

/** `p`, or a rejection after `ms`; a later rejection of `p` is never left unhandled. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  p.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
