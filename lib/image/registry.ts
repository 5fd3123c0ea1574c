/**
 * A client of the OCI distribution API on Deno's `fetch`: `GET /v2/`,
 * the Bearer token flow on 401 (`WWW-Authenticate: Bearer realm,service,
 * scope`) and Basic authentication, manifests by tag or digest, blobs (with
 * redirects followed). Plain HTTP only for loopback registries, and for
 * others with `--tls-verify=false` when they do not speak TLS. Bounded
 * timeouts and retries with back-off. The transports (`fetch`, and HTTPS
 * without certificate checks) are interfaces, so tests can inject faults.
 *
 * @module
 */

import { after } from "../host/clock.ts";
import { RuntimeError } from "../host/errors.ts";
import type { Credentials } from "./auth.ts";
import { MANIFEST_ACCEPT } from "./manifest.ts";
import { type ImageRef, isLoopbackRegistry } from "./reference.ts";
import { insecureTransport } from "./insecure_transport.ts";

/** The HTTP transport (Deno's `fetch` by default). */
export type Transport = (req: Request) => Promise<Response>;

/** Options of a {@linkcode RegistryClient}. */
export interface RegistryOptions {
  /** Verified HTTPS, and plain HTTP (Deno's `fetch`). */
  transport?: Transport;
  /** HTTPS without certificate checks (`insecure_transport.ts`). */
  insecureTransport?: Transport;
  credentials?: Credentials | null;
  /**
   * `--tls-verify=false`: a registry not on loopback is reached over HTTPS
   * without checking its certificate, or over plain HTTP when it does not
   * speak TLS at all (as podman does). Loopback registries are plain HTTP
   * either way.
   */
  insecure?: boolean;
  /** Per-request timeout for headers and small bodies (ms). Default 30 000. */
  timeoutMs?: number;
  /** Tries for a request that failed on the network or with a 5xx. Default 3. */
  tries?: number;
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
  readonly #tries: number;
  #authorization: string | null = null;

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
    this.#tries = options.tries ?? 3;
  }

  /** Where requests go, e.g. `http://127.0.0.1:5000` (after a fallback, the plain HTTP one). */
  get base(): string {
    return this.#base;
  }

  async #send(url: string, accept: string | null, signal?: AbortSignal): Promise<Response> {
    let lastErr: unknown = null;
    let overHttps: string | null = null;
    for (let attempt = 0; attempt < this.#tries; attempt++) {
      if (attempt > 0) await sleep(200 * 2 ** (attempt - 1));
      const headers = new Headers();
      if (accept !== null) headers.set("Accept", accept);
      if (this.#authorization !== null) headers.set("Authorization", this.#authorization);
      const ctl = new AbortController();
      const cancelTimer = after(this.#timeoutMs, () => ctl.abort());
      const onAbort = () => ctl.abort();
      signal?.addEventListener("abort", onAbort);
      let linked = false;
      try {
        const res = await this.#transport(new Request(url, { headers, signal: ctl.signal }));
        this.#fallback = null; // it answers over this scheme: no later failure changes it
        if (res.status >= 500 && attempt + 1 < this.#tries) {
          await res.body?.cancel();
          lastErr = new RuntimeError(`${url}: HTTP ${res.status}`);
          continue;
        }
        if (res.status === 401 && this.#authorization === null) {
          const challenge = res.headers.get("www-authenticate");
          await res.body?.cancel();
          if (challenge === null) throw new RuntimeError(`${this.#ref.registry}: unauthorized`);
          this.#authorization = await this.#authorize(challenge);
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

  async #authorize(header: string): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    const creds = this.#creds;
    if (scheme === "basic") {
      if (creds === null) {
        throw new RuntimeError(`${this.#ref.registry}: authentication required (berth login)`);
      }
      return `Basic ${btoa(`${creds.username}:${creds.password}`)}`;
    }
    if (scheme !== "bearer" || params.realm === undefined) {
      throw new RuntimeError(`${this.#ref.registry}: unsupported authentication "${header}"`);
    }
    const url = new URL(params.realm);
    if (params.service !== undefined) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", params.scope ?? `repository:${this.#ref.repository}:pull`);
    const headers = new Headers();
    if (creds !== null) {
      headers.set("Authorization", `Basic ${btoa(`${creds.username}:${creds.password}`)}`);
    }
    let res: Response;
    try {
      res = await this.#transport(
        new Request(url, { headers, signal: AbortSignal.timeout(this.#timeoutMs) }),
      );
    } catch (err) {
      throw new RuntimeError(`cannot reach the token server ${url.origin}: ${requestError(err)}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError(
        `${this.#ref.registry}: authentication failed (token server: HTTP ${res.status})`,
      );
    }
    const body = await res.json().catch(() => ({})) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RuntimeError(`${this.#ref.registry}: the token server sent no token`);
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

  /** A manifest or index by tag or digest: its bytes and content type. */
  async manifest(reference: string): Promise<{ bytes: Uint8Array; contentType: string | null }> {
    const url = `${this.#base}/v2/${this.#ref.repository}/manifests/${reference}`;
    const res = await this.#send(url, MANIFEST_ACCEPT);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new RuntimeError(
        `${this.#ref.registry}/${this.#ref.repository}:${reference}: manifest unknown`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new RuntimeError(`${this.#ref.registry}/${this.#ref.repository}: access denied`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError(`${url}: HTTP ${res.status}`);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > 4 << 20) throw new RuntimeError(`${url}: manifest larger than 4 MiB`);
    return { bytes, contentType: res.headers.get("content-type") };
  }

  /**
   * A blob's body as a stream (the caller verifies it). A body that stalls
   * for the timeout (no bytes at all) fails the stream.
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
    const ms = this.#timeoutMs;
    // One timer per period, not one per chunk: when it fires early it is
    // set again for what is left since the last bytes came.
    let last = performance.now();
    let cancelTimer: () => void = () => {};
    let stalled = false;
    let finished = false;
    const arm = (wait: number) => {
      cancelTimer = after(wait, () => {
        if (finished) return;
        const idle = performance.now() - last;
        if (idle < ms) return arm(ms - idle);
        stalled = true;
        stall.abort();
      });
    };
    const stop = () => {
      finished = true;
      cancelTimer();
    };
    const reader = res.body.getReader();
    arm(ms);
    return new ReadableStream<Uint8Array>({
      async pull(ctl) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            stop();
            ctl.close();
          } else {
            last = performance.now();
            ctl.enqueue(value);
          }
        } catch (err) {
          stop();
          throw stalled
            ? new RuntimeError(`blob ${digest}: no data for ${ms} ms`)
            : err instanceof RuntimeError
            ? err
            : new RuntimeError(`blob ${digest}: ${(err as Error).message}`);
        }
      },
      cancel(reason) {
        stop();
        return reader.cancel(reason);
      },
    });
  }
}
