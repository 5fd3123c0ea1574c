/**
 * A client of the OCI distribution API on Deno's `fetch`: `GET /v2/`,
 * the Bearer token flow on 401 (`WWW-Authenticate: Bearer realm,service,
 * scope`) and Basic authentication, manifests by tag or digest, blobs (with
 * redirects followed). Plain HTTP only for loopback registries, and for
 * others with `--tls-verify=false` when they do not speak TLS. Bounded
 * timeouts and retries with back-off. The transports (`fetch`, and HTTPS
 * without certificate checks) are interfaces, so tests can inject faults.
 *
 * What a registry sends is not trusted: redirects are followed here (on
 * every transport) to http(s) URLs only, and a token realm must be http(s)
 * (a `file:` realm or redirect is refused, never read); saved credentials
 * go only to an https token server or the registry's own origin; the
 * `Authorization` header is dropped when a redirect leaves the origin.
 * Bodies are read under hard caps (manifest 4 MiB, token answer 64 KiB,
 * small blobs their caller's cap) and a deadline; blobs stream under a
 * stall limit and a minimum throughput (`_body_limits.ts`).
 *
 * @module
 */

import { after } from "../host/clock.ts";
import { RuntimeError } from "../host/errors.ts";
import type { Credentials } from "./_auth.ts";
import { formatSize, limitedBody, type MinRate, readLimited } from "./_body_limits.ts";
import { MANIFEST_ACCEPT } from "./_manifest.ts";
import { type ImageRef, isLoopbackRegistry } from "./_reference.ts";
import { insecureTransport } from "./_insecure_transport.ts";

/** The HTTP transport (Deno's `fetch` by default). */
export type Transport = (req: Request) => Promise<Response>;

/** Options of a {@linkcode RegistryClient}. */
export interface RegistryOptions {
  /** Verified HTTPS, and plain HTTP (Deno's `fetch`). */
  transport?: Transport;
  /** HTTPS without certificate checks (`_insecure_transport.ts`). */
  insecureTransport?: Transport;
  credentials?: Credentials | null;
  /**
   * `--tls-verify=false`: a registry not on loopback is reached over HTTPS
   * without checking its certificate, or over plain HTTP when it does not
   * speak TLS at all (as podman does). Loopback registries are plain HTTP
   * either way.
   */
  insecure?: boolean;
  /**
   * Per-request timeout (ms) for the headers; then the deadline of a small
   * body (manifest, token, config), and how long a blob's body may give no
   * bytes at all. Default 30 000.
   */
  timeoutMs?: number;
  /** The least a blob's body must deliver. Default 64 KiB per 60 s of waiting. */
  minRate?: MinRate;
  /** Tries for a request that failed on the network or with a 5xx. Default 3. */
  tries?: number;
  /**
   * The scopes a token is asked for (`repository:NAME:pull,push`, …),
   * instead of the challenge's: a push needs push access from its first
   * request on, which a challenge to a HEAD does not ask for. The first is
   * needed; the others (pull on mount sources) are asked for again without
   * it when the token server refuses them all together.
   */
  scopes?: string[];
}

/** A request other than a GET of a manifest or blob (`push`). */
export interface RequestInit2 {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  headers?: Record<string, string>;
  /** Held whole, so a retry sends it again. */
  body?: Uint8Array;
  /**
   * A body read as it is sent instead (a blob streamed from its file, with
   * no Content-Length: chunked transfer encoding), made anew for each try.
   * Each read calls `progress`: the request's timeout then counts from the
   * last read, so a long upload is timed out only when it stalls.
   */
  stream?: (progress: () => void) => ReadableStream<Uint8Array>;
  /**
   * False: one try only (a PATCHed chunk: a registry that ignores its
   * Content-Range would append a resent chunk twice; the caller asks the
   * upload's status instead).
   */
  retry?: boolean;
}

