/**
 * `network connect NET NAME` and `network disconnect NET NAME`: a
 * container with a bridge network of its own gains or loses an interface
 * on another network (eth1, eth2, ...), under the container's lock. See
 * `connectNetwork` and `disconnectNetwork` (lib/network/mod.ts) for
 * the order that lets gc repair a kill at any instant.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { connectNetwork, disconnectNetwork } from "../network/mod.ts";
import { withLoaded } from "./reconcile.ts";

/** Connects container `id` (exact ID) to `network`; returns its address there. */
export async function networkConnect(ctx: Context, id: string, network: string): Promise<string> {
  return await withLoaded(ctx, id, (s) => connectNetwork(ctx, s, network, () => ctx.store.save(s)));
}

/** Disconnects container `id` (exact ID) from `network` (one it was connected to later). */
export async function networkDisconnect(ctx: Context, id: string, network: string): Promise<void> {
  await withLoaded(ctx, id, (s) => disconnectNetwork(ctx, s, network, () => ctx.store.save(s)));
}
