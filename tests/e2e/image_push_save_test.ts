// push and save end to end: a real registry (docker-registry on loopback),
// skopeo and umoci as the independent readers; berth load reads saves back.

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthIn,
  berthOk,
  busyboxRootfs,
  cleanup,
  makeRoots,
  type Roots,
} from "../helpers.ts";
import {
  busyboxLayer,
  type ImageSpec,
  tarOf,
  writeOciLayout,
  type Written,
} from "../image_fixture.ts";
import { haveRegistryTools, push, type Registry, startRegistry } from "../image_registry.ts";

const ready = haveRegistryTools();
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

interface Env {
  roots: Roots;
  reg: Registry;
  rootfs: string;
  work: string;
  store: string;
  publish(name: string, tag: string, spec: ImageSpec): Promise<{ ref: string } & Written>;
}

async function withImages(fn: (e: Env) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "berth-push-" });
  let n = 0;
  try {
    await fn({
      roots,
      reg,
      rootfs,
      work,
      store: join(roots.dataRoot, "image"),
      async publish(name, tag, spec) {
        const layout = join(work, `layout${n++}`);
        const w = await writeOciLayout(layout, tag, spec);
        const ref = `${reg.host}/${name}:${tag}`;
        await push(layout, tag, ref);
        return { ref, ...w };
      },
    });
  } finally {
    await cleanup(roots);
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

let bbLayer: Uint8Array | null = null;
function base(rootfs: string): Uint8Array {
  return (bbLayer ??= busyboxLayer(rootfs));
}

/** Incompressible bytes. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(r.stdout);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return text;
}

/** Registry log lines of requests with `method` whose path contains `part`. */
function requests(log: string, method: string, part: string): string[] {
  return log.split("\n").filter((l) => l.includes(`"${method} `) && l.includes(part));
}

/** Every file under `dir` with its type, mode and content digest (umoci's rootfs). */
async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (
      const e of [...Deno.readDirSync(join(dir, rel))].sort((a, b) => a.name < b.name ? -1 : 1)
    ) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      const st = Deno.lstatSync(join(dir, p));
      let what = "";
      if (e.isSymlink) what = `-> ${Deno.readLinkSync(join(dir, p))}`;
      else if (e.isFile) {
        const d = await crypto.subtle.digest("SHA-256", Deno.readFileSync(join(dir, p)));
        what = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
      }
      out.push(`${p} ${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk("");
  return out;
}

/** skopeo copy SRC to an OCI layout, umoci unpack it: the rootfs's tree. */
async function unpackedTree(work: string, src: string, tag: string): Promise<string[]> {
  const layout = join(work, `check-${crypto.randomUUID().slice(0, 8)}`);
  await run("skopeo", ["copy", "--quiet", "--src-tls-verify=false", src, `oci:${layout}:${tag}`]);
  const bundle = `${layout}-bundle`;
  await run("umoci", ["unpack", "--image", `${layout}:${tag}`, bundle]);
  return await treeOf(join(bundle, "rootfs"));
}

Deno.test(
  "push to another repository of the same registry mounts every blob (no upload); to a second registry uploads; skopeo and umoci read the same image",
  OPTS,
  async () => {
    await withImages(async ({ roots, reg, rootfs, work, publish }) => {
      const img = await publish("app", "1", {
        layers: [
          base(rootfs),
          tarOf([{ name: "srv/", type: "dir" }, { name: "srv/a", data: "a\n" }]),
        ],
      });
      await berthOk(roots, ["pull", "-q", img.ref]);
      const before = reg.log().length;
      const r = await berth(roots, ["push", img.ref, `${reg.host}/copy/app:2`]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.trim(), img.manifestDigest);
      const log = reg.log().slice(before);
      assertEquals(requests(log, "POST", "mount=").length, 3, log); // config and two layers
      assertEquals(requests(log, "PATCH", "/blobs/uploads/").length, 0, log);
      assertEquals(requests(log, "PUT", "/blobs/uploads/").length, 0, log);
      const inspect = JSON.parse(
        await run("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/copy/app:2`]),
      );
      assertEquals(inspect.Digest, img.manifestDigest);

      const reg2 = await startRegistry();
      try {
        const dest = `${reg2.host}/other/app:3`;
        const r2 = await berth(roots, ["push", img.ref, dest]);
        assertEquals(r2.code, 0, r2.stderr);
        const log2 = reg2.log();
        assertEquals(requests(log2, "PUT", "/blobs/uploads/").length, 3, log2);
        assertEquals(requests(log2, "PUT", "/manifests/3").length, 1, log2);
        assertEquals(
          await unpackedTree(work, `docker://${dest}`, "3"),
          await unpackedTree(work, `docker://${img.ref}`, "1"),
        );
      } finally {
        await reg2.stop();
      }
    });
  },
);

