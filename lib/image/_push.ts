/**
 * `push`: an image of the store to a registry, by the OCI distribution
 * spec. For the config and each layer: a HEAD of the blob at the
 * destination (present: skipped); else a cross-repository mount when an
 * image of the store with that blob is named in another repository of the
 * same registry ({@linkcode mountSources}; `POST
 * …/blobs/uploads/?mount=DIGEST&from=REPO`); else an upload, following
 * each `Location`:
 * - a blob up to {@linkcode MONOLITHIC_MAX} in one PUT;
 * - a larger one streamed from its file in one PATCH (chunked transfer
 *   encoding, no copy of it held: docker's and skopeo's way), then a
 *   closing PUT; a registry that refuses that for its missing length (411)
 *   gets 16 MiB chunks with `Content-Range` and `Content-Length` instead;
 * - with `BERTH_PUSH_CHUNK_SIZE` set, a blob up to that size in one PUT and
 *   a larger one in PATCHed chunks of it (`Content-Range`,
 *   `Content-Length`), for registries that want them.
 *
 * A failed PATCH resumes from the registry's reported `Range`. Then the
 * manifest, the very bytes pulled
 * (so its digest is unchanged), under its media type. The blobs sent are
 * the ones kept at pull or load time (`_stored_image.ts`), byte for byte.
 *
 * A push writes nothing locally: killed at any point it leaves no file.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { InvalidArgument, RuntimeError } from "../host/errors.ts";
import { authFilePath, lookupCredentials } from "./_auth.ts";
import { readLimited } from "./_body_limits.ts";
import { formatReference, type ImageRef, parseReference } from "./_reference.ts";
import { oneLine, RegistryClient, type Transport } from "./_registry.ts";
import { registryLimitsOf } from "./_registry_limits.ts";
import { storeOf } from "./_local.ts";
import { openStoredImage } from "./_stored_image.ts";
import type { ImageRecord } from "./_store.ts";

/**
 * Blobs up to this size go in one PUT, held in memory (Deno's `fetch`
 * copies such a body once more); larger ones are streamed. On loopback a
 * streamed 31 MB blob went up in 125 ms against 175 ms as one body, with
 * 0.3 % of its page faults; below 4 MiB the PATCH's extra round trip
 * costs more than the copy saves on any but a local link.
 */
export const MONOLITHIC_MAX = 4 << 20;

/** The chunk size after a registry refused a streamed PATCH for its missing length. */
export const LENGTH_REQUIRED_CHUNK = 16 << 20;

/** What a streamed body reads at a time (under malloc's mmap threshold). */
const STREAM_PIECE = 64 << 10;

/** Options of {@linkcode pushImage}. */
export interface PushOptions {
  insecure?: boolean;
  transport?: Transport;
  /** One line per blob (what was done with it). */
  log?: (line: string) => void;
}

/** What a push did. */
export interface PushResult {
  /** The manifest's digest (as pulled). */
  digest: string;
  /** Where it went (`REGISTRY/NAME:TAG`). */
  dest: string;
  present: number;
  mounted: number;
  uploaded: number;
}

/** A blob to send: its digest, size, and a reader of a range of it. */
interface Blob {
  digest: string;
  size: number;
  read(offset: number, length: number): Uint8Array;
}

/** `BERTH_PUSH_CHUNK_SIZE` (bytes, for registries that want chunks, and tests), or null. */
function chunkSizeOf(env: (k: string) => string | undefined): number | null {
  const v = env("BERTH_PUSH_CHUNK_SIZE");
  if (v === undefined || v === "") return null;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgument(`BERTH_PUSH_CHUNK_SIZE must be a whole number of bytes, not "${v}"`);
  }
  return n;
}

/** A one-line reason from a registry's error body (`{"errors":[{code,message}]}`). */
async function reason(res: Response, timeoutMs: number): Promise<string> {
  let text = "";
  try {
    const bytes = await readLimited(res.body, {
      what: "error body",
      maxBytes: 16 << 10,
      deadlineMs: timeoutMs,
    });
    text = new TextDecoder().decode(bytes);
    const v = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = v.errors?.[0];
    if (e !== undefined) text = [e.code, e.message].filter((x) => x).join(": ");
  } catch { /* the text as it came, or none */ }
  return text === "" ? "" : `: ${oneLine(text)}`;
}

