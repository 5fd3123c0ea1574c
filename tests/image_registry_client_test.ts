// The registry client against an injected transport: the token flow,
// Basic auth, retries of 5xx and network failures, and clear errors.

import { parseChallenge, RegistryClient, type Transport } from "../lib/image/registry.ts";
import { parseReference } from "../lib/image/reference.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { assertEquals, assertRejects } from "./assert.ts";

const ref = parseReference("127.0.0.1:5000/app:1");

Deno.test("WWW-Authenticate challenges are parsed", () => {
  assertEquals(
    parseChallenge('Bearer realm="https://auth.io/token",service="reg",scope="repository:a:pull"'),
    {
      scheme: "bearer",
      params: { realm: "https://auth.io/token", service: "reg", scope: "repository:a:pull" },
    },
  );
  assertEquals(parseChallenge('Basic realm="x"').scheme, "basic");
});

Deno.test("a 401 gets a Bearer token (with the credentials) and the request is retried with it", async () => {
  const seen: string[] = [];
  const transport: Transport = (req) => {
    const url = new URL(req.url);
    seen.push(`${url.pathname}${url.search} ${req.headers.get("authorization") ?? "-"}`);
    if (url.pathname === "/token") return Promise.resolve(Response.json({ token: "T" }));
    if (req.headers.get("authorization") !== "Bearer T") {
      return Promise.resolve(
        new Response("", {
          status: 401,
          headers: { "www-authenticate": 'Bearer realm="http://127.0.0.1:5001/token",service="s"' },
        }),
      );
    }
    return Promise.resolve(
      new Response('{"schemaVersion":2}', { headers: { "content-type": "x/y" } }),
    );
  };
  const c = new RegistryClient(ref, { transport, credentials: { username: "u", password: "p" } });
  const m = await c.manifest("1");
  assertEquals(new TextDecoder().decode(m.bytes), '{"schemaVersion":2}');
  assertEquals(seen, [
    "/v2/app/manifests/1 -",
    `/token?service=s&scope=repository%3Aapp%3Apull Basic ${btoa("u:p")}`,
    "/v2/app/manifests/1 Bearer T",
  ]);
});

Deno.test("Basic challenges use the stored credentials; none stored is a clear error", async () => {
  const transport: Transport = (req) =>
    Promise.resolve(
      req.headers.get("authorization") === `Basic ${btoa("u:p")}`
        ? new Response("{}")
        : new Response("", { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } }),
    );
  await new RegistryClient(ref, { transport, credentials: { username: "u", password: "p" } })
    .ping();
  await assertRejects(
    () => new RegistryClient(ref, { transport }).ping(),
    RuntimeError,
    "berth login",
  );
});

Deno.test("5xx and network failures are retried with back-off, then a one-line error", async () => {
  let calls = 0;
  const flaky: Transport = () => {
    calls++;
    if (calls === 1) return Promise.reject(new TypeError("connection refused"));
    if (calls === 2) return Promise.resolve(new Response("", { status: 503 }));
    return Promise.resolve(new Response("{}"));
  };
  await new RegistryClient(ref, { transport: flaky, tries: 3 }).ping();
  assertEquals(calls, 3);
  const down: Transport = () => Promise.reject(new TypeError("connection refused"));
  await assertRejects(
    () => new RegistryClient(ref, { transport: down, tries: 2 }).ping(),
    RuntimeError,
    "cannot reach registry 127.0.0.1:5000",
  );
  const missing: Transport = () => Promise.resolve(new Response("", { status: 404 }));
  await assertRejects(
    () => new RegistryClient(ref, { transport: missing }).manifest("nope"),
    RuntimeError,
    "manifest unknown",
  );
});

Deno.test("loopback registries are plain HTTP, others HTTPS (also with --tls-verify=false, until it fails), docker.io is registry-1", () => {
  assertEquals(new RegistryClient(ref).base, "http://127.0.0.1:5000");
  assertEquals(new RegistryClient(parseReference("ghcr.io/a/b")).base, "https://ghcr.io");
  assertEquals(new RegistryClient(parseReference("busybox")).base, "https://registry-1.docker.io");
  assertEquals(
    new RegistryClient(parseReference("ghcr.io/a/b"), { insecure: true }).base,
    "https://ghcr.io",
  );
});

Deno.test("a blob body that stalls fails with a clear error after the timeout", async () => {
  let cancelled = false;
  const transport: Transport = (req) => {
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new Uint8Array([1, 2, 3]));
        req.signal.addEventListener("abort", () => {
          cancelled = true;
          ctl.error(new DOMException("aborted", "AbortError"));
        });
      },
    });
    return Promise.resolve(new Response(body));
  };
  const s = await new RegistryClient(ref, { transport, timeoutMs: 200 }).blob(
    "sha256:" + "a".repeat(64),
  );
  await assertRejects(() => new Response(s).arrayBuffer(), RuntimeError, "no data for 200 ms");
  assertEquals(cancelled, true);
});

Deno.test("requestError: fetch's cause is part of the one line, without the URL it repeats", async () => {
  const { requestError } = await import("../lib/image/registry.ts");
  const err = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (https://r.example/v2/): client error (Connect): invalid peer certificate: UnknownIssuer",
    ),
  });
  assertEquals(
    requestError(err),
    "fetch failed: client error (Connect): invalid peer certificate: UnknownIssuer",
  );
  assertEquals(requestError(new Error("timed out")), "timed out");
  assertEquals(requestError("x"), "x");
});

Deno.test("--tls-verify=false falls back to plain HTTP only before HTTPS ever answered", async () => {
  const seen: string[] = [];
  let failNext = false;
  const https: Transport = (req) => {
    seen.push(req.url);
    if (failNext) return Promise.reject(new TypeError("connection reset"));
    return Promise.resolve(new Response("{}", { status: 404 }));
  };
  const plain: Transport = (req) => {
    seen.push(req.url);
    return Promise.resolve(new Response("{}", { status: 404 }));
  };
  const c = new RegistryClient(parseReference("r.example/a:1"), {
    insecure: true,
    transport: plain,
    insecureTransport: https,
    tries: 1,
  });
  await assertRejects(() => c.manifest("1"), RuntimeError, "manifest unknown");
  failNext = true;
  await assertRejects(() => c.manifest("2"), RuntimeError, "connection reset");
  assertEquals(c.base, "https://r.example", "a failure after an answer keeps HTTPS");
  assertEquals(seen, ["https://r.example/v2/a/manifests/1", "https://r.example/v2/a/manifests/2"]);
});