/** A manifest or index larger than this is refused (as containerd does). */
export const MANIFEST_MAX_BYTES = 4 << 20;
/** A token server's answer larger than this is refused. */
export const TOKEN_MAX_BYTES = 64 << 10;
/** The default least throughput of a blob. */
export const DEFAULT_MIN_RATE: MinRate = { bytes: 64 << 10, windowMs: 60_000 };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Redirects followed at most, as `fetch` does. */
const MAX_REDIRECTS = 20;

/**
 * Registry-supplied text made fit for a one-line message: control
 * characters (and line separators) become `?`, and it is cut at `max`.
 */
export function oneLine(text: string, max = 100): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, "?");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

// Timers are `after` (host/clock.ts): the global setTimeout is Node's and
// its first use costs 8-10 ms, on the path of the first request.
const sleep = (ms: number) => new Promise<void>((r) => void after(ms, r));

/**
 * What went wrong in a request, in one line: Deno's `fetch` says only
 * "fetch failed" and keeps the reason (refused, reset, an untrusted
 * certificate) in `cause`.
 */
export function requestError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : null;
  if (cause === null) return msg;
  return `${msg}: ${cause.replace(/^error sending request for url \([^)]*\): /, "")}`;
}

/** Parses `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const sp = header.indexOf(" ");
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)=(?:"([^"]*)"|([^,\s]*))/g;
  for (const m of header.slice(sp + 1).matchAll(re)) {
    params[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? "";
  }
  return { scheme, params };
}

/** One registry and repository. */
export class RegistryClient {
  readonly #ref: ImageRef;
  #base: string;
  #transport: Transport;
  /** Plain HTTP, tried if HTTPS fails before it ever answered (`--tls-verify=false`). */
  #fallback: { base: string; transport: Transport } | null = null;
  readonly #creds: Credentials | null;
  readonly #timeoutMs: number;
  readonly #minRate: MinRate;
  readonly #tries: number;
  readonly #scopes: string[] | null;
  #authorization: string | null = null;
  /** The authorization being obtained, shared by requests refused together. */
  #authorizing: Promise<string> | null = null;

  constructor(ref: ImageRef, options: RegistryOptions = {}) {
    this.#ref = ref;
    const host = ref.registry === "docker.io" ? "registry-1.docker.io" : ref.registry;
    const verified = options.transport ?? ((r) => fetch(r));
    if (isLoopbackRegistry(ref.registry)) {
      this.#base = `http://${host}`;
      this.#transport = verified;
    } else if (options.insecure === true) {
      this.#base = `https://${host}`;
      this.#transport = options.insecureTransport ?? insecureTransport;
      this.#fallback = { base: `http://${host}`, transport: verified };
    } else {
      this.#base = `https://${host}`;
      this.#transport = verified;
    }
    this.#creds = options.credentials ?? null;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#minRate = options.minRate ?? DEFAULT_MIN_RATE;
    this.#tries = options.tries ?? 3;
    this.#scopes = options.scopes ?? null;
  }

  /** The repository this client is for. */
  get repository(): string {
    return this.#ref.repository;
  }

  /** The request timeout (ms). */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /**
   * One request (with auth, retries on the network or a 5xx, and the
   * `--tls-verify=false` fallback) to `url`, absolute or under `/v2/`
   * (`/v2/NAME/blobs/…`). An absolute URL must be http(s); the
   * `Authorization` header goes only to the registry's own origin. Only a
   * GET or HEAD follows redirects. The caller reads or cancels the body.
   */
  async request(url: string, init: RequestInit2, signal?: AbortSignal): Promise<Response> {
    let abs: URL;
    try {
      abs = new URL(url, this.#base);
    } catch {
      throw new RuntimeError(`${this.#ref.registry}: an invalid URL "${oneLine(url)}"`);
    }
    if (abs.protocol !== "http:" && abs.protocol !== "https:") {
      throw new RuntimeError(
        `${this.#ref.registry}: a ${
          oneLine(abs.protocol, 20)
        } URL was refused (only http and https)`,
      );
    }
    return await this.#send(abs.href, null, signal, init);
  }

  /** Where requests go, e.g. `http://127.0.0.1:5000` (after a fallback, the plain HTTP one). */
  get base(): string {
    return this.#base;
  }

  /** `REGISTRY/REPOSITORY:TAG` or `…@DIGEST`, for messages. */
  #name(reference: string): string {
    const sep = reference.startsWith("sha256:") ? "@" : ":";
    return `${this.#ref.registry}/${this.#ref.repository}${sep}${reference}`;
  }