/**
 * A proxy in front of `upstream` that forwards every method with its body
 * and headers (a registry's Location rewritten to the proxy), counts the
 * requests, and optionally requires a Bearer token (issued at /token for
 * Basic `user:password`, its scopes recorded; pull on an `unreadable`
 * repository is left out of it, or with `strictToken` refused with the
 * whole token; a mount from a repository the token lacks is a 401) or answers a chosen PATCH
 * with a 500 after forwarding it (so the client's retry finds the chunk
 * already taken), or only its first `keepBytes` bytes (a PATCH cut short),
 * or refuses every PATCH without a Content-Length (`lengthRequired`: 411).
 * Each PATCH's Content-Range and Content-Length are recorded.
 */
function proxy(
  upstream: string,
  o: {
    user?: string;
    password?: string;
    failPatch?: number;
    keepBytes?: number;
    stableUploads?: boolean;
    lengthRequired?: boolean;
    unreadable?: string[];
    strictToken?: boolean;
  } = {},
) {
  // stableUploads: upload URLs without distribution's state token, as many registries
  // give them (the proxy keeps the latest upstream URL of each upload).
  const uploads = new Map<string, string>();
  /** Each token issued, with the scopes it grants. */
  const grants = new Map<string, string[]>();
  const seen: string[] = [];
  const scopes: string[][] = [];
  const patched: { range: string | null; length: string | null; bytes: number }[] = [];
  let patches = 0;
  const ac = new AbortController();
  let host = "";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/token") {
        if (req.headers.get("authorization") !== `Basic ${btoa(`${o.user}:${o.password}`)}`) {
          return new Response("denied", { status: 401 });
        }
        const asked = url.searchParams.getAll("scope");
        scopes.push(asked);
        const denied = asked.filter((sc) =>
          (o.unreadable ?? []).some((r) => sc.startsWith(`repository:${r}:`))
        );
        if (denied.length > 0 && o.strictToken) return new Response("denied", { status: 403 });
        const token = crypto.randomUUID();
        grants.set(token, asked.filter((sc) => !denied.includes(sc)));
        return Response.json({ token });
      }
      const granted = grants.get((req.headers.get("authorization") ?? "").replace(/^Bearer /, ""));
      const from = url.searchParams.get("from");
      const covers = granted !== undefined &&
        (from === null || granted.some((sc) => sc.startsWith(`repository:${from}:`)));
      const log = (status: number) =>
        seen.push(`${req.method} ${url.pathname}${url.search} => ${status}`);
      if (o.user !== undefined && !covers) {
        await req.body?.cancel();
        log(401);
        return new Response("unauthorized", {
          status: 401,
          headers: {
            "www-authenticate":
              `Bearer realm="http://${host}/token",service="test",scope="repository:x:pull"`,
          },
        });
      }
      const headers = new Headers(req.headers);
      headers.delete("authorization");
      headers.set("host", upstream);
      headers.delete("content-length"); // fetch sets it (a streamed body came without)
      headers.delete("transfer-encoding");
      let body = req.body === null ? null : new Uint8Array(await req.arrayBuffer());
      const failing = req.method === "PATCH" && patches + 1 === o.failPatch;
      if (req.method === "PATCH") {
        patched.push({
          range: req.headers.get("content-range"),
          length: req.headers.get("content-length"),
          bytes: body?.length ?? 0,
        });
      }
      if (failing && o.keepBytes !== undefined) body = body!.subarray(0, o.keepBytes);
      if (
        o.lengthRequired && req.method === "PATCH" && req.headers.get("content-length") === null
      ) {
        log(411);
        return new Response("length required", { status: 411 });
      }
      const m = /\/blobs\/uploads\/([0-9a-f-]{36})$/.exec(url.pathname);
      let target = `http://${upstream}${url.pathname}${url.search}`;
      if (o.stableUploads && m !== null && uploads.has(m[1]!)) {
        const up = new URL(uploads.get(m[1]!)!);
        for (const [k, v] of url.searchParams) if (k !== "_state") up.searchParams.set(k, v);
        target = up.href;
      }
      const res = await fetch(target, {
        method: req.method,
        headers,
        body,
        redirect: "manual",
      });
      const out = new Headers(res.headers);
      const loc = out.get("location");
      if (loc !== null) {
        const abs = new URL(loc, `http://${upstream}`);
        const id = /\/blobs\/uploads\/([0-9a-f-]{36})$/.exec(abs.pathname)?.[1];
        if (o.stableUploads && id !== undefined) {
          uploads.set(id, abs.href);
          out.set("location", `http://${host}${abs.pathname}`);
        } else out.set("location", abs.href.replace(`http://${upstream}`, `http://${host}`));
      }
      if (req.method === "PATCH" && ++patches === o.failPatch) {
        await res.body?.cancel();
        log(500);
        return new Response("boom", { status: 500 });
      }
      log(res.status);
      return new Response(res.body, { status: res.status, headers: out });
    },
  );
  host = `127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  return {
    host,
    seen,
    scopes,
    patched,
    stop: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test(
  "push of an image named nowhere on the registry mounts the layers another stored image was pulled with from there (a base), and uploads the rest",
  OPTS,
  async () => {
    await withImages(async ({ roots, reg, rootfs, work, publish }) => {
      const baseImg = await publish("base", "1", { layers: [base(rootfs)] });
      const app = await publish("app", "1", {
        layers: [
          base(rootfs),
          tarOf([{ name: "srv/", type: "dir" }, { name: "srv/a", data: "a\n" }]),
        ],
      });
      await berthOk(roots, ["pull", "-q", baseImg.ref]);
      await berthOk(roots, ["pull", "-q", app.ref]);
      // The app is known only by a local name now, as a build's result would be.
      await berthOk(roots, ["tag", app.ref, "example.com/app:1"]);
      await berthOk(roots, ["rmi", app.ref]);
      const before = reg.log().length;
      const r = await berth(roots, ["push", "example.com/app:1", `${reg.host}/app2:1`]);
      assertEquals(r.code, 0, r.stderr);
      assert(/mounted from base/.test(r.stderr), r.stderr);
      const log = reg.log().slice(before);
      const baseLayer = JSON.parse(
        await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${baseImg.ref}`]),
      ).layers[0].digest as string;
      const mounts = requests(log, "POST", "mount=");
      assertEquals(mounts.length, 1, log); // the base layer; the app's config and layer are new
      assert(mounts[0]!.includes(`mount=${baseLayer}&from=base`), mounts[0]);
      assertEquals(requests(log, "PUT", "/blobs/uploads/").length, 2, log);
      assertEquals(
        await unpackedTree(work, `docker://${reg.host}/app2:1`, "1"),
        await unpackedTree(work, `docker://${app.ref}`, "1"),
      );
    });
  },
);