/** At most this many repositories are asked to lend blobs (each is a scope of the token). */
const MAX_MOUNT_SOURCES = 8;

/**
 * Where each blob of `rec` may be mounted from at `to`'s registry: a
 * repository there, other than `to`'s, named by an image of the store that
 * has the blob (it was pulled from there, or pushed there): the pushed
 * image's own names first, then the others' (an image built FROM a base
 * pulled from the same registry lends the base's layers). A repository
 * that turns out not to hold the blob costs nothing: the registry then
 * starts an upload instead.
 */
export function mountSources(
  rec: ImageRecord,
  all: ImageRecord[],
  to: ImageRef,
): Map<string, string> {
  const wanted = new Set([rec.id, ...rec.layers.map((l) => l.digest)]);
  const out = new Map<string, string>();
  const repos = new Set<string>();
  for (const r of [rec, ...all.filter((x) => x.id !== rec.id)]) {
    const repo = r.names.map((n) => {
      try {
        const ref = parseReference(n);
        return ref.registry === to.registry && ref.repository !== to.repository
          ? ref.repository
          : null;
      } catch {
        return null;
      }
    }).find((x) => x !== null);
    if (repo === undefined || (!repos.has(repo) && repos.size >= MAX_MOUNT_SOURCES)) continue;
    for (const d of [r.id, ...r.layers.map((l) => l.digest)]) {
      if (wanted.has(d) && !out.has(d)) {
        out.set(d, repo);
        repos.add(repo);
      }
    }
  }
  return out;
}

/** Pushes image `image` (a reference or an ID) to `dest` (default: its own name). */
export async function pushImage(
  ctx: Context,
  image: string,
  dest: string | null,
  o: PushOptions = {},
): Promise<PushResult> {
  const store = storeOf(ctx);
  const rec = store.get(image);
  let destText = dest?.replace(/^docker:\/\//, "") ?? null;
  if (destText === null) {
    let own: string | null = null;
    try {
      own = formatReference(parseReference(image));
    } catch { /* an ID */ }
    destText = own !== null && rec.names.includes(own) ? own : rec.names[0] ?? null;
    if (destText === null) {
      throw new InvalidArgument(`push: image "${image}" has no name: give DEST`);
    }
  }
  const to: ImageRef = parseReference(destText);
  const chunkSize = chunkSizeOf(ctx.env);
  const img = openStoredImage(store, rec, "push");
  try {
    const sources = mountSources(rec, store.list(), to);
    const fromRepos = [...new Set(sources.values())];
    const client = new RegistryClient(to, {
      ...registryLimitsOf(ctx.env),
      credentials: lookupCredentials(
        to.registry,
        authFilePath(ctx.paths.dataRoot, ctx.env),
        ctx.env,
      ),
      scopes: [
        `repository:${to.repository}:pull,push`,
        ...fromRepos.map((r) => `repository:${r}:pull`),
      ],
      ...(o.insecure === true ? { insecure: true } : {}),
      ...(o.transport !== undefined ? { transport: o.transport } : {}),
    });
    const name = `${to.registry}/${to.repository}`;
    const blobs: Blob[] = [
      {
        digest: rec.id,
        size: img.configBytes.length,
        read: (off, len) => img.configBytes.slice(off, off + len),
      },
      ...img.layers.map((l) => ({
        digest: l.digest,
        size: l.size,
        read: (off: number, len: number) => {
          const buf = new Uint8Array(len);
          l.file.seekSync(off, Deno.SeekMode.Start);
          for (let got = 0; got < len;) {
            const n = l.file.readSync(buf.subarray(got));
            if (n === null) throw new RuntimeError(`layer ${l.digest}: the stored blob is short`);
            got += n;
          }
          return buf;
        },
      })),
    ];
    // Largest first: the longest upload starts at once instead of last
    // (a 5-round A/B on a 7-layer, 70 MB image: 388 against 447 ms).
    const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()]
      .sort((a, b) => b.size - a.size);
    const result = { present: 0, mounted: 0, uploaded: 0 };
    const pusher = new BlobPusher(client, name, chunkSize);
    const done = (b: Blob, how: "present" | "mounted" | "uploaded") => {
      result[how]++;
      o.log?.(
        `${b.digest.slice(0, 19)}: ${
          how === "present"
            ? "already there"
            : how === "mounted"
            ? `mounted from ${sources.get(b.digest)}`
            : "uploaded"
        }`,
      );
      crashPoint(ctx.crashAt, "push:blob");
    };
    // Every blob is asked about at once (HEADs are cheap: one round trip
    // for an image the registry has); the missing ones go up 3 at a time.
    const has = await Promise.all(unique.map((b) => pusher.has(b)));
    const missing = unique.filter((b, i) => {
      if (has[i]) done(b, "present");
      return !has[i];
    });
    let next = 0;
    const worker = async () => {
      while (next < missing.length) {
        const b = missing[next++]!;
        done(b, await pusher.send(b, sources.get(b.digest) ?? null));
      }
    };
    await Promise.all(Array.from({ length: Math.min(3, missing.length) }, worker));
    const reference = to.tag ?? to.digest!;
    if (to.digest !== null && to.digest !== rec.manifestDigest) {
      throw new InvalidArgument(
        `push: DEST names digest ${to.digest}, the image's manifest is ${rec.manifestDigest}`,
      );
    }
    const res = await client.request(`/v2/${to.repository}/manifests/${reference}`, {
      method: "PUT",
      headers: { "Content-Type": img.manifestType },
      body: img.manifestBytes,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw await pushErrorOf(name, `manifest: HTTP ${res.status}`, res, client.timeoutMs);
    }
    await res.body?.cancel();
    return { digest: rec.manifestDigest, dest: formatReference(to), ...result };
  } finally {
    img.close();
  }
}

/** A one-line error for a failed request (`access denied` for 401/403). */
async function pushErrorOf(
  name: string,
  what: string,
  res: Response,
  timeoutMs: number,
): Promise<RuntimeError> {
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    return new RuntimeError(
      `cannot push to ${name}: access denied (berth login ${name.split("/")[0]})`,
    );
  }
  return new RuntimeError(`cannot push to ${name}: ${what}${await reason(res, timeoutMs)}`);
}

