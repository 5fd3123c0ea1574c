/**
 * POSIX path helpers: the stand-in for `@std/path` (`join`, `normalize`,
 * `resolve`, `dirname`, `basename`). JSR is unreachable from where berth is
 * built, and `node:path` is no substitute on the start-up path: any `node:`
 * import initialises Deno's Node compatibility layer, which costs about 6 ms
 * per command (see BENCHMARKS.md).
 *
 * @module
 */

/** Normalises `.`/`..` and repeated slashes of an absolute or relative path. */
export function normalize(path: string): string {
  const abs = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
      continue;
    }
    out.push(part);
  }
  const joined = out.join("/");
  return abs ? "/" + joined : joined || ".";
}

/** Joins path segments and normalises the result. */
export function join(...parts: string[]): string {
  return normalize(parts.filter((p) => p !== "").join("/"));
}

/** Resolves segments against the working directory, right to left. */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= 0 && !path.startsWith("/"); i--) {
    const p = parts[i]!;
    if (p !== "") path = path === "" ? p : `${p}/${path}`;
  }
  if (!path.startsWith("/")) path = `${Deno.cwd()}/${path}`;
  return normalize(path);
}

/** The directory part of `path`. */
export function dirname(path: string): string {
  const p = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const i = p.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return p.slice(0, i);
}

/** The last segment of `path`. */
export function basename(path: string): string {
  const p = path.length > 1 ? path.replace(/\/+$/, "") : path;
  return p.slice(p.lastIndexOf("/") + 1);
}

/** The file path of a `file:` URL. */
export function fromFileUrl(url: URL | string): string {
  const u = typeof url === "string" ? new URL(url) : url;
  if (u.protocol !== "file:") throw new TypeError(`not a file URL: ${u.href}`);
  return decodeURIComponent(u.pathname);
}
