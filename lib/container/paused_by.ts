/**
 * A pause that belongs to a process (`commit` pauses a running container
 * while it reads its files, lib/ops/commit.ts): the state's `pausedBy`
 * names that process. Once it is dead, nobody will resume the container,
 * so whoever holds its lock next does (lib/ops/repair.ts).
 *
 * @module
 */

import { liveness } from "../host/proc.ts";
import type { ContainerState } from "./state_file.ts";

/** True when `s` records a pause whose process is dead (killed mid-commit). */
export function pauseAbandoned(s: ContainerState): boolean {
  const by = s.pausedBy;
  if (by === undefined || by === null) return false;
  return liveness(by.pid, by.pidStartTime) !== "alive";
}
