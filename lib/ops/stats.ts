/**
 * `stats`: what each live container uses, read from its cgroup (v1 or v2,
 * see limits/_cgroup.ts) and, for network I/O, from its init's
 * `/proc/PID/net/dev`. CPU % is the CPU time used between two readings
 * over the wall time between them (100% = one CPU busy).
 *
 * @module
 */

import { isLive } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { type CgroupSample, netIo, sampleCgroup } from "../limits/mod.ts";
import type { ContainerState } from "../container/state_file.ts";
import { nameOf } from "../container/names.ts";

/** One container's figures. */
export interface ContainerStats {
  id: string;
  /** The name it answers to (its ID unless renamed). */
  name: string;
  status: string;
  /** CPU use since the previous reading, in % of one CPU (null: unknown). */
  cpuPercent: number | null;
  memoryUsage: number | null;
  /** The memory limit, or the host's memory when the container has none. */
  memoryLimit: number | null;
  memoryPercent: number | null;
  pids: number | null;
  pidsLimit: number | null;
  blockRead: number | null;
  blockWrite: number | null;
  netRx: number | null;
  netTx: number | null;
}

/** A reading of one container, kept to compute the next CPU %. */
export interface Reading {
  at: number;
  sample: CgroupSample;
}

/** The host's memory in bytes (the "limit" of a container that has none). */
export function hostMemory(): number | null {
  try {
    const m = /^MemTotal:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/meminfo"));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

/**
 * Reads `s`'s cgroup now; `previous` (same container) gives the CPU %.
 * A stopped container reads as all unknown.
 */
export function readStats(
  ctx: Context,
  s: ContainerState,
  previous: Reading | undefined,
  now: number,
): { stats: ContainerStats; reading: Reading | undefined } {
  if (!isLive(s)) {
    return {
      stats: {
        id: s.id,
        name: nameOf(s),
        status: s.status,
        cpuPercent: null,
        memoryUsage: null,
        memoryLimit: null,
        memoryPercent: null,
        pids: null,
        pidsLimit: null,
        blockRead: null,
        blockWrite: null,
        netRx: null,
        netTx: null,
      },
      reading: undefined,
    };
  }
  const sample = sampleCgroup(ctx.paths.cgroupPath(s.namespace, s.id));
  let cpuPercent: number | null = null;
  if (previous !== undefined && sample.cpuNs !== null && previous.sample.cpuNs !== null) {
    const wallNs = (now - previous.at) * 1e6;
    if (wallNs > 0) cpuPercent = Math.max(0, (sample.cpuNs - previous.sample.cpuNs) / wallNs) * 100;
  }
  const memoryLimit = sample.memoryLimit ?? hostMemory();
  const net = netIo(s.pid);
  return {
    stats: {
      id: s.id,
      name: nameOf(s),
      status: s.status,
      cpuPercent: cpuPercent === null ? null : Math.round(cpuPercent * 100) / 100,
      memoryUsage: sample.memoryUsage,
      memoryLimit,
      memoryPercent: sample.memoryUsage !== null && memoryLimit
        ? Math.round((sample.memoryUsage / memoryLimit) * 10000) / 100
        : null,
      pids: sample.pids,
      pidsLimit: sample.pidsLimit,
      blockRead: sample.blockRead,
      blockWrite: sample.blockWrite,
      netRx: net?.rx ?? null,
      netTx: net?.tx ?? null,
    },
    reading: { at: now, sample },
  };
}
