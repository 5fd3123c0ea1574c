/**
 * node-tar's `UnpackSync` with its per-entry file-system checks made cheap,
 * for unpacking a layer into an empty directory (issue 24: `load` spent
 * three times podman's CPU, most of it here).
 *
 * node-tar 7.5 (since it dropped its directory cache, a CVE fix) makes
 * every entry's parent by `mkdir` of each path component from the root of
 * the extraction, each failing with EEXIST, then `lstat`s the entry's own
 * path, which fails with ENOENT for every new file. Under Deno each failed
 * call builds an error and converts it to node's form (a RegExp over the
 * message): on a Debian-sized image, 55,000 `mkdir` calls and 10,000
 * thrown `lstat`s for 10,800 entries, most of the user CPU of a `load`.
 *
 * This class keeps node-tar's every check and changes only how much they
 * cost:
 *
 * - A directory it has seen made or verified (every component a real
 *   directory, as node-tar's mkdir checks them) is remembered, and a later
 *   entry below it needs no `mkdir`. A directory not yet known whose
 *   parent is known is made by one `mkdir`; anything else (EEXIST, a
 *   symlink, an error) goes to node-tar's own walk, whose answer is
 *   returned unchanged. An entry that is not a directory forgets its own
 *   path and everything below it before node-tar touches it (node-tar
 *   removes a directory a later entry replaces, say by a symlink: nothing
 *   below it is written through what replaced it).
 * - The entry's own path is tested with `faccessat(…, AT_SYMLINK_NOFOLLOW)`
 *   (no exception): when it is absent, node-tar's next step is taken
 *   directly (what its `lstat` failing leads to); when it is there,
 *   node-tar's own check runs.
 *
 * It applies only where node-tar's mkdir would neither chown nor chmod
 * (its umask 0, no `uid`) and paths are not preserved; otherwise it is
 * node-tar's class unchanged. Should node-tar's internals (found by their
 * symbols' names) move, {@linkcode fastUnpackSync} returns node-tar's
 * class unchanged and `fastUnpackSyncActive` says so (a test checks it).
 *
 * @module
 */

import type * as Tar from "tar";
import { dirname, resolve } from "../_std/path.ts";
import { entryAbsent } from "./_ffi.ts";

type UnpackSyncClass = typeof Tar.UnpackSync;

/** The private methods and fields of node-tar's Unpack this class uses, by symbol. */
interface Symbols {
  checkFs: symbol;
  mkdir: symbol;
  makeFs: symbol;
  onError: symbol;
  checkedCwd: symbol;
}

function findSymbols(cls: UnpackSyncClass): Symbols | null {
  const byName = new Map<string, symbol>();
  for (let p = cls.prototype; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const s of Object.getOwnPropertySymbols(p)) {
      if (s.description !== undefined && !byName.has(s.description)) byName.set(s.description, s);
    }
  }
  const checkFs = byName.get("checkFs"), mkdir = byName.get("mkdir");
  const makeFs = byName.get("makeFs"), onError = byName.get("onError");
  if (!checkFs || !mkdir || !makeFs || !onError) return null;
  // checkedCwd is an instance field: found on an instance.
  let checkedCwd: symbol | undefined;
  try {
    const probe = new cls({ cwd: "/" }) as unknown as object;
    checkedCwd = Object.getOwnPropertySymbols(probe).find((s) => s.description === "checkedCwd");
  } catch {
    return null;
  }
  if (checkedCwd === undefined) return null;
  return { checkFs, mkdir, makeFs, onError, checkedCwd };
}

/** The parts of node-tar's entry this class reads. */
interface EntryLike {
  type: string;
  absolute?: string;
}

/** The fields of node-tar's Unpack this class reads. */
interface UnpackFields {
  cwd: string;
  dmode: number;
  processUmask: number;
  uid?: number;
  gid?: number;
  preservePaths: boolean;
  unlink: boolean;
}

/** Forgets `abs` and every directory below it. */
function forget(dirs: Set<string>, abs: string): void {
  if (!dirs.delete(abs)) return;
  const below = abs + "/";
  for (const d of dirs) if (d.startsWith(below)) dirs.delete(d);
}

let made: { cls: UnpackSyncClass; active: boolean } | null = null;

/**
 * node-tar's `UnpackSync` with the cheap checks above (made once), or
 * node-tar's own class where its internals are not found.
 */
export function fastUnpackSync(tar: { UnpackSync: UnpackSyncClass }): UnpackSyncClass {
  return make(tar).cls;
}

