/**
 * OCI chain IDs: a layer's identity together with every layer below it
 * (`ChainID(L0) = DiffID(L0)`, `ChainID(Ln) = sha256(ChainID(Ln-1) + " " +
 * DiffID(Ln))`). The store keys unpacked layers by it, because what an
 * unpacked layer holds depends on the layers below: its implicit
 * directories take their modes and owners from them (`_implicit_dirs.ts`).
 * A layer shared by images on different bases is unpacked once per base;
 * the bottom layer's chain ID is its diff_id, so base layers are shared as
 * before.
 *
 * @module
 */

import { sha256Of } from "./_verify.ts";

/** The chain IDs of `diffIds` (bottom first), in the same order. */
export async function chainIds(diffIds: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of diffIds) {
    const parent = out[out.length - 1];
    out.push(
      parent === undefined ? d : await sha256Of(new TextEncoder().encode(`${parent} ${d}`)),
    );
  }
  return out;
}
