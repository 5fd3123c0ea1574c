/**
 * `berth export`: a container's merged root file system (its overlay as
 * the container sees it, stopped or running; volumes and binds are not in
 * it) as a plain tar, to a file (written as `.FILE.tmp-PID-RAND` beside it,
 * fsync'd and renamed in, `writeBeside` in lib/host/atomic_file.ts: a
 * failed or killed export never leaves a partial FILE; the next export
 * there or `berth gc` removes a killed one's temp) or to stdout. The
 * container's lock is held meanwhile, so it is not removed under the export.
 *
 * @module
 */

import { resolve } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { writeBeside } from "../host/atomic_file.ts";
import { WrongState } from "../host/errors.ts";
import { mountPoints } from "../host/mounts.ts";
import { loadNode, treeTar } from "../image/mod.ts";
import { resolveExisting } from "./orphans.ts";
import { withLoaded } from "./reconcile.ts";

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
    await writeBeside(
      resolve(output),
      output,
      (file) => writeAll(file, treeTar(s.rootfs, "tree")),
      {
        journal: ctx.paths.outputsJournal,
        onWritten: () => crashPoint(ctx.crashAt, "export:written"),
      },
    );
  });
}