/** Whether {@linkcode fastUnpackSync} found node-tar's internals (false: it is node-tar's class). */
export function fastUnpackSyncActive(tar: { UnpackSync: UnpackSyncClass }): boolean {
  return make(tar).active;
}

function make(tar: { UnpackSync: UnpackSyncClass }): { cls: UnpackSyncClass; active: boolean } {
  if (made !== null) return made;
  const base = tar.UnpackSync;
  const sym = findSymbols(base);
  if (sym === null) return made = { cls: base, active: false };
  const { checkFs, mkdir, makeFs, onError, checkedCwd } = sym;

  // deno-lint-ignore no-explicit-any
  const Base = base as unknown as new (...a: any[]) => any;
  class FastUnpackSync extends Base {
    /** Real directories made or verified by this unpack (absolute paths). */
    #dirs: Set<string>;
    #on: boolean | null = null;

    constructor(opt: Record<string, unknown>) {
      // The caller's filter may act on the disk itself (refuse an entry, make it otherwise):
      // every non-directory entry's path is forgotten before the filter sees it.
      const dirs = new Set<string>();
      const cwd = resolve(typeof opt.cwd === "string" ? opt.cwd : Deno.cwd());
      const filter = opt.filter as ((p: string, e: EntryLike) => boolean) | undefined;
      super({
        ...opt,
        filter: (p: string, e: EntryLike) => {
          if (e.type !== "Directory" && e.type !== "GNUDumpDir") {
            forget(dirs, resolve(cwd, p.replace(/^\/+/, "")));
          }
          return filter === undefined ? true : filter(p, e);
        },
      });
      this.#dirs = dirs;
    }

    /** Whether node-tar's mkdir would only mkdir here (no chown, no chmod, no preserved paths). */
    #enabled(): boolean {
      if (this.#on === null) {
        const f = this as unknown as UnpackFields;
        this.#on = f.processUmask === 0 && typeof f.uid !== "number" &&
          typeof f.gid !== "number" && !f.preservePaths && !f.unlink;
      }
      return this.#on;
    }

    #forget(abs: string): void {
      forget(this.#dirs, abs);
    }

    [mkdir](dir: string, mode: number): unknown {
      if (!this.#enabled()) return super[mkdir](dir, mode);
      const dirs = this.#dirs;
      if (dirs.has(dir)) return undefined;
      const cwd = (this as unknown as UnpackFields).cwd;
      const parent = dirname(dir);
      if (dir !== cwd && dir.startsWith(cwd + "/") && (parent === cwd || dirs.has(parent))) {
        try {
          Deno.mkdirSync(dir, { mode: mode | 0o700 });
          dirs.add(dir);
          return undefined;
        } catch { /* there already, or an error: node-tar's walk decides */ }
      }
      const er = super[mkdir](dir, mode);
      if (er) return er;
      let st: Deno.FileInfo | null = null;
      try {
        st = Deno.lstatSync(dir);
      } catch { /* not there: not remembered */ }
      // node-tar's walk succeeded: every component above is a real directory (it returns an
      // error for a symlink or a file there), and the last one is when lstat says so.
      if (st?.isDirectory && (dir === cwd || dir.startsWith(cwd + "/"))) {
        for (let d = dir; d !== cwd && d.length > cwd.length; d = dirname(d)) dirs.add(d);
      }
      return undefined;
    }

    [checkFs](entry: EntryLike): unknown {
      const abs = entry.absolute;
      const cwd = (this as unknown as UnpackFields).cwd;
      if (typeof abs !== "string" || !this.#enabled()) return super[checkFs](entry);
      // node-tar removes what is at a path a non-directory entry takes, a directory included.
      if (entry.type !== "Directory" && entry.type !== "GNUDumpDir") this.#forget(abs);
      if (!this[checkedCwd] || abs === cwd) return super[checkFs](entry);
      // deno-lint-ignore no-explicit-any
      const self = this as unknown as Record<symbol, (...a: any[]) => unknown>;
      const parent = dirname(abs);
      if (parent !== cwd) {
        const er = self[mkdir]!(parent, (this as unknown as UnpackFields).dmode);
        if (er) return self[onError]!(er, entry);
      }
      // node-tar: lstat fails → make it. Otherwise its own check (the parent is known now).
      if (entryAbsent(abs)) return self[makeFs]!(null, entry);
      return super[checkFs](entry);
    }
  }
  return made = { cls: FastUnpackSync as unknown as UnpackSyncClass, active: true };
}
