/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8)
 * on 127.0.0.1 with filesystem storage in a temp dir, always with our own
 * config; optionally behind a tiny Bearer-token proxy (also in the test).
 * Images are pushed with `skopeo copy` from OCI layouts.
 */

import { join } from "../lib/_std/path.ts";

/** A running registry. */
export interface Registry {
  /** `127.0.0.1:PORT` (the host part of references). */
  host: string;
  storage: string;
  /** The registry's access log so far. */
  log(): string;
  stop(): Promise<void>;
}

/** True when the registry and skopeo are installed (else the tests skip). */
export function haveRegistryTools(): boolean {
  for (const tool of ["docker-registry", "skopeo"]) {
    if (!onPath(tool)) {
      console.log(`skipping image tests: ${tool} is not installed (scripts/setup.sh installs it)`);
      return false;
    }
  }
  return true;
}

/** True when `tool` is a file in a directory of $PATH (as the tests run it by name). */
function onPath(tool: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(":");
  return dirs.some((d) => {
    try {
      return d !== "" && Deno.statSync(join(d, tool)).isFile;
    } catch {
      return false;
    }
  });
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * The test certificate (registry.test and 127.0.0.1, issued by a test CA no
 * system trusts; the CA's key was thrown away) and its key.
 */
export const TEST_TLS = {
  ca: new URL("./fixtures/tls/ca.pem", import.meta.url).pathname,
  cert: new URL("./fixtures/tls/cert.pem", import.meta.url).pathname,
  key: new URL("./fixtures/tls/key.pem", import.meta.url).pathname,
};

/** Starts a registry on a free loopback port (over HTTPS with the test certificate when `tls`). */
export async function startRegistry(o: { tls?: boolean } = {}): Promise<Registry> {
  const dir = await Deno.makeTempDir({ prefix: "berth-registry-" });
  const storage = join(dir, "storage");
  const logPath = join(dir, "log");
  for (let attempt = 0;; attempt++) {
    const port = freePort();
    Deno.writeTextFileSync(
      join(dir, "config.yml"),
      [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: false",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${storage}`,
        "http:",
        `  addr: 127.0.0.1:${port}`,
        ...(o.tls
          ? ["  tls:", `    certificate: ${TEST_TLS.cert}`, `    key: ${TEST_TLS.key}`]
          : []),
        "",
      ].join("\n"),
    );
    Deno.writeTextFileSync(logPath, "");
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'exec docker-registry serve "$1" >>"$2" 2>&1',
        "sh",
        join(dir, "config.yml"),
        logPath,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const host = `127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    let up = false;
    // Over TLS, a client that trusts the test certificate asks.
    using client = o.tls
      ? Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(TEST_TLS.ca)] })
      : null;
    while (Date.now() < deadline) {
      try {
        const r = client === null
          ? await fetch(`http://${host}/v2/`)
          : await fetch(`https://${host}/v2/`, { client });
        await r.body?.cancel();
        if (r.status === 200) {
          up = true;
          break;
        }
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    const stop = async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    };
    if (!up) {
      await stop();
      if (attempt < 3) continue;
      throw new Error(`the registry did not start: ${Deno.readTextFileSync(logPath)}`);
    }
    return {
      host,
      storage,
      log: () => Deno.readTextFileSync(logPath),
      stop: async () => {
        await stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  }
}

/** Pushes image `tag` of the OCI layout `layout` to `dest` (`HOST/NAME:TAG`). */
export async function push(
  layout: string,
  tag: string,
  dest: string,
  extra: string[] = [],
): Promise<void> {
  const r = await new Deno.Command("skopeo", {
    args: [
      "copy",
      "--quiet",
      "--dest-tls-verify=false",
      ...extra,
      `oci:${layout}:${tag}`,
      `docker://${dest}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.code !== 0) throw new Error(`skopeo copy failed: ${new TextDecoder().decode(r.stderr)}`);
}

/** GET requests the registry logged for `path` (e.g. `/v2/app/blobs/sha256:…`). */
export function countGets(log: string, path: string): number {
  return log.split("\n").filter((l) => l.includes(`"GET ${path} `)).length;
}

/** The file the registry stores blob `digest` in. */
export function blobFile(storage: string, digest: string): string {
  const hex = digest.slice(7);
  return join(storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
}

/**
 * A Bearer-token proxy in front of `upstream`: `/token` issues a token for
 * Basic `user:password`; every other request needs `Authorization: Bearer
 * TOKEN` (else 401 with the challenge) and is forwarded.
 */
export function tokenProxy(
  upstream: string,
  user: string,
  password: string,
): { host: string; tokensIssued: () => number; stop: () => Promise<void> } {
  const token = crypto.randomUUID();
  let issued = 0;
  const ac = new AbortController();
  let host = "";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/token") {
        if (req.headers.get("authorization") !== `Basic ${btoa(`${user}:${password}`)}`) {
          return new Response("denied", { status: 401 });
        }
        issued++;
        return Response.json({ token });
      }
      if (req.headers.get("authorization") !== `Bearer ${token}`) {
        return new Response("unauthorized", {
          status: 401,
          headers: {
            "www-authenticate":
              `Bearer realm="http://${host}/token",service="test-registry",scope="repository:x:pull"`,
          },
        });
      }
      const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, {
        headers: { accept: req.headers.get("accept") ?? "*/*" },
        redirect: "manual",
      });
      return new Response(res.body, { status: res.status, headers: res.headers });
    },
  );
  host = `127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  return {
    host,
    tokensIssued: () => issued,
    stop: async () => {
      ac.abort();
      await server.finished;
    },
  };
}