Deno.test(
  "push of an image the registry has makes HEADs only, no upload; push without DEST goes to the image's own name",
  OPTS,
  async () => {
    await withImages(async ({ roots, reg, rootfs, publish }) => {
      const img = await publish("have", "1", {
        layers: [base(rootfs), tarOf([{ name: "h", data: "h" }])],
      });
      await berthOk(roots, ["pull", "-q", img.ref]);
      const p = proxy(reg.host);
      try {
        await berthOk(roots, ["tag", img.ref, `${p.host}/have:1`]);
        const t0 = performance.now();
        const r = await berth(roots, ["push", "-q", `${p.host}/have:1`]);
        const ms = performance.now() - t0;
        assertEquals(r.code, 0, r.stderr);
        assertEquals(r.stdout, `${img.manifestDigest}\n`);
        assertEquals(r.stderr, "");
        const kinds = p.seen.map((l) => l.split(" ")[0]);
        assertEquals(kinds.filter((k) => k === "HEAD").length, 3, p.seen.join("\n"));
        assertEquals(kinds.filter((k) => k === "POST" || k === "PATCH").length, 0);
        assertEquals(
          p.seen.filter((l) => l.startsWith("PUT")),
          ["PUT /v2/have/manifests/1 => 201"],
        );
        console.log(`push of an image the registry has: ${ms.toFixed(0)} ms (berth process)`);
      } finally {
        await p.stop();
      }
    });
  },
);

