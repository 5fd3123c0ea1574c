/**
 * CNI plugins that outlive the berth that started them. A plugin is a
 * process of its own: when berth is killed during an ADD, the plugin it
 * was running goes on and finishes (the bridge plugin makes the veth, the
 * address and the masquerade). A rollback's DEL running meanwhile finds
 * nothing yet and succeeds, and what the ADD then makes outlives the
 * attachment. So a tear-down first waits (bounded) for the plugins of its
 * container ID to end: they carry it in their environment
 * (`CNI_CONTAINERID`), and so do the processes they start (host-local,
 * iptables).
 *
 * @module
 */

import { pidsWithEnv } from "../host/proc.ts";

/** How long a tear-down waits for another process's plugins of its container. */
export const ORPHAN_PLUGIN_WAIT_MS = 10_000;

/**
 * Waits until no process has `CNI_CONTAINERID=containerId` (the caller
 * runs none of its own for it now), at most `timeoutMs`. True when none is
 * left.
 */
export async function waitForOrphanPlugins(
  containerId: string,
  timeoutMs = ORPHAN_PLUGIN_WAIT_MS,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    if (pidsWithEnv("CNI_CONTAINERID", containerId).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}
