/**
 * HTTPS without certificate checks, for `--tls-verify=false` (a registry
 * with a self-signed or otherwise untrusted certificate). Deno's `fetch`
 * has no per-request switch for that (only a process-wide flag), so this
 * transport speaks through `node:https` with `rejectUnauthorized: false`,
 * loaded on first use (its ~5 ms are paid only by such pulls). It follows
 * redirects as `fetch` does (a blob is often served from elsewhere),
 * to http(s) URLs only (a `file:` or other target is refused, never
 * opened), dropping the `Authorization` header when a redirect leaves the
 * origin; a redirect to plain HTTP goes through `fetch`. A request with
 * `redirect: "manual"` gets the redirect itself (the registry client
 * follows redirects on its own). Only http(s) URLs are requested at all.
 *
 * @module
 */

import type { Transport } from "./_registry.ts";

type Https = typeof import("node:https");
type Stream = typeof import("node:stream");

let modules: Promise<{ https: Https; stream: Stream }> | null = null;

/** node:https and node:stream, by computed specifiers (never on anyone's start-up path). */
function load(): Promise<{ https: Https; stream: Stream }> {
  const n = (name: string) => import(["node", name].join(":"));
  return modules ??= Promise.all([n("https"), n("stream")]).then(([https, stream]) => ({
    https: https.default ?? https,
    stream: stream.default ?? stream,
  }));
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Redirects followed at most, as `fetch` does. */
const MAX_REDIRECTS = 20;

/** A request's body as node:http sends it. */
type Body = { whole: Uint8Array } | {
  head: Uint8Array[];
  rest: ReadableStreamDefaultReader<Uint8Array>;
};

/**
 * `req`'s body: whole when it comes in one chunk (bytes given to the
 * Request: sent with their Content-Length, as `fetch` does), else the
 * first chunks read and a reader of the rest (sent chunked).
 */
async function bodyOf(req: Request): Promise<Body | null> {
  if (req.body === null) return null;
  const rest = req.body.getReader();
  const first = await rest.read();
  if (first.done) return { whole: new Uint8Array(0) };
  const second = await rest.read();
  if (second.done) return { whole: first.value };
  return { head: [first.value, second.value], rest };
}

/** One request over HTTPS, the peer's certificate not checked. */
async function once(req: Request, url: URL): Promise<Response> {
  const { https, stream } = await load();
  const headers: Record<string, string> = {};
  req.headers.forEach((v, k) => void (headers[k] = v));
  const body = await bodyOf(req);
  if (body !== null && "whole" in body) headers["content-length"] = String(body.whole.length);
  return await new Promise<Response>((resolve, reject) => {
    const r = https.request(
      {
        protocol: "https:",
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port === "" ? 443 : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers,
        rejectUnauthorized: false,
        signal: req.signal,
      },
      (res) => {
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v === undefined) continue;
          for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
        }
        const status = res.statusCode ?? 502;
        const empty = req.method === "HEAD" || status === 204 || status === 304;
        if (empty) res.resume();
        const body = empty ? null : stream.Readable.toWeb(res) as ReadableStream<Uint8Array>;
        resolve(new Response(body, { status, headers: out }));
      },
    );
    r.on("error", reject);
    if (body === null || "whole" in body) {
      r.end(body?.whole);
      return;
    }
    // A stream (a pushed blob read from its file), with back-pressure; a
    // request that fails or closes early stops the reading (and the file's).
    void (async () => {
      const write = async (chunk: Uint8Array) => {
        if (!r.write(chunk)) {
          await new Promise((ok) => {
            r.once("drain", ok);
            r.once("close", ok);
          });
        }
      };
      for (const chunk of body.head) await write(chunk);
      for (let c = await body.rest.read(); !c.done; c = await body.rest.read()) {
        if (r.destroyed) return void (await body.rest.cancel());
        await write(c.value);
      }
      r.end();
    })().catch((err) => r.destroy(err as Error));
  });
}

/** Fails unless `url` is http(s): nothing else (a `file:` URL) is ever opened. */
function httpOnly(url: URL): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`a ${url.protocol.slice(0, 20)} URL was refused (only http and https)`);
  }
}

/** The transport: HTTPS requests unchecked, redirects followed (unless `redirect: "manual"`). */
export const insecureTransport: Transport = async (req) => {
  let url = new URL(req.url);
  httpOnly(url);
  let current = req;
  for (let hop = 0;; hop++) {
    const res = url.protocol === "https:"
      ? await once(current, url)
      : await fetch(current, { redirect: "manual" });
    const location = res.headers.get("location");
    if (!REDIRECTS.has(res.status) || location === null || req.method !== "GET") return res;
    if (req.redirect === "manual") return res;
    await res.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new TypeError(`${req.url}: too many redirects`);
    const next = new URL(location, url);
    httpOnly(next);
    const headers = new Headers(current.headers);
    if (next.origin !== url.origin) headers.delete("authorization");
    url = next;
    current = new Request(next, { headers, signal: req.signal });
  }
};