  /**
   * One GET over `transport`, redirects followed here (not by the
   * transport): to http(s) URLs only, at most 20, the `Authorization`
   * header dropped when one leaves the origin.
   */
  async #get(
    transport: Transport,
    url: URL,
    headers: Headers,
    signal: AbortSignal,
    init?: RequestInit2,
    body?: BodyInit,
  ): Promise<Response> {
    const method = init?.method ?? "GET";
    for (let hop = 0;; hop++) {
      const res = await transport(
        new Request(url, {
          method,
          headers,
          signal,
          redirect: "manual",
          ...(body !== undefined ? { body } : {}),
        }),
      );
      const follows = method === "GET" || method === "HEAD";
      const location = follows && REDIRECTS.has(res.status) ? res.headers.get("location") : null;
      if (location === null) return res;
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new RuntimeError(`${url.origin}: too many redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new RuntimeError(`${url.origin}: a redirect to an invalid URL`);
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new RuntimeError(
          `${url.origin}: a redirect to a ${
            oneLine(next.protocol, 20)
          } URL was refused (only http and https are followed)`,
        );
      }
      if (next.origin !== url.origin && headers.has("authorization")) {
        headers = new Headers(headers);
        headers.delete("authorization");
      }
      url = next;
    }
  }

  async #send(
    url: string,
    accept: string | null,
    signal?: AbortSignal,
    init?: RequestInit2,
  ): Promise<Response> {
    let lastErr: unknown = null;
    let overHttps: string | null = null;
    const tries = init?.retry === false ? 1 : this.#tries;
    for (let attempt = 0; attempt < tries; attempt++) {
      if (attempt > 0) await sleep(200 * 2 ** (attempt - 1));
      const headers = new Headers(init?.headers);
      if (accept !== null) headers.set("Accept", accept);
      const own = new URL(url).origin === new URL(this.#base).origin;
      const sentWith = own ? this.#authorization : null;
      if (sentWith !== null) headers.set("Authorization", sentWith);
      const ctl = new AbortController();
      // The timeout counts from the request's start, or from a streamed
      // body's last read.
      let last = performance.now();
      let cancelTimer = () => {};
      const arm = (ms: number) =>
        cancelTimer = after(ms, () => {
          const idle = performance.now() - last;
          if (idle >= this.#timeoutMs) ctl.abort();
          else arm(this.#timeoutMs - idle);
        });
      arm(this.#timeoutMs);
      const body: BodyInit | undefined = init?.stream !== undefined
        ? init.stream(() => void (last = performance.now()))
        : init?.body as Uint8Array<ArrayBuffer> | undefined;
      const onAbort = () => ctl.abort();
      signal?.addEventListener("abort", onAbort);
      let linked = false;
      try {
        const res = await this.#get(this.#transport, new URL(url), headers, ctl.signal, init, body);
        this.#fallback = null; // it answers over this scheme: no later failure changes it
        if (res.status >= 500 && attempt + 1 < tries) {
          await res.body?.cancel();
          lastErr = new RuntimeError(`${url}: HTTP ${res.status}`);
          continue;
        }
        if (res.status === 401 && sentWith === null && own) {
          // Sent without credentials: authorize (once for requests in
          // flight together; one may have done it meanwhile) and send again.
          const challenge = res.headers.get("www-authenticate");
          await res.body?.cancel();
          if (challenge === null) throw new RuntimeError(`${this.#ref.registry}: unauthorized`);
          this.#authorization ??= await (this.#authorizing ??= this.#authorize(challenge).finally(
            () => (this.#authorizing = null),
          ));
          attempt--; // the authenticated try is not a retry
          continue;
        }
        // The caller's signal still aborts the body being read.
        linked = true;
        return res;
      } catch (err) {
        if (err instanceof RuntimeError) throw err;
        lastErr = err;
        if (signal?.aborted) break;
        const fallback = this.#fallback;
        if (fallback !== null) {
          // --tls-verify=false and HTTPS failed: the registry may speak plain HTTP.
          this.#fallback = null;
          overHttps = requestError(err);
          url = fallback.base + url.slice(this.#base.length);
          this.#base = fallback.base;
          this.#transport = fallback.transport;
          attempt--;
        }
      } finally {
        cancelTimer();
        if (!linked) signal?.removeEventListener("abort", onAbort);
      }
    }
    const why = requestError(lastErr);
    if (overHttps !== null) {
      throw new RuntimeError(
        `cannot reach registry ${this.#ref.registry}: over HTTPS: ${overHttps}; over HTTP: ${why}`,
      );
    }
    const hint = /certificate|UnknownIssuer|self.signed/i.test(why)
      ? " (its certificate is not trusted: --tls-verify=false skips the check)"
      : "";
    throw new RuntimeError(`cannot reach registry ${this.#ref.registry}: ${why}${hint}`);
  }

  async #authorize(header: string, scopes = this.#scopes): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    const creds = this.#creds;
    const registry = this.#ref.registry;
    if (scheme === "basic") {
      if (creds === null) {
        throw new RuntimeError(`${registry}: authentication required (berth login)`);
      }
      return `Basic ${btoa(`${creds.username}:${creds.password}`)}`;
    }
    if (scheme !== "bearer" || params.realm === undefined) {
      throw new RuntimeError(`${registry}: unsupported authentication "${oneLine(header)}"`);
    }
    let url: URL;
    try {
      url = new URL(params.realm);
    } catch {
      throw new RuntimeError(
        `${registry}: the token realm "${oneLine(params.realm)}" is not a URL`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new RuntimeError(
        `${registry}: a token realm of scheme ${
          oneLine(url.protocol, 20)
        } was refused (only http and https)`,
      );
    }
    if (params.service !== undefined) url.searchParams.set("service", params.service);
    if (scopes !== null) {
      for (const scope of scopes) url.searchParams.append("scope", scope);
    } else {
      url.searchParams.set("scope", params.scope ?? `repository:${this.#ref.repository}:pull`);
    }
    const headers = new Headers();
    // Saved credentials go to an https token server, or to the registry's
    // own origin; never in clear to another host or port.
    const withCreds = creds !== null &&
      (url.protocol === "https:" || url.origin === new URL(this.#base).origin);
    if (withCreds) {
      headers.set("Authorization", `Basic ${btoa(`${creds.username}:${creds.password}`)}`);
    }
    const server = `the token server ${url.origin}`;
    const ctl = new AbortController();
    const cancelTimer = after(this.#timeoutMs, () => ctl.abort());
    let res: Response;
    try {
      res = await this.#get(this.#transport, url, headers, ctl.signal);
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError(`cannot reach ${server}: ${requestError(err)}`);
    } finally {
      cancelTimer();
    }
    if (!res.ok) {
      await res.body?.cancel();
      if ((res.status === 401 || res.status === 403) && scopes !== null && scopes.length > 1) {
        // A server that refuses the token for one scope it will not grant
        // (a mount source) rather than granting the rest: the first alone.
        return await this.#authorize(header, scopes.slice(0, 1));
      }
      const unsent = creds !== null && !withCreds
        ? `; the saved credentials were not sent: ${url.origin} is neither https nor the registry`
        : "";
      throw new RuntimeError(
        `${registry}: authentication failed (token server: HTTP ${res.status}${unsent})`,
      );
    }
    const bytes = await readLimited(res.body, {
      what: server,
      maxBytes: TOKEN_MAX_BYTES,
      deadlineMs: this.#timeoutMs,
      abort: () => ctl.abort(),
    });
    let body: { token?: unknown; access_token?: unknown } = {};
    try {
      body = JSON.parse(new TextDecoder().decode(bytes)) ?? {};
    } catch { /* no token below */ }
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RuntimeError(`${registry}: the token server sent no token`);
    }
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new RuntimeError(`${registry}: the token server sent a malformed token`);
    }
    return `Bearer ${token}`;
  }

  /** Checks a registry answers (`GET /v2/`), authenticating as needed. */
  async ping(): Promise<void> {
    const res = await this.#send(`${this.#base}/v2/`, null);
    await res.body?.cancel();
    if (res.status === 401) throw new RuntimeError(`${this.#ref.registry}: unauthorized`);
    if (!res.ok) throw new RuntimeError(`${this.#ref.registry}: /v2/ answered HTTP ${res.status}`);
  }

  /**
   * A manifest or index by tag or digest: its bytes and content type. The
   * body is read under a 4 MiB cap and the request timeout.
   */
  async manifest(reference: string): Promise<{ bytes: Uint8Array; contentType: string | null }> {
    const url = `${this.#base}/v2/${this.#ref.repository}/manifests/${reference}`;
    const ctl = new AbortController();
    const res = await this.#send(url, MANIFEST_ACCEPT, ctl.signal);
    const what = `manifest of ${this.#name(reference)}`;
    if (res.status === 404) {
      await res.body?.cancel();
      throw new RuntimeError(`${this.#name(reference)}: manifest unknown`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new RuntimeError(`${this.#ref.registry}/${this.#ref.repository}: access denied`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError(`${url}: HTTP ${res.status}`);
    }
    const bytes = await this.#small(res, ctl, what, MANIFEST_MAX_BYTES);
    return { bytes, contentType: res.headers.get("content-type") };
  }

  /**
   * A small blob (a config) read whole: at most `maxBytes`, under the
   * request timeout. The caller verifies it.
   */
  async smallBlob(digest: string, maxBytes: number, what: string): Promise<Uint8Array> {
    const url = `${this.#base}/v2/${this.#ref.repository}/blobs/${digest}`;
    const ctl = new AbortController();
    const res = await this.#send(url, null, ctl.signal);
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError(`${what}: HTTP ${res.status}`);
    }
    return await this.#small(res, ctl, what, maxBytes);
  }

  /** Reads `res`'s body whole under `maxBytes` and the request timeout. */
  async #small(
    res: Response,
    ctl: AbortController,
    what: string,
    maxBytes: number,
  ): Promise<Uint8Array> {
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      ctl.abort();
      await res.body?.cancel().catch(() => {});
      throw new RuntimeError(`${what}: larger than ${formatSize(maxBytes)}`);
    }
    return await readLimited(res.body, {
      what,
      maxBytes,
      deadlineMs: this.#timeoutMs,
      abort: () => ctl.abort(),
    });
  }

  /**
   * A blob's body as a stream (the caller verifies it). A body that gives
   * no bytes for the timeout, or less than the minimum throughput, fails
   * the stream with a one-line error.
   */
  async blob(digest: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const url = `${this.#base}/v2/${this.#ref.repository}/blobs/${digest}`;
    const stall = new AbortController();
    const onAbort = () => stall.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const res = await this.#send(url, null, stall.signal);
    if (!res.ok || res.body === null) {
      await res.body?.cancel();
      throw new RuntimeError(`blob ${digest}: HTTP ${res.status}`);
    }
    return limitedBody(res.body, {
      what: `blob ${digest}`,
      stallMs: this.#timeoutMs,
      minRate: this.#minRate,
      abort: () => stall.abort(),
    });
  }
}