/** Uploads blobs to one repository. */
class BlobPusher {
  constructor(
    readonly client: RegistryClient,
    readonly name: string,
    /**
     * Null: streamed PATCHes above {@linkcode MONOLITHIC_MAX}, until the
     * registry refuses one for its missing length (411): chunks of
     * {@linkcode LENGTH_REQUIRED_CHUNK} from then on.
     */
    private chunkSize: number | null,
  ) {}

  async #fail(what: string, res: Response): Promise<never> {
    throw await pushErrorOf(this.name, what, res, this.client.timeoutMs);
  }

  /** True when the registry has `b` (a HEAD of it). */
  async has(b: Blob): Promise<boolean> {
    const repo = this.client.repository;
    const head = await this.client.request(`/v2/${repo}/blobs/${b.digest}`, { method: "HEAD" });
    await head.body?.cancel();
    if (head.ok) return true;
    if (head.status !== 404) await this.#fail(`blob ${b.digest}: HTTP ${head.status}`, head);
    return false;
  }

  /** Gives the registry `b`, which it lacks: mounted from `from`, or uploaded. */
  async send(b: Blob, from: string | null): Promise<"mounted" | "uploaded"> {
    const repo = this.client.repository;
    const q = from !== null ? `?mount=${b.digest}&from=${encodeURIComponent(from)}` : "";
    const start = await this.client.request(`/v2/${repo}/blobs/uploads/${q}`, { method: "POST" });
    if (start.status === 201) {
      await start.body?.cancel();
      return "mounted";
    }
    if (from !== null && (start.status === 401 || start.status === 403)) {
      // The token does not cover the source (the server granted only some
      // scopes): upload it, as docker does after a failed mount.
      await start.body?.cancel();
      return await this.send(b, null);
    }
    if (start.status !== 202) await this.#fail(`blob upload: HTTP ${start.status}`, start);
    await start.body?.cancel();
    const location = start.headers.get("location");
    if (location === null) {
      throw new RuntimeError(`cannot push to ${this.name}: no upload location`);
    }
    await this.#upload(b, location);
    return "uploaded";
  }

  /** The digest added to an upload URL (keeping its own query, e.g. `_state`). */
  #withDigest(location: string, digest: string): string {
    const u = new URL(location, this.client.base);
    u.searchParams.set("digest", digest);
    return u.href;
  }

  async #upload(b: Blob, location: string): Promise<void> {
    if (b.size <= (this.chunkSize ?? MONOLITHIC_MAX)) {
      const res = await this.client.request(this.#withDigest(location, b.digest), {
        method: "PUT",
        headers: { "Content-Type": "application/octet-stream" },
        body: b.read(0, b.size),
      });
      if (res.status !== 201) await this.#fail(`blob ${b.digest}: HTTP ${res.status}`, res);
      await res.body?.cancel();
      return;
    }
    let offset = 0;
    let failures = 0;
    while (offset < b.size) {
      const len = Math.min(this.chunkSize ?? Infinity, b.size - offset);
      let res: Response | null = null;
      let why = "";
      try {
        const from = offset;
        res = await this.client.request(location, {
          method: "PATCH",
          headers: {
            "Content-Type": "application/octet-stream",
            // A streamed upload's first PATCH carries no range (as
            // docker's); a resumed one names where it goes on.
            ...(this.chunkSize !== null || offset > 0
              ? { "Content-Range": `${offset}-${offset + len - 1}` }
              : {}),
          },
          ...(this.chunkSize !== null
            ? { body: b.read(offset, len) }
            : { stream: (progress: () => void) => streamOf(b, from, progress) }),
          retry: false,
        });
      } catch (err) {
        why = (err as Error).message;
      }
      if (res !== null && res.status === 411 && this.chunkSize === null) {
        // It wants each PATCH's length (it took nothing): chunks with one.
        await res.body?.cancel();
        this.chunkSize = LENGTH_REQUIRED_CHUNK;
        continue;
      }
      if (res !== null && res.status === 202) {
        await res.body?.cancel();
        location = res.headers.get("location") ?? location;
        offset = rangeEnd(res.headers.get("range")) ?? offset + len;
        continue;
      }
      if (res !== null) {
        if (res.status === 401 || res.status === 403) await this.#fail("", res);
        why = `HTTP ${res.status}${await reason(res, this.client.timeoutMs)}`;
      }
      if (++failures > 5) {
        throw new RuntimeError(
          `cannot push to ${this.name}: blob ${b.digest}: chunk at ${offset}: ${why}`,
        );
      }
      // Ask the registry how much it has and go on from there; a registry
      // that no longer knows the upload (distribution forgets one whose
      // state token went stale with a lost answer) gets a new one.
      const st = await this.client.request(location, { method: "GET" });
      await st.body?.cancel();
      if (st.status === 204) {
        location = st.headers.get("location") ?? location;
        offset = rangeEnd(st.headers.get("range")) ?? 0;
        continue;
      }
      const again = await this.client.request(`/v2/${this.client.repository}/blobs/uploads/`, {
        method: "POST",
      });
      await again.body?.cancel();
      const next = again.headers.get("location");
      if (again.status !== 202 || next === null) {
        await this.#fail(`blob upload: HTTP ${again.status}`, again);
      }
      location = next!;
      offset = 0;
    }
    const res = await this.client.request(this.#withDigest(location, b.digest), {
      method: "PUT",
    });
    if (res.status !== 201) await this.#fail(`blob ${b.digest}: HTTP ${res.status}`, res);
    await res.body?.cancel();
  }
}

/**
 * `b` from `offset` to its end, read {@linkcode STREAM_PIECE} at a time as
 * the request sends it (each read calls `progress`).
 */
function streamOf(b: Blob, offset: number, progress: () => void): ReadableStream<Uint8Array> {
  let at = offset;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= b.size) {
        c.close();
        return;
      }
      const piece = b.read(at, Math.min(STREAM_PIECE, b.size - at));
      at += piece.length;
      progress();
      c.enqueue(piece);
    },
  }, { highWaterMark: 0 });
}

/** The next offset from a `Range: 0-N` header (N+1), or null when absent or malformed. */
export function rangeEnd(header: string | null): number | null {
  const m = header === null ? null : /^(?:bytes=)?0-(\d+)$/.exec(header.trim());
  return m === null ? null : Number(m[1]) + 1;
}
