// The registry client against an injected transport: the token flow,
// Basic auth, retries of 5xx and network failures, and clear errors; and
// against a hostile registry (tests/hostile_registry.ts, on 127.0.0.1):
// file: realms and redirects, endless, stalled and dripping bodies, a
// token realm elsewhere over plain HTTP.

import { parseChallenge, RegistryClient, type Transport } from "../lib/image/_registry.ts";
import { parseReference } from "../lib/image/_reference.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { hostileRegistry, within } from "./hostile_registry.ts";
import { tempDir } from "./temp_dir.ts";

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

Deno.test("a 401 gets a Bearer token (with the credentials, to the registry's own origin) and the request is retried with it", async () => {
  const seen: string[] = [];
  const transport: Transport = (req) => {
    const url = new URL(req.url);
    seen.push(`${url.pathname}${url.search} ${req.headers.get("authorization") ?? "-"}`);
    if (url.pathname === "/token") return Promise.resolve(Response.json({ token: "T" }));
    if (req.headers.get("authorization") !== "Bearer T") {
      return Promise.resolve(
        new Response("", {
          status: 401,
          headers: { "www-authenticate": 'Bearer realm="http://127.0.0.1:5000/token",service="s"' },
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

Deno.test("a streamed upload is timed out when it stalls, not while it is read slowly; each try opens the stream anew", async () => {
  // A registry that reads a chunk every 40 ms, or stops reading after two.
  const reader = (stopAfter: number): Transport => async (req) => {
    const r = req.body!.getReader();
    for (let i = 0;; i++) {
      if (i === stopAfter) {
        await new Promise((_, reject) =>
          req.signal.addEventListener(
            "abort",
            () => reject(new DOMException("aborted", "AbortError")),
          )
        );
      }
      if ((await r.read()).done) return new Response(null, { status: 202 });
      await new Promise((ok) => setTimeout(ok, 40));
    }
  };
  let opened = 0;
  const stream = (progress: () => void) => {
    opened++;
    let n = 0;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ === 8) return c.close();
        progress();
        c.enqueue(new Uint8Array(1024));
      },
    }, { highWaterMark: 0 });
  };
  const url = "/v2/app/blobs/uploads/x";
  // 8 chunks, 40 ms apart: over 300 ms in all, under a 150 ms timeout.
  const slow = new RegistryClient(ref, { transport: reader(Infinity), timeoutMs: 150 });
  const res = await slow.request(url, { method: "PATCH", stream, retry: false });
  assertEquals([res.status, opened], [202, 1]);
  const t0 = performance.now();
  const stalled = new RegistryClient(ref, { transport: reader(2), timeoutMs: 150, tries: 2 });
  await assertRejects(() => stalled.request(url, { method: "PATCH", stream }), RuntimeError);
  const took = performance.now() - t0;
  assertTrue(took >= 2 * 150 && took < 2000, `${took} ms`);
  assertEquals(opened, 3, "a stream for each try");
});

Deno.test("requestError: fetch's cause is part of the one line, without the URL it repeats", async () => {
  const { requestError } = await import("../lib/image/_registry.ts");
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

const HOSTILE = { sanitizeResources: false, sanitizeOps: false };
const DIGEST = "sha256:" + "a".repeat(64);
const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

Deno.test(
  "a file: token realm is refused: the file is never read, nor sent back as a token",
  HOSTILE,
  async () => {
    await using dir = await tempDir("berth-realm-");
    const file = `${dir.path}/token.json`;
    Deno.writeTextFileSync(file, JSON.stringify({ token: "FROM-A-FILE" }));
    const h = hostileRegistry((req) =>
      req.headers.get("authorization") === "Bearer FROM-A-FILE"
        ? new Response("{}", { headers: { "content-type": MANIFEST_TYPE } })
        : new Response("", {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="file://${file}",service="s"` },
        })
    );
    try {
      const c = new RegistryClient(parseReference(`${h.host}/app:1`), { tries: 1 });
      const err = await assertRejects(() => c.manifest("1"), RuntimeError, "was refused");
      assertEquals(
        err.message,
        `${h.host}: a token realm of scheme file: was refused (only http and https)`,
      );
      assertTrue(h.seen.every((s) => s.authorization === null), JSON.stringify(h.seen));
    } finally {
      await h.stop();
    }
  },
);

Deno.test(
  "a redirect of a manifest or blob to a file: URL is refused with a clear error",
  HOSTILE,
  async () => {
    await using dir = await tempDir("berth-redirect-");
    const file = `${dir.path}/manifest.json`;
    Deno.writeTextFileSync(file, "{}");
    const h = hostileRegistry(() =>
      new Response(null, { status: 307, headers: { location: `file://${file}` } })
    );
    try {
      const c = new RegistryClient(parseReference(`${h.host}/app:1`), { tries: 1 });
      await assertRejects(
        () => c.manifest("1"),
        RuntimeError,
        `http://${h.host}: a redirect to a file: URL was refused (only http and https are followed)`,
      );
      await assertRejects(
        () => c.blob(DIGEST),
        RuntimeError,
        "a redirect to a file: URL was refused",
      );
      assertEquals(h.seen.length, 2, "refused at once, not retried");
    } finally {
      await h.stop();
    }
  },
);

Deno.test("an endless manifest fails at 4 MiB, read no further", HOSTILE, async () => {
  const h = hostileRegistry((_req, _url, h) =>
    new Response(h.endless(), { headers: { "content-type": MANIFEST_TYPE } })
  );
  try {
    const c = new RegistryClient(parseReference(`${h.host}/app:1`), { tries: 1 });
    await within(
      10_000,
      assertRejects(
        () => c.manifest("1"),
        RuntimeError,
        `manifest of ${h.host}/app:1: larger than 4 MiB`,
      ),
    );
    assertTrue(h.sent() < 32 << 20, `the registry sent ${h.sent()} bytes`);
  } finally {
    await h.stop();
  }
});

Deno.test("an endless token answer fails at 64 KiB, read no further", HOSTILE, async () => {
  const h = hostileRegistry((_req, url, h) =>
    url.pathname === "/token"
      ? new Response(h.endless('{"token":"'), { headers: { "content-type": "application/json" } })
      : new Response("", {
        status: 401,
        headers: { "www-authenticate": `Bearer realm="http://${h.host}/token"` },
      })
  );
  try {
    const c = new RegistryClient(parseReference(`${h.host}/app:1`), { tries: 1 });
    await within(
      10_000,
      assertRejects(
        () => c.manifest("1"),
        RuntimeError,
        `the token server http://${h.host}: larger than 64 KiB`,
      ),
    );
    assertTrue(h.sent() < 32 << 20, `the token server sent ${h.sent()} bytes`);
  } finally {
    await h.stop();
  }
});

Deno.test(
  "headers then nothing: a manifest or token body fails after the timeout, not never",
  HOSTILE,
  async () => {
    const h = hostileRegistry((_req, url, h) => {
      if (url.pathname === "/token") return new Response(h.stalled());
      if (url.pathname.endsWith("/manifests/1")) {
        return new Response(h.stalled(), { headers: { "content-type": MANIFEST_TYPE } });
      }
      return new Response("", {
        status: 401,
        headers: { "www-authenticate": `Bearer realm="http://${h.host}/token"` },
      });
    });
    try {
      const ref = parseReference(`${h.host}/app:1`);
      const started = performance.now();
      await within(
        5_000,
        assertRejects(
          () => new RegistryClient(ref, { tries: 1, timeoutMs: 300 }).manifest("1"),
          RuntimeError,
          `manifest of ${h.host}/app:1: not received within 300 ms`,
        ),
      );
      await within(
        5_000,
        assertRejects(
          () => new RegistryClient(ref, { tries: 1, timeoutMs: 300 }).manifest("2"),
          RuntimeError,
          `the token server http://${h.host}: not received within 300 ms`,
        ),
      );
      assertTrue(performance.now() - started < 3_000, "each fails about when its timeout ends");
    } finally {
      await h.stop();
    }
  },
);

Deno.test(
  "a blob dripping a byte at a time fails on the minimum throughput; a fast one passes",
  HOSTILE,
  async () => {
    const fast = new Uint8Array(4 << 20).fill(7);
    const h = hostileRegistry((_req, url, h) =>
      url.pathname.endsWith(DIGEST) ? new Response(h.drip(100_000, 40)) : new Response(fast.slice())
    );
    try {
      const c = new RegistryClient(parseReference(`${h.host}/app:1`), {
        tries: 1,
        timeoutMs: 2_000, // never reached by a byte every 40 ms
        minRate: { bytes: 1024, windowMs: 400 },
      });
      const started = performance.now();
      await within(
        5_000,
        assertRejects(
          async () => await new Response(await c.blob(DIGEST)).arrayBuffer(),
          RuntimeError,
          `blob ${DIGEST}: too slow: less than 1 KiB in 400 ms`,
        ),
      );
      assertTrue(performance.now() - started < 2_000, "failed before the stall limit");
      const got = new Uint8Array(
        await new Response(await c.blob("sha256:" + "b".repeat(64))).arrayBuffer(),
      );
      assertEquals(got.length, fast.length);
    } finally {
      await h.stop();
    }
  },
);

Deno.test(
  "a blob's limits count only time spent waiting on the registry, not a slow reader",
  HOSTILE,
  async () => {
    const h = hostileRegistry(() => new Response(new Uint8Array(1 << 20).fill(1)));
    try {
      const c = new RegistryClient(parseReference(`${h.host}/app:1`), {
        tries: 1,
        timeoutMs: 200,
        minRate: { bytes: 1 << 20, windowMs: 200 },
      });
      const s = await c.blob(DIGEST);
      await new Promise((r) => setTimeout(r, 700)); // the consumer is busy
      assertEquals((await new Response(s).arrayBuffer()).byteLength, 1 << 20);
    } finally {
      await h.stop();
    }
  },
);

Deno.test(
  "saved credentials never go in clear to a token realm on another host or port",
  HOSTILE,
  async () => {
    const realm = hostileRegistry(() => Response.json({ token: "ANON" }));
    let realmUrl = "";
    const registry = hostileRegistry((req) =>
      req.headers.get("authorization") === "Bearer ANON"
        ? new Response("{}", { headers: { "content-type": MANIFEST_TYPE } })
        : new Response("", {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="${realmUrl}"` },
        })
    );
    try {
      const ref = parseReference(`${registry.host}/app:1`);
      const credentials = { username: "u", password: "p" };
      // Another port; another host name (of the same address); both plain HTTP.
      for (const url of [`http://${realm.host}/token`, `http://localhost:${realm.port}/token`]) {
        realmUrl = url;
        await new RegistryClient(ref, { tries: 1, credentials }).manifest("1");
      }
      assertEquals(realm.seen.map((s) => s.authorization), [null, null]);
    } finally {
      await Promise.all([realm.stop(), registry.stop()]);
    }
  },
);

Deno.test("saved credentials go to an https token realm, or to the registry's own origin", async () => {
  const basic = `Basic ${btoa("u:p")}`;
  for (
    const [realm, expected] of [
      ["https://auth.example/token", basic],
      ["http://127.0.0.1:5000/token", basic],
      ["http://127.0.0.1:5001/token", null],
      ["http://auth.example/token", null],
    ] as const
  ) {
    let sent: string | null | undefined;
    const transport: Transport = (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/token") {
        sent = req.headers.get("authorization");
        return Promise.resolve(Response.json({ token: "T" }));
      }
      return Promise.resolve(
        req.headers.get("authorization") === "Bearer T" ? new Response("{}") : new Response("", {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="${realm}"` },
        }),
      );
    };
    await new RegistryClient(ref, { transport, credentials: { username: "u", password: "p" } })
      .ping();
    assertEquals(sent, expected, realm);
  }
});

Deno.test("registry-supplied text in errors stays on one line", async () => {
  const transport: Transport = () =>
    Promise.resolve(
      new Response("", {
        status: 401,
        headers: { "www-authenticate": "Negotiate \x1b[31mred\x07" },
      }),
    );
  const err = await assertRejects(
    () => new RegistryClient(ref, { transport }).ping(),
    RuntimeError,
    "unsupported authentication",
  );
  // deno-lint-ignore no-control-regex
  assertTrue(!/[\x00-\x1f\x7f]/.test(err.message), JSON.stringify(err.message));
});

Deno.test("request(): a push's token asks for its scopes; Authorization only to the registry's origin; no redirect followed for a PUT; a PATCH with retry:false is tried once; a file: URL is refused", async () => {
  const seen: string[] = [];
  const transport: Transport = (req) => {
    const url = new URL(req.url);
    seen.push(
      `${req.method} ${url.host}${url.pathname}${url.search} ${
        req.headers.get("authorization") ?? "-"
      }`,
    );
    if (url.pathname === "/token") return Promise.resolve(Response.json({ token: "T" }));
    if (url.host === "127.0.0.1:5000" && req.headers.get("authorization") !== "Bearer T") {
      return Promise.resolve(
        new Response("", {
          status: 401,
          headers: { "www-authenticate": 'Bearer realm="http://127.0.0.1:5000/token",scope="x"' },
        }),
      );
    }
    if (req.method === "PUT") {
      return Promise.resolve(
        new Response("", { status: 307, headers: { location: "http://127.0.0.1:6000/elsewhere" } }),
      );
    }
    if (req.method === "PATCH") return Promise.resolve(new Response("", { status: 503 }));
    return Promise.resolve(new Response("", { status: 202 }));
  };
  const c = new RegistryClient(ref, {
    transport,
    credentials: { username: "u", password: "p" },
    scopes: ["repository:app:pull,push", "repository:src:pull"],
  });
  assertEquals((await c.request("/v2/app/blobs/uploads/", { method: "POST" })).status, 202);
  assertEquals((await c.request("http://127.0.0.1:7000/upload/1", { method: "GET" })).status, 202);
  assertEquals((await c.request("/v2/app/manifests/1", { method: "PUT" })).status, 307);
  assertEquals(
    (await c.request("/v2/app/blobs/uploads/1", { method: "PATCH", retry: false })).status,
    503,
  );
  await assertRejects(() => c.request("file:///etc/passwd", { method: "GET" }), RuntimeError);
  assertEquals(seen, [
    "POST 127.0.0.1:5000/v2/app/blobs/uploads/ -",
    `GET 127.0.0.1:5000/token?scope=repository%3Aapp%3Apull%2Cpush&scope=repository%3Asrc%3Apull Basic ${
      btoa("u:p")
    }`,
    "POST 127.0.0.1:5000/v2/app/blobs/uploads/ Bearer T",
    "GET 127.0.0.1:7000/upload/1 -",
    "PUT 127.0.0.1:5000/v2/app/manifests/1 Bearer T",
    "PATCH 127.0.0.1:5000/v2/app/blobs/uploads/1 Bearer T",
  ]);
});
