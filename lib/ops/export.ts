/**
 * `berth export`: a container's merged root file system (its overlay as
 * the container sees it, stopped or running; volumes and binds are not in
 * it) as a plain tar, to a file (written as `.FILE.tmp-PID-RAND` beside it,
 * fsync'd and renamed in: a failed or killed export never leaves a partial
 * FILE; the next export there removes a dead one's temp) or to stdout. The
 * container's lock is held meanwhile, so it is not removed under the export.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import { syncDir } from "../host/atomic_file.ts";
import { BerthError, isNotFound, RuntimeError, WrongState } from "../host/errors.ts";
import { mountPoints } from "../host/mounts.ts";
import { treeTar } from "../image/layer_diff.ts";
import { loadNode } from "../image/node.ts";
import { resolveExisting } from "./orphans.ts";
import { withLoaded } from "./reconcile.ts";

/** Removes `.NAME.tmp-PID-RAND` files of dead processes beside `file`. */
function removeDeadTemps(file: string): void {
  const prefix = `.${basename(file)}.tmp-`;
  let names: string[];
  try {
    names = [...Deno.readDirSync(dirname(file))].map((e) => e.name);
  } catch {
    return;
  }
  for (const n of names) {
    const m = n.startsWith(prefix) ? /^(\d+)-[0-9a-f]{8}$/.exec(n.slice(prefix.length)) : null;
    if (m === null || Number(m[1]) === Deno.pid) continue;
    try {
      Deno.statSync(`/proc/${m[1]}`);
      continue; // alive
    } catch { /* dead */ }
    try {
      Deno.removeSync(join(dirname(file), n));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Writes `chunks` whole to `f`. */
async function writeAll(
  f: { write(b: Uint8Array): Promise<number> },
  chunks: AsyncIterable<Uint8Array>,
) {
  for await (const c of chunks) {
    for (let off = 0; off < c.length;) off += await f.write(c.subarray(off));
  }
}

/** Exports container `ref`'s root to `output` (null: stdout). */
export async function exportContainer(
  ctx: Context,
  ref: string,
  output: string | null,
): Promise<void> {
  const id = await resolveExisting(ctx, ref);
  await loadNode();
  await withLoaded(ctx, id, async (s) => {
    if (!(await mountPoints()).includes(s.rootfs)) {
      throw new WrongState(`cannot export "${ref}": its root file system is not mounted`);
    }
    if (output === null) return await writeAll(Deno.stdout, treeTar(s.rootfs, "tree"));
    const path = resolve(output);
    removeDeadTemps(path);
    const tmp = join(
      dirname(path),
      `.${basename(path)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
    );
    let file: Deno.FsFile | null = null;
    try {
      file = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o644 });
      await writeAll(file, treeTar(s.rootfs, "tree"));
      file.syncSync();
      file.close();
      file = null;
      Deno.renameSync(tmp, path);
      await syncDir(dirname(path));
    } catch (err) {
      file?.close();
      try {
        Deno.removeSync(tmp);
      } catch { /* not made, or gone */ }
      if (err instanceof BerthError) throw err;
      throw new RuntimeError(`cannot write ${output}: ${(err as Error).message}`);
    }
  });
}