/**
 * An image of busybox and `bytes` of noise, pulled, then pushed through a
 * {@linkcode proxy} (options `o`) in front of a second registry, with
 * `env`; the push must succeed, `check` reads the proxy's record, and the
 * pushed image must unpack to the same tree as the source.
 */
async function pushThroughProxy(
  name: string,
  bytes: number,
  o: Parameters<typeof proxy>[1],
  env: Record<string, string>,
  check: (p: ReturnType<typeof proxy>, trace: string, img: Written) => Promise<void> | void,
): Promise<void> {
  await withImages(async ({ roots, rootfs, work, publish }) => {
    const img = await publish(name, "1", {
      layers: [base(rootfs), tarOf([{ name: "blob", data: noise(bytes) }])],
    });
    await berthOk(roots, ["pull", "-q", img.ref]);
    const reg2 = await startRegistry();
    const p = proxy(reg2.host, o);
    try {
      const dest = `${p.host}/${name}:1`;
      const r = await berth(roots, ["push", img.ref, dest], env);
      assertEquals(r.code, 0, r.stderr);
      await check(p, p.seen.join("\n"), img);
      assertEquals(
        await unpackedTree(work, `docker://${dest}`, "1"),
        await unpackedTree(work, `docker://${img.ref}`, "1"),
      );
    } finally {
      await p.stop();
      await reg2.stop();
    }
  });
}

