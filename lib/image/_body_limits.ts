/**
 * Limits on a registry's response bodies, so a hostile or broken registry
 * can neither grow berth's memory nor hang a pull: a hard cap on the bytes
 * (an endless manifest fails at the cap, never read whole), a deadline for
 * the whole body, a stall limit (no bytes for so long while berth waits
 * for them) and a minimum throughput (so many bytes per window of waiting).
 * Time is counted only while a read waits on the registry: a consumer that
 * is slow itself (unpacking to disk) is never blamed on the network.
 *
 * Chunks pass through as they come (no copies); the timers are one per
 * check period, not one per chunk.
 *
 * @module
 */

import { after } from "../host/clock.ts";
import { RuntimeError } from "../host/errors.ts";

/** What a body may do, and how it is named in errors. */
export interface BodyLimits {
  /** Names the body in errors, e.g. `manifest of 127.0.0.1:5000/app:1`. */
  what: string;
  /** More bytes than this fails the body. */
  maxBytes?: number;
  /** The whole body must have come within this many ms of the stream's start. */
  deadlineMs?: number;
  /** A read that waits this many ms for bytes fails the body. */
  stallMs?: number;
  /** At least `bytes` per `windowMs` of waiting on the registry. */
  minRate?: MinRate;
  /** Aborts the request (its connection) when the body fails. */
  abort?: () => void;
}

/** A minimum throughput: `bytes` in every `windowMs` spent waiting for them. */
export interface MinRate {
  bytes: number;
  windowMs: number;
}

/** `4 MiB`, `64 KiB`, `100 bytes`. */
export function formatSize(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

/** `30 s`, `200 ms`. */
export function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * `body` with `limits` enforced: on a breach the returned stream errors
 * with a one-line RuntimeError naming `limits.what`, the request is
 * aborted and the source cancelled (a pending read on a source that
 * ignores both cannot hold the error back).
 */
export function limitedBody(
  body: ReadableStream<Uint8Array>,
  limits: BodyLimits,
): ReadableStream<Uint8Array> {
  const { what, maxBytes, deadlineMs, stallMs, minRate } = limits;
  const reader = body.getReader();
  const periods = [deadlineMs, stallMs, minRate?.windowMs].filter((p) => p !== undefined);
  // Checks run every quarter of the shortest period: a breach is seen at
  // most a quarter late.
  const tick = periods.length === 0 ? 0 : Math.max(5, Math.min(...periods) / 4);
  const started = performance.now();
  let total = 0;
  /** When the pending read began (null: none pending). */
  let waitingSince: number | null = null;
  /** Waiting in the current throughput window, not counting the pending read. */
  let waited = 0;
  let windowBytes = 0;
  let finished = false;
  let cancelTimer: (() => void) | null = null;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const stop = () => {
    finished = true;
    cancelTimer?.();
    cancelTimer = null;
  };
  const fail = (why: string) => {
    if (finished) return;
    stop();
    const err = new RuntimeError(`${what}: ${why}`);
    controller.error(err);
    limits.abort?.();
    reader.cancel(err).catch(() => {});
  };
  const check = () => {
    cancelTimer = null;
    if (finished) return;
    const now = performance.now();
    if (deadlineMs !== undefined && now - started >= deadlineMs) {
      return fail(`not received within ${formatMs(deadlineMs)}`);
    }
    const pending = waitingSince === null ? 0 : now - waitingSince;
    if (stallMs !== undefined && pending >= stallMs) {
      return fail(`no data for ${formatMs(stallMs)}`);
    }
    if (minRate !== undefined && waited + pending >= minRate.windowMs) {
      if (windowBytes < minRate.bytes) {
        return fail(
          `too slow: less than ${formatSize(minRate.bytes)} in ${formatMs(minRate.windowMs)}`,
        );
      }
      // A new window from now: the pending read's wait so far is left out.
      waited = -pending;
      windowBytes = 0;
    }
    // Idle (no read pending, no deadline): no timer, so an abandoned
    // stream keeps nothing alive; the next read arms it again.
    if (waitingSince !== null || deadlineMs !== undefined) arm();
  };
  const arm = () => {
    if (cancelTimer === null && tick > 0) cancelTimer = after(tick, check);
  };

  return new ReadableStream<Uint8Array>({
    start(ctl) {
      controller = ctl;
      if (deadlineMs !== undefined) arm();
    },
    async pull(ctl) {
      if (finished) return;
      waitingSince = performance.now();
      arm();
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (err) {
        if (finished) return; // failed by a limit: the stream already has its error
        stop();
        throw err instanceof RuntimeError
          ? err
          : new RuntimeError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (finished) return;
      waited += performance.now() - waitingSince;
      waitingSince = null;
      if (r.done) {
        stop();
        ctl.close();
        return;
      }
      total += r.value.length;
      windowBytes += r.value.length;
      if (maxBytes !== undefined && total > maxBytes) {
        return fail(`larger than ${formatSize(maxBytes)}`);
      }
      ctl.enqueue(r.value);
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  });
}

/**
 * Reads `body` whole under `limits` (a manifest, a config, a token answer:
 * small bodies held in memory, so `maxBytes` is required).
 */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limits: BodyLimits & { maxBytes: number },
): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of limitedBody(body, limits)) {
    parts.push(c);
    n += c.length;
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
