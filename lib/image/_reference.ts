/**
 * Image references: `[REGISTRY[:PORT]/]NAME[:TAG][@DIGEST]`, normalized as
 * docker does (`docker.io`, `library/` for a single component, `latest`).
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

/** A parsed, normalized image reference. */
export interface ImageRef {
  /** Registry host (and port), e.g. `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/busybox`. */
  repository: string;
  /** Tag; `latest` when neither tag nor digest was given; null with a digest only. */
  tag: string | null;
  /** `sha256:…` when pinned, or null. */
  digest: string | null;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** True for a `sha256:HEX` digest. */
export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** Parses and normalizes `text`; InvalidArgument (exit 2) when malformed. */
export function parseReference(text: string): ImageRef {
  const bad = (why: string) => new InvalidArgument(`invalid image reference "${text}": ${why}`);
  if (text.length === 0 || text.length > 255 + 64) throw bad("empty or too long");
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("the digest must be sha256: and 64 hex digits");
  }
  let tag: string | null = null;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad("malformed tag");
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  const first = parts[0]!;
  if (
    parts.length > 1 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("["))
  ) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) throw bad("malformed registry");
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad("the name must be lowercase components separated by /");
  }
  if (registry === "docker.io" && parts.length === 1) parts.unshift("library");
  const repository = parts.join("/");
  if (repository.length > 255) throw bad("name too long");
  if (tag === null && digest === null) tag = "latest";
  return { registry, repository, tag, digest };
}

/** The canonical name of a reference, e.g. `docker.io/library/busybox:latest`. */
export function formatReference(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag !== null ? `:${r.tag}` : ""}${
    r.digest !== null ? `@${r.digest}` : ""
  }`;
}

/** `REGISTRY/REPOSITORY` without tag or digest. */
export function repositoryOf(r: ImageRef): string {
  return `${r.registry}/${r.repository}`;
}

/**
 * True for a registry on a loopback address (reached over plain HTTP):
 * `localhost`, the whole of 127.0.0.0/8, `::1` and its IPv4-mapped form
 * `::ffff:127.x.y.z`. The host is read by the URL parser `fetch` uses, so
 * what is judged is what would be connected to: `127.1`, `0x7f.1` and
 * `2130706433` are 127.0.0.1, while `127.0.0.1.example.com` or `127.0.0.1a`
 * are names, not addresses, and are not loopback.
 */
export function isLoopbackRegistry(registry: string): boolean {
  let host: string;
  try {
    const url = new URL(`http://${registry}/`);
    if (url.username !== "" || url.password !== "" || url.pathname !== "/") return false;
    host = url.hostname;
  } catch {
    return false;
  }
  if (host === "localhost" || host === "[::1]") return true;
  // The parser writes every IPv4 address as four decimal numbers.
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}