Deno.test(
  "chunked push: PATCHed chunks; a chunk whose answer is lost (500 after the registry took it) is asked about and the upload begun again; the pushed image reads back whole",
  OPTS,
  () =>
    pushThroughProxy(
      "big",
      1 << 20,
      { failPatch: 3 },
      { BERTH_PUSH_CHUNK_SIZE: "200000" },
      async (p, trace, img) => {
        const patches = p.seen.filter((l) => l.startsWith("PATCH"));
        assert(patches.length >= 6, trace);
        // The failed chunk was asked about (GET of the upload); distribution no longer
        // knows an upload whose answer was lost (its state token is stale), so a new one began.
        assert(p.seen.some((l) => /^GET \/v2\/big\/blobs\/uploads\//.test(l)), trace);
        const posts = p.seen.filter((l) => l.startsWith("POST"));
        assertEquals(posts.length, 4, trace); // config, 2 layers, the restart
        const inspect = JSON.parse(
          await run("skopeo", ["inspect", "--tls-verify=false", `docker://${p.host}/big:1`]),
        );
        assertEquals(inspect.Digest, img.manifestDigest);
      },
    ),
);

/** `berth login -u alice --password-stdin HOST`, the password `s3cret` on its stdin. */
async function login(roots: Roots, host: string): Promise<void> {
  const r = await berthIn(roots, ["login", "-u", "alice", "--password-stdin", host], "s3cret\n");
  assertEquals(r.code, 0, r.stderr);
}

Deno.test(
  "token auth: push asks its one token for pull,push on DEST (and pull on the mount source); without login it fails in one line",
  OPTS,
  async () => {
    await withImages(async ({ roots, reg, rootfs, publish }) => {
      const img = await publish("src", "1", { layers: [base(rootfs)] });
      await berthOk(roots, ["pull", "-q", img.ref]);
      const p = proxy(reg.host, { user: "alice", password: "s3cret" });
      try {
        const dest = `${p.host}/private:1`;
        const anon = await berth(roots, ["push", img.ref, dest]);
        assertEquals(anon.code, 1, anon.stderr);
        assertEquals(anon.stderr.trim().split("\n").length, 1, anon.stderr);
        await login(roots, p.host);
        const tokensBefore = p.scopes.length;
        const r = await berth(roots, ["push", "-q", img.ref, dest]);
        assertEquals(r.code, 0, r.stderr);
        // Its blobs are asked about at once, refused together: one token for all.
        assertEquals(p.scopes.length - tokensBefore, 1, JSON.stringify(p.scopes));
        assertEquals(r.stdout.trim(), img.manifestDigest);
        assert(
          p.scopes.some((s) => s.includes("repository:private:pull,push")),
          JSON.stringify(p.scopes),
        );
        assert(p.seen.some((l) => l.startsWith("PUT /v2/private/manifests/1")));
      } finally {
        await p.stop();
      }
    });
  },
);

Deno.test(
  "token auth: a mount source the token does not cover is uploaded instead (the server granting the rest, or refusing the token until asked for DEST alone)",
  OPTS,
  async () => {
    await withImages(async ({ roots, reg, rootfs, work, publish }) => {
      await publish("base", "1", { layers: [base(rootfs)] });
      await publish("app", "1", {
        layers: [
          base(rootfs),
          tarOf([{ name: "srv/", type: "dir" }, { name: "srv/a", data: "a\n" }]),
        ],
      });
      for (const strictToken of [false, true]) {
        const dest = strictToken ? "strict" : "lax"; // a repository each: neither has the blobs
        const p = proxy(reg.host, {
          user: "alice",
          password: "s3cret",
          unreadable: ["base"],
          strictToken,
        });
        try {
          await login(roots, p.host);
          // Pulls ask for the challenge's scope, which is granted: only a push's extra
          // scope (pull on base, its mount source) is not.
          await berthOk(roots, ["pull", "-q", `${p.host}/base:1`]);
          await berthOk(roots, ["pull", "-q", `${p.host}/app:1`]);
          // The app known only by a local name, as a build's result would be.
          await berthOk(roots, ["tag", `${p.host}/app:1`, "example.com/app:1"]);
          await berthOk(roots, ["rmi", `${p.host}/app:1`]);
          const [seen, tokens] = [p.seen.length, p.scopes.length];
          const r = await berth(roots, ["push", "example.com/app:1", `${p.host}/${dest}:1`]);
          assertEquals(r.code, 0, r.stderr);
          const trace = p.seen.slice(seen).join("\n");
          const both = [`repository:${dest}:pull,push`, "repository:base:pull"];
          assertEquals(
            p.scopes.slice(tokens),
            strictToken ? [both, [`repository:${dest}:pull,push`]] : [both],
          );
          const mounts = p.seen.slice(seen).filter((l) => l.includes("mount="));
          assertEquals(mounts.length, 1, trace); // the base layer's, refused
          assert(mounts[0]!.endsWith("=> 401"), trace);
          assertEquals(
            p.seen.slice(seen).filter((l) => /^PUT .*\/blobs\/uploads\//.test(l)).length,
            3,
          );
          assert(trace.includes(`PUT /v2/${dest}/manifests/1 => 201`), trace);
          assertEquals(
            await unpackedTree(work, `docker://${reg.host}/${dest}:1`, "1"),
            await unpackedTree(work, `docker://${reg.host}/app:1`, "1"),
          );
          await berthOk(roots, ["rmi", "example.com/app:1"]);
        } finally {
          await p.stop();
        }
      }
    });
  },
);

/** The names in tar `file`. */
async function tarNames(file: string): Promise<string[]> {
  return (await run("tar", ["tf", file])).split("\n").filter((l) => l !== "");
}

Deno.test(
  "save: both formats read by skopeo, loaded back by berth with the same image IDs; a layer two images share is stored once",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, work, publish }) => {
      const a = await publish("a", "1", {
        layers: [base(rootfs), tarOf([{ name: "a", data: "a" }])],
      });
      const b = await publish("b", "1", {
        layers: [base(rootfs), tarOf([{ name: "b", data: "b" }])],
      });
      await berthOk(roots, ["pull", "-q", a.ref]);
      await berthOk(roots, ["pull", "-q", b.ref]);
      for (const format of ["docker-archive", "oci-archive"]) {
        const file = join(work, `${format}.tar`);
        const r = await berth(roots, ["save", "--format", format, "-o", file, a.ref, b.ref]);
        assertEquals(r.code, 0, r.stderr);
        const names = await tarNames(file);
        const layers = format === "docker-archive"
          ? names.filter((n) => n.endsWith(".tar"))
          : names.filter((n) => n.startsWith("blobs/sha256/") && n !== "blobs/sha256/");
        // docker-archive: 3 layers; OCI: 3 layers, 2 configs, 2 manifests.
        assertEquals(layers.length, format === "docker-archive" ? 3 : 7, names.join("\n"));
        const inspect = JSON.parse(
          await run("skopeo", ["inspect", `${format}:${file}:${a.ref}`]),
        );
        assertEquals(inspect.Layers.length, 2);
        const config = JSON.parse(
          await run("skopeo", ["inspect", "--config", `${format}:${file}:${b.ref}`]),
        );
        assertEquals(config.rootfs.diff_ids.length, 2);
        const fresh = await makeRoots();
        try {
          const out = await berthOk(fresh, ["load", "-q", "-i", file]);
          assert(out.includes(a.ref) && out.includes(b.ref), out);
          const ids = [...Deno.readDirSync(join(fresh.dataRoot, "image", "images"))]
            .map((e) => `sha256:${e.name.replace(/\.json$/, "")}`).sort();
          assertEquals(ids, [a.configDigest, b.configDigest].sort());
        } finally {
          await cleanup(fresh);
        }
      }
    });
  },
);

