// --tls-verify=false against a real registry over TLS with a self-signed
// certificate (docker-registry on 127.0.0.1 with tests/fixtures/tls), and
// the insecure transport's redirects against a small TLS server. The
// registry is named registry.test:PORT (not loopback, so the client
// chooses HTTPS); the transports it is given send each request to
// 127.0.0.1, so nothing but loopback is ever addressed.
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { insecureTransport } from "../lib/image/_insecure_transport.ts";
import { parseReference } from "../lib/image/_reference.ts";
import { RegistryClient, type Transport } from "../lib/image/_registry.ts";
import { writeOciLayout } from "./image_fixture.ts";
import { haveRegistryTools, push, startRegistry, TEST_TLS } from "./image_registry.ts";
import { tempDir } from "./temp_dir.ts";

const OPTS = { ignore: !haveRegistryTools(), sanitizeResources: false, sanitizeOps: false };

/** `transport`, with every request sent to 127.0.0.1 instead of registry.test. */
function toLoopback(transport: Transport, seen: string[] = []): Transport {
  return (req) => {
    seen.push(req.url);
    const url = req.url.replace("//registry.test:", "//127.0.0.1:");
    return transport(new Request(url, req));
  };
}

async function pushedImage(host: string): Promise<string> {
  await using dir = await tempDir("berth-tls-oci-");
  const w = await writeOciLayout(dir.path, "1", { layers: [], config: { Cmd: ["true"] } });
  // skopeo pushes over TLS without checking the test certificate.
  await push(dir.path, "1", `${host}/tls:1`);
  return w.manifestDigest;
}

Deno.test(
  "--tls-verify: an untrusted certificate is refused by default, accepted when false",
  OPTS,
  async () => {
    const reg = await startRegistry({ tls: true });
    try {
      const digest = await pushedImage(reg.host);
      const port = reg.host.split(":")[1];
      const ref = parseReference(`registry.test:${port}/tls:1`);
      const seen: string[] = [];
      const fetched = toLoopback((r) => fetch(r), seen);
      const strict = new RegistryClient(ref, { transport: fetched, tries: 1 });
      assertEquals(strict.base, `https://registry.test:${port}`);
      await assertRejects(() => strict.manifest("1"), RuntimeError, "--tls-verify=false");
      const lax = new RegistryClient(ref, {
        insecure: true,
        transport: fetched,
        insecureTransport: toLoopback(insecureTransport, seen),
      });
      const doc = await lax.manifest("1");
      assertEquals(lax.base, `https://registry.test:${port}`, "stays on HTTPS");
      assertTrue(doc.contentType?.includes("manifest") ?? false, String(doc.contentType));
      const { sha256Of } = await import("../lib/image/_verify.ts");
      assertEquals(await sha256Of(doc.bytes), digest);
      assertTrue(seen.every((u) => u.startsWith("https://")), seen.join(" "));
    } finally {
      await reg.stop();
    }
  },
);

Deno.test(
  "--tls-verify=false: a registry that speaks only plain HTTP is reached over HTTP",
  OPTS,
  async () => {
    const reg = await startRegistry();
    try {
      await pushedImage(reg.host);
      const port = reg.host.split(":")[1];
      const ref = parseReference(`registry.test:${port}/tls:1`);
      const strict = new RegistryClient(ref, {
        transport: toLoopback((r) => fetch(r)),
        tries: 1,
      });
      await assertRejects(() => strict.manifest("1"), RuntimeError, "cannot reach registry");
      const lax = new RegistryClient(ref, {
        insecure: true,
        transport: toLoopback((r) => fetch(r)),
        insecureTransport: toLoopback(insecureTransport),
      });
      await lax.manifest("1");
      assertEquals(lax.base, `http://registry.test:${port}`);
      // Nothing answers at all: both tries are named.
      const none = new RegistryClient(parseReference("registry.test:1/x:1"), {
        insecure: true,
        transport: toLoopback((r) => fetch(r)),
        insecureTransport: toLoopback(insecureTransport),
        tries: 1,
      });
      await assertRejects(() => none.manifest("1"), RuntimeError, "over HTTPS");
    } finally {
      await reg.stop();
    }
  },
);

