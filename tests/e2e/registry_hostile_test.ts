// `berth pull` against a hostile registry (tests/hostile_registry.ts, a
// small server on 127.0.0.1): file: realms and redirects, endless, stalled
// and dripping bodies, a token realm elsewhere over plain HTTP (issue 20
// rows 1, 2, 12). Each failure is one `berth: ...` line and exit 1, comes
// quickly, with berth's memory bounded, and leaves nothing in the store.

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue } from "../assert.ts";
import { berthArgv, cleanup, makeRoots, type Roots } from "../helpers.ts";
import { sha256, tarOf } from "../image_fixture.ts";
import { type Hostile, hostileRegistry } from "../hostile_registry.ts";
import { tempDir } from "../temp_dir.ts";

const OPTS = { sanitizeResources: false, sanitizeOps: false };
const enc = new TextEncoder();
const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

/** A one-layer image: its manifest, config and layer, by digest. */
interface Image {
  manifest: Uint8Array;
  configDigest: string;
  layerDigest: string;
  blobs: Map<string, Uint8Array>;
}

async function smallImage(o: { configSize?: number } = {}): Promise<Image> {
  const layer = tarOf([{ name: "hello", data: "hello from a hostile registry\n" }]);
  const layerDigest = await sha256(layer);
  const config = enc.encode(JSON.stringify({
    architecture: Deno.build.arch === "x86_64" ? "amd64" : "arm64",
    os: "linux",
    config: { Cmd: ["true"] },
    rootfs: { type: "layers", diff_ids: [layerDigest] },
  }));
  const configDigest = await sha256(config);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: o.configSize ?? config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: layerDigest,
      size: layer.length,
    }],
  }));
  return {
    manifest,
    configDigest,
    layerDigest,
    blobs: new Map([[configDigest, config], [layerDigest, layer]]),
  };
}

/** Serves `img` faithfully (a manifest for any tag, its blobs). */
function serveImage(img: Image, url: URL): Response {
  if (url.pathname === "/v2/") return new Response("{}");
  if (url.pathname.includes("/manifests/")) {
    return new Response(img.manifest.slice(), { headers: { "content-type": MANIFEST_TYPE } });
  }
  const blob = img.blobs.get(url.pathname.split("/blobs/")[1] ?? "");
  return blob === undefined ? new Response("", { status: 404 }) : new Response(blob.slice());
}

interface Pulled {
  code: number;
  stderr: string;
  /** Wall time of the pull (ms). */
  ms: number;
  /** berth's peak resident memory (MiB), by /usr/bin/time; NaN unless measured. */
  peakMiB: number;
}

/**
 * `berth pull -q REF`, killed after 30 s (old code that hangs fails, not
 * hangs); with `measure`, under /usr/bin/time for its peak memory (only
 * where the pull cannot hang: a kill would reach time, not berth).
 */