Deno.test(
  "save to stdout writes the archive there (a pipe); save of a missing image is exit 3 and writes no file",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, work, publish }) => {
      const a = await publish("s", "1", { layers: [base(rootfs)] });
      await berthOk(roots, ["pull", "-q", a.ref]);
      const [exe, ...pre] = berthArgv();
      const out = await new Deno.Command(exe!, {
        args: [...pre, "save", a.ref],
        env: roots.env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const file = join(work, "stdout.tar");
      Deno.writeFileSync(file, out.stdout);
      const inspect = JSON.parse(await run("skopeo", ["inspect", `docker-archive:${file}`]));
      assertEquals(inspect.Layers.length, 1);
      const missing = join(work, "missing.tar");
      const r = await berth(roots, ["save", "-o", missing, `${a.ref}-nope`]);
      assertEquals(r.code, 3, r.stderr);
      assertEquals([...Deno.readDirSync(work)].filter((e) => e.name.includes("missing")), []);
      assertEquals((await berth(roots, ["save", "-o", missing])).code, 2);
      assertEquals((await berth(roots, ["save", "--format", "tar", a.ref])).code, 2);
    });
  },
);

/** Every path under `dir` (files and directories), sorted. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(join(dir, rel))];
    } catch {
      return;
    }
    for (const e of entries) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(p);
      if (e.isDirectory && !p.startsWith("layers/")) walk(p);
    }
  };
  walk("");
  return out.sort();
}

Deno.test(
  "crashes: a push killed after a blob leaves nothing locally; a save killed midway leaves no FILE, only its temp, which gc removes",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, work, publish, store }) => {
      const a = await publish("c", "1", {
        layers: [base(rootfs), tarOf([{ name: "c", data: "c" }])],
      });
      await berthOk(roots, ["pull", "-q", a.ref]);
      const before = listing(store);
      const reg2 = await startRegistry();
      try {
        const r = await berth(roots, ["push", a.ref, `${reg2.host}/c:1`], {
          BERTH_CRASH_AT: "push:blob",
        });
        assertEquals(r.code, 137, r.stderr);
      } finally {
        await reg2.stop();
      }
      assertEquals(listing(store), before);
      for (const point of ["save:partial", "save:written"]) {
        for (const format of ["docker-archive", "oci-archive"]) {
          const file = join(work, `crash-${format}.tar`);
          const r = await berth(roots, ["save", "--format", format, "-o", file, a.ref], {
            BERTH_CRASH_AT: point,
          });
          assertEquals(r.code, 137, `${point}: ${r.stderr}`);
          const left = [...Deno.readDirSync(work)].map((e) => e.name).filter((n) =>
            n.includes(`crash-${format}`)
          );
          assertEquals(left.length, 1, left.join(" "));
          assert(left[0]!.startsWith(`.crash-${format}.tar.tmp-`), left[0]);
          // gc removes it (the save journals its temp in the data root).
          const gc = await berthOk(roots, ["gc"]);
          assert(gc.includes(`removed ${join(work, left[0]!)}, which a killed save`), gc);
          assertEquals(
            [...Deno.readDirSync(work)].filter((e) => e.name.includes(`crash-${format}`)).length,
            0,
          );
          await berthOk(roots, ["save", "--format", format, "-o", file, a.ref]);
          assertEquals(
            [...Deno.readDirSync(work)].map((e) => e.name).filter((n) =>
              n.includes(`crash-${format}`)
            ),
            [`crash-${format}.tar`],
          );
          Deno.removeSync(file);
        }
      }
      assertEquals(listing(store), before);
    });
  },
);

Deno.test(
  "an image whose layer blob is not stored (pulled before blobs were kept): push and save fail in one line saying to pull again; a pull then fetches the blob alone and both work",
  OPTS,
  async () => {
    await withImages(async ({ roots, reg, rootfs, work, publish, store }) => {
      const a = await publish("old", "1", {
        layers: [base(rootfs), tarOf([{ name: "o", data: "o" }])],
      });
      await berthOk(roots, ["pull", "-q", a.ref]);
      const rec = JSON.parse(
        Deno.readTextFileSync(join(store, "images", `${a.configDigest.slice(7)}.json`)),
      );
      const layer = rec.layers[1].digest as string;
      Deno.removeSync(join(store, "blobs", layer.slice(7)));
      const layersBefore = listing(join(store, "layers"));
      for (
        const args of [["push", a.ref, `${reg.host}/old2:1`], [
          "save",
          "-o",
          join(work, "o.tar"),
          a.ref,
        ]]
      ) {
        const r = await berth(roots, args);
        assertEquals(r.code, 1, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert(/pull \(or load\) the image again/.test(r.stderr), r.stderr);
      }
      assertEquals([...Deno.readDirSync(work)].filter((e) => e.name.includes("o.tar")), []);
      const gets = () => requests(reg.log(), "GET", `/blobs/${layer}`).length;
      const n = gets();
      await berthOk(roots, ["pull", "-q", a.ref]);
      assertEquals(gets(), n + 1); // the missing blob only
      assertEquals(listing(join(store, "layers")), layersBefore); // nothing unpacked again
      assert(Deno.statSync(join(store, "blobs", layer.slice(7))).isFile);
      await berthOk(roots, ["push", a.ref, `${reg.host}/old2:1`]);
      await berthOk(roots, ["save", "-o", join(work, "o.tar"), a.ref]);
    });
  },
);

Deno.test(
  "streamed push: a layer above 4 MiB goes up in one PATCH read from its file (no Content-Length, no Content-Range), small blobs in one PUT; a PATCH cut short is asked about and the rest streamed from the registry's Range; the image reads back whole",
  OPTS,
  () =>
    // The first PATCH: 3,000,000 bytes reach the registry, then its answer is lost.
    pushThroughProxy(
      "stream",
      6 << 20,
      { failPatch: 1, keepBytes: 3_000_000, stableUploads: true },
      {},
      (p, trace) => {
        assertEquals(p.seen.filter((l) => l.startsWith("POST")).length, 3, trace); // no restart
        assertEquals(p.seen.filter((l) => /^PUT .*\/blobs\/uploads\/.* => 201$/.test(l)).length, 3);
        const [first, rest] = [p.patched[0]!, p.patched[1]!];
        assertEquals(p.patched.length, 2, trace);
        assertEquals([first.range, first.length], [null, null], "streamed, whole");
        assert(first.bytes > 6 << 20, String(first.bytes));
        assert(/GET \/v2\/stream\/blobs\/uploads\/[0-9a-f-]{36} => 204/.test(trace), trace);
        assertEquals(rest.bytes, first.bytes - 3_000_000);
        assertEquals([rest.range, rest.length], [`3000000-${first.bytes - 1}`, null]);
      },
    ),
);

Deno.test(
  "streamed push to a registry that wants each PATCH's length (411): the blob goes on in chunks with Content-Length and Content-Range, on the same upload; the image reads back whole",
  OPTS,
  () =>
    pushThroughProxy("len", 6 << 20, { lengthRequired: true }, {}, (p, trace) => {
      assertEquals(p.seen.filter((l) => l.startsWith("POST")).length, 3, trace); // no restart
      assertEquals(p.seen.filter((l) => l.endsWith("=> 411")).length, 1, trace);
      const [refused, chunk] = [p.patched[0]!, p.patched[1]!];
      assertEquals(p.patched.length, 2, trace);
      assertEquals(refused.length, null);
      assertEquals([chunk.range, chunk.length], [`0-${chunk.bytes - 1}`, String(chunk.bytes)]);
      assertEquals(chunk.bytes, refused.bytes);
    }),
);

Deno.test(
  "chunked push to a registry with stable upload URLs: a chunk whose answer is lost is not resent blindly; the upload's status is asked and the push goes on from its Range, not begun again",
  OPTS,
  () =>
    pushThroughProxy("res", 1 << 20, { failPatch: 3, stableUploads: true }, {
      BERTH_PUSH_CHUNK_SIZE: "200000",
    }, (p, trace) => {
      assertEquals(p.seen.filter((l) => l.startsWith("POST")).length, 3, trace); // no restart
      // The lost chunk is not sent again blindly (distribution would append it twice):
      // the upload's status is asked, and the next chunk goes from its Range.
      assertEquals(p.seen.filter((l) => l.endsWith("=> 500")).length, 1, trace);
      assert(/GET \/v2\/res\/blobs\/uploads\/[0-9a-f-]{36} => 204/.test(trace), trace);
      assertEquals(p.seen.filter((l) => / => (4|5)\d\d$/.test(l) && !l.startsWith("HEAD")), [
        p.seen.find((l) => l.endsWith("=> 500"))!,
      ]);
    }),
);

Deno.test(
  "images SIZE is the unpacked size whether pulled or loaded (one ID, one size); CREATED in podman's words, ISO in --format json; history SIZE per layer unpacked; image inspect in podman's shape",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, work, publish, store }) => {
      // Zeros compress to almost nothing: the blob sizes are far from the unpacked ones.
      const top = tarOf([{ name: "zeros", data: new Uint8Array(3_000_000) }]);
      const created = new Date(Date.now() - 2 * 3600_000 - 60_000).toISOString();
      const img = await publish("sz", "1", { layers: [base(rootfs), top], created });
      const unpacked = base(rootfs).length + top.length;
      await berthOk(roots, ["pull", "-q", img.ref]);
      const file = join(work, "sz.tar");
      await berthOk(roots, ["save", "-o", file, img.ref]); // docker-archive: uncompressed tars
      const fresh = await makeRoots();
      try {
        await berthOk(fresh, ["load", "-q", "-i", file]);
        for (const r of [roots, fresh]) {
          const [j] = JSON.parse(await berthOk(r, ["images", "--format", "json"]));
          assertEquals(j.id, img.configDigest);
          assertEquals(j.size, unpacked);
          assertEquals(j.created, created);
          const table = (await berthOk(r, ["images"])).split("\n");
          assert(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/.test(table[0]!), table[0]);
          const want = `${img.configDigest.slice(7, 19)}  2 hours ago  ${
            (unpacked / 1e6).toPrecision(3)
          } MB`;
          assert(table[1]!.replace(/ {2,}/g, "  ").endsWith(want), `${table[1]} / ${want}`);
          const tmpl = await berthOk(r, ["images", "--format", "{{.Created}}|{{.Size}}"]);
          assertEquals(tmpl, `2 hours ago|${(unpacked / 1e6).toPrecision(3)} MB\n`);
        }
        // system df counts the same unpacked sizes.
        const df = JSON.parse(await berthOk(roots, ["system", "df", "--format", "json"]));
        assertEquals(df.find((r: { Type: string }) => r.Type === "Images").RawSize, unpacked);
        // history: the layers' unpacked sizes, newest first (the config has no history).
        const rows = JSON.parse(await berthOk(roots, ["history", "--format", "json", img.ref]));
        assertEquals(rows.map((r: { size: number }) => r.size), [top.length, base(rootfs).length]);
        const hist = (await berthOk(roots, ["history", img.ref])).split("\n");
        assert(/\s3 MB\s*$/.test(hist[1]!), hist[1]);
        // image inspect, podman's shape.
        const [i] = JSON.parse(await berthOk(roots, ["image", "inspect", img.ref]));
        assertEquals(i.Id, img.configDigest.slice(7));
        assertEquals(i.Digest, img.manifestDigest);
        assertEquals(i.RepoTags, [img.ref]);
        assertEquals(i.Created, created);
        assertEquals(i.Size, unpacked);
        assertEquals(i.RootFS, { Type: "layers", Layers: img.diffIds });
        assertEquals(i.History, null); // podman's null for a config without history
        assertEquals(i.ManifestType, "application/vnd.oci.image.manifest.v1+json");
        assertEquals(i.GraphDriver.Data.UpperDir, join(store, "layers", img.chainIds[1]!.slice(7)));
        assertEquals(i.GraphDriver.Data.LowerDir, join(store, "layers", img.chainIds[0]!.slice(7)));
        assertEquals(i.Berth.config.rootfs.diff_ids, img.diffIds);
      } finally {
        await cleanup(fresh);
      }
    });
  },
);