Deno.test(
  "--tls-verify=false sends request bodies: a blob PUT whole (with its Content-Length) and one PATCHed as a stream reach the registry intact",
  OPTS,
  async () => {
    const reg = await startRegistry({ tls: true });
    try {
      const port = reg.host.split(":")[1];
      const c = new RegistryClient(parseReference(`registry.test:${port}/up:1`), {
        insecure: true,
        transport: toLoopback((r) => fetch(r)),
        insecureTransport: toLoopback(insecureTransport),
      });
      const { sha256Of } = await import("../lib/image/_verify.ts");
      const bytes = crypto.getRandomValues(new Uint8Array(60_000));
      const digest = await sha256Of(bytes);
      const begin = async () => {
        const r = await c.request("/v2/up/blobs/uploads/", { method: "POST" });
        await r.body?.cancel();
        assertEquals(r.status, 202);
        return new URL(r.headers.get("location")!, c.base);
      };
      const withDigest = (u: URL) => (u.searchParams.set("digest", digest), u.href);
      const put = await c.request(withDigest(await begin()), { method: "PUT", body: bytes });
      await put.body?.cancel();
      assertEquals(put.status, 201);
      const patch = await c.request((await begin()).href, {
        method: "PATCH",
        stream: () =>
          new ReadableStream({
            start(ctl) {
              for (let i = 0; i < bytes.length; i += 7000) ctl.enqueue(bytes.slice(i, i + 7000));
              ctl.close();
            },
          }),
      });
      await patch.body?.cancel();
      assertEquals([patch.status, patch.headers.get("range")], [202, `0-${bytes.length - 1}`]);
      const done = await c.request(withDigest(new URL(patch.headers.get("location")!, c.base)), {
        method: "PUT",
      });
      await done.body?.cancel();
      assertEquals(done.status, 201);
      const got = await new Response(await c.blob(digest)).arrayBuffer();
      assertEquals(new Uint8Array(got), bytes);
      assertTrue(reg.log().includes("PATCH"), "over the registry's TLS");
    } finally {
      await reg.stop();
    }
  },
);

Deno.test("the insecure transport follows redirects, dropping Authorization across origins", async () => {
  const cert = Deno.readTextFileSync(TEST_TLS.cert);
  const key = Deno.readTextFileSync(TEST_TLS.key);
  const ac = new AbortController();
  const auths: Record<string, string | null> = {};
  const serve = (handler: (req: Request) => Response) =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert, key, signal: ac.signal, onListen() {} },
      handler,
    );
  const other = serve((req) => {
    auths.other = req.headers.get("authorization");
    return new Response("blob bytes");
  });
  const otherPort = (other.addr as Deno.NetAddr).port;
  const first = serve((req) => {
    const path = new URL(req.url).pathname;
    auths[path] = req.headers.get("authorization");
    if (path === "/a") return Response.redirect(`https://127.0.0.1:${port}/b`, 307);
    if (path === "/b") return Response.redirect(`https://127.0.0.1:${otherPort}/c`, 302);
    return new Response("not here", { status: 404 });
  });
  const port = (first.addr as Deno.NetAddr).port;
  try {
    const res = await insecureTransport(
      new Request(`https://127.0.0.1:${port}/a`, { headers: { authorization: "Bearer t" } }),
    );
    assertEquals([res.status, await res.text()], [200, "blob bytes"]);
    assertEquals(auths, { "/a": "Bearer t", "/b": "Bearer t", other: null });
    const missing = await insecureTransport(new Request(`https://127.0.0.1:${port}/zzz`));
    assertEquals([missing.status, await missing.text()], [404, "not here"]);
  } finally {
    ac.abort();
    await Promise.all([first.finished, other.finished]);
  }
});

Deno.test("redirects to file: URLs are refused by the insecure transport and the client over it", async () => {
  await using dir = await tempDir("berth-redirect-");
  const secret = `${dir.path}/secret`;
  Deno.writeTextFileSync(secret, "a local file");
  const cert = Deno.readTextFileSync(TEST_TLS.cert);
  const key = Deno.readTextFileSync(TEST_TLS.key);
  const ac = new AbortController();
  const toFile = () =>
    new Response(null, { status: 307, headers: { location: `file://${secret}` } });
  const plain = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    toFile,
  );
  const plainPort = (plain.addr as Deno.NetAddr).port;
  const tls = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, signal: ac.signal, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/via-http"
        ? Response.redirect(`http://127.0.0.1:${plainPort}/x`, 302)
        : toFile(),
  );
  const port = (tls.addr as Deno.NetAddr).port;
  try {
    for (const path of ["/a", "/via-http"]) {
      await assertRejects(
        () => insecureTransport(new Request(`https://127.0.0.1:${port}${path}`)),
        TypeError,
        "a file: URL was refused",
      );
    }
    // The client follows redirects itself (on every transport), refusing at once.
    const c = new RegistryClient(parseReference(`registry.test:${port}/app:1`), {
      insecure: true,
      transport: toLoopback((r) => fetch(r)),
      insecureTransport: toLoopback(insecureTransport),
      tries: 1,
    });
    await assertRejects(
      () => c.manifest("1"),
      RuntimeError,
      "a redirect to a file: URL was refused (only http and https are followed)",
    );
    await assertRejects(
      () => c.blob("sha256:" + "a".repeat(64)),
      RuntimeError,
      "a redirect to a file: URL was refused",
    );
  } finally {
    ac.abort();
    await Promise.all([plain.finished, tls.finished]);
  }
});