async function pull(
  roots: Roots,
  ref: string,
  o: { env?: Record<string, string>; measure?: boolean } = {},
): Promise<Pulled> {
  await using dir = await tempDir("berth-time-");
  const timeFile = join(dir.path, "rss");
  const argv = [...berthArgv(), "pull", "-q", ref];
  if (o.measure === true) argv.unshift("/usr/bin/time", "-f", "%M", "-o", timeFile);
  const started = performance.now();
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: { ...roots.env, ...o.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const kib = o.measure === true
    ? Number(Deno.readTextFileSync(timeFile).trim().split("\n").pop())
    : NaN;
  return {
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr),
    ms: performance.now() - started,
    peakMiB: kib / 1024,
  };
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** The image store holds no image, layer, blob or partial download. */
function assertEmptyStore(roots: Roots): void {
  for (const d of ["images", "layers", "blobs", "tmp"]) {
    assertEquals(names(join(roots.dataRoot, "image", d)), [], `${d}/ is not empty`);
  }
}

/** The pull failed with exactly `line` (one line), exit 1, and left nothing. */
function assertFailed(r: Pulled, roots: Roots, line: string): void {
  assertEquals([r.code, r.stderr], [1, `berth: ${line}\n`]);
  assertEmptyStore(roots);
}

async function withHostile(
  handler: Parameters<typeof hostileRegistry>[0],
  fn: (h: Hostile, roots: Roots) => Promise<void>,
): Promise<void> {
  const roots = await makeRoots();
  const h = hostileRegistry(handler);
  try {
    await fn(h, roots);
  } finally {
    await h.stop();
    await cleanup(roots);
  }
}

Deno.test(
  "row 1: a file: token realm is refused; the file's token is never sent",
  OPTS,
  async () => {
    await using dir = await tempDir("berth-realm-");
    const file = join(dir.path, "token.json");
    Deno.writeTextFileSync(file, JSON.stringify({ token: "FROM-A-FILE" }));
    const img = await smallImage();
    await withHostile(
      (req, url) =>
        req.headers.get("authorization") === "Bearer FROM-A-FILE"
          ? serveImage(img, url)
          : new Response("", {
            status: 401,
            headers: { "www-authenticate": `Bearer realm="file://${file}",service="s"` },
          }),
      async (h, roots) => {
        const r = await pull(roots, `${h.host}/app:1`);
        assertFailed(
          r,
          roots,
          `${h.host}: a token realm of scheme file: was refused (only http and https)`,
        );
        assertTrue(h.seen.every((s) => s.authorization === null), JSON.stringify(h.seen));
      },
    );
  },
);

Deno.test("row 1: a manifest or layer redirected to a file: URL is refused", OPTS, async () => {
  await using dir = await tempDir("berth-redirect-");
  const file = join(dir.path, "local");
  Deno.writeTextFileSync(file, "a local file");
  const img = await smallImage();
  let redirect = "";
  await withHostile(
    (_req, url) =>
      url.pathname.endsWith(redirect)
        ? new Response(null, { status: 307, headers: { location: `file://${file}` } })
        : serveImage(img, url),
    async (h, roots) => {
      const refused =
        `http://${h.host}: a redirect to a file: URL was refused (only http and https are followed)`;
      redirect = "/manifests/1";
      assertFailed(await pull(roots, `${h.host}/app:1`), roots, refused);
      redirect = img.layerDigest;
      assertFailed(await pull(roots, `${h.host}/app:1`), roots, refused);
    },
  );
});

Deno.test("row 1: 127.1 is loopback: pulled over plain HTTP", OPTS, async () => {
  const img = await smallImage();
  await withHostile((_req, url) => serveImage(img, url), async (h, roots) => {
    for (const host of [`127.1:${h.port}`, `127.0.0.1:${h.port}`]) {
      const r = await pull(roots, `${host}/app:1`);
      assertEquals([r.code, r.stderr], [0, ""], host);
    }
  });
});

Deno.test(
  "row 2: an endless manifest fails at 4 MiB with berth's memory bounded",
  OPTS,
  async () => {
    await withHostile(
      (_req, url, h) =>
        url.pathname === "/v2/"
          ? new Response("{}")
          : new Response(h.endless(), { headers: { "content-type": MANIFEST_TYPE } }),
      async (h, roots) => {
        const r = await pull(roots, `${h.host}/app:1`, { measure: true });
        assertFailed(r, roots, `manifest of ${h.host}/app:1: larger than 4 MiB`);
        assertTrue(h.sent() < 32 << 20, `the registry sent ${h.sent()} bytes`);
        assertTrue(r.peakMiB < 200, `berth grew to ${r.peakMiB.toFixed(0)} MiB`);
        assertTrue(r.ms < 10_000, `${r.ms} ms`);
      },
    );
  },
);

Deno.test(
  "row 2: an endless config fails at its cap, whatever the manifest declares",
  OPTS,
  async () => {
    for (
      const [declared, line] of [
        [1 << 30, "1073741824 bytes declared, more than the 8 MiB allowed"],
        [8 << 20, "larger than 8 MiB"],
      ] as const
    ) {
      const img = await smallImage({ configSize: declared });
      await withHostile(
        (_req, url, h) =>
          url.pathname.endsWith(img.configDigest)
            ? new Response(h.endless('{"os":"linux","x":"'))
            : serveImage(img, url),
        async (h, roots) => {
          const r = await pull(roots, `${h.host}/app:1`, { measure: true });
          assertFailed(r, roots, `config of ${h.host}/app:1: ${line}`);
          assertTrue(h.sent() < 32 << 20, `the registry sent ${h.sent()} bytes`);
          assertTrue(r.peakMiB < 200, `berth grew to ${r.peakMiB.toFixed(0)} MiB`);
        },
      );
    }
  },
);

Deno.test("row 2: headers then nothing fails after BERTH_REGISTRY_TIMEOUT_MS", OPTS, async () => {
  await withHostile(
    (_req, url, h) =>
      url.pathname === "/v2/"
        ? new Response("{}")
        : new Response(h.stalled(), { headers: { "content-type": MANIFEST_TYPE } }),
    async (h, roots) => {
      const r = await pull(roots, `${h.host}/app:1`, { env: { BERTH_REGISTRY_TIMEOUT_MS: "500" } });
      assertFailed(r, roots, `manifest of ${h.host}/app:1: not received within 500 ms`);
      assertTrue(r.ms < 10_000, `${r.ms} ms`);
    },
  );
});

Deno.test(
  "row 2: a layer dripping a byte at a time fails on the minimum throughput",
  OPTS,
  async () => {
    const img = await smallImage();
    await withHostile(
      (_req, url, h) =>
        url.pathname.endsWith(img.layerDigest)
          ? new Response(h.drip(1 << 20, 50))
          : serveImage(img, url),
      async (h, roots) => {
        const r = await pull(roots, `${h.host}/app:1`, {
          env: { BERTH_REGISTRY_RATE_WINDOW_MS: "500" },
        });
        assertFailed(r, roots, `blob ${img.layerDigest}: too slow: less than 64 KiB in 500 ms`);
        assertTrue(r.ms < 10_000, `${r.ms} ms`);
      },
    );
  },
);

Deno.test(
  "row 12: saved credentials are not sent to a plain-HTTP token realm on another port",
  OPTS,
  async () => {
    const img = await smallImage();
    const realm = hostileRegistry(() => Response.json({ token: "ANON" }));
    try {
      await withHostile(
        (req, url) =>
          req.headers.get("authorization") === "Bearer ANON"
            ? serveImage(img, url)
            : new Response("", {
              status: 401,
              headers: { "www-authenticate": `Bearer realm="http://${realm.host}/token"` },
            }),
        async (h, roots) => {
          Deno.mkdirSync(roots.dataRoot, { recursive: true, mode: 0o700 });
          Deno.writeTextFileSync(
            join(roots.dataRoot, "auth.json"),
            JSON.stringify({ auths: { [h.host]: { auth: btoa("alice:s3cret") } } }),
            { mode: 0o600 },
          );
          const r = await pull(roots, `${h.host}/app:1`);
          assertEquals([r.code, r.stderr], [0, ""]);
          assertTrue(realm.seen.length > 0, "the realm was asked");
          assertEquals(realm.seen.filter((s) => s.authorization !== null), []);
        },
      );
    } finally {
      await realm.stop();
    }
  },
);
