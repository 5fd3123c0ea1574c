/**
 * A hostile registry for tests: a small server on 127.0.0.1 (port 0) whose
 * answers the test writes (401s with odd realms, redirects to file: URLs,
 * bodies that never end, stall or drip), recording every request's path
 * and Authorization header. Endless bodies stop at a safety cap, so code
 * that reads them whole fails a test instead of eating the machine.
 */

/** One request the server saw. */
export interface Seen {
  path: string;
  authorization: string | null;
}

/** A running hostile server. */
export interface Hostile {
  /** `127.0.0.1:PORT`. */
  host: string;
  port: number;
  seen: Seen[];
  /** Bytes of endless, stalled and dripping bodies handed to the server so far. */
  sent(): number;
  /** A body that never ends (until `cap` bytes, a safety stop). */
  endless(prefix?: string, cap?: number): ReadableStream<Uint8Array>;
  /** A body that never sends a byte. */
  stalled(): ReadableStream<Uint8Array>;
  /** A body of `total` bytes, one every `everyMs`. */
  drip(total: number, everyMs: number): ReadableStream<Uint8Array>;
  stop(): Promise<void>;
}

/** The safety stop of an endless body: far above every cap berth sets. */
export const ENDLESS_CAP = 128 << 20;

/** Starts a hostile server answering with `handler`. */
export function hostileRegistry(
  handler: (req: Request, url: URL, h: Hostile) => Response | Promise<Response>,
): Hostile {
  const ac = new AbortController();
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  let sent = 0;
  const track = (src: UnderlyingDefaultSource<Uint8Array>) => {
    let mine: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start(ctl) {
        mine = ctl;
        open.add(ctl);
        return src.start?.(ctl);
      },
      pull(ctl) {
        return src.pull?.(ctl);
      },
      cancel() {
        open.delete(mine);
      },
    });
  };
  const h: Hostile = {
    host: "",
    port: 0,
    seen: [],
    sent: () => sent,
    endless(prefix = "", cap = ENDLESS_CAP) {
      const chunk = new Uint8Array(64 << 10).fill(0x61); // "aaaa…"
      let first = true;
      return track({
        pull(ctl) {
          if (first) {
            first = false;
            ctl.enqueue(new TextEncoder().encode(prefix));
          }
          if (sent >= cap) return ctl.close();
          sent += chunk.length;
          ctl.enqueue(chunk);
        },
      });
    },
    stalled() {
      return track({});
    },
    drip(total, everyMs) {
      let left = total;
      return track({
        start(ctl) {
          const id = setInterval(() => {
            if (left-- <= 0) {
              clearInterval(id);
              timers.delete(id);
              try {
                ctl.close();
              } catch { /* cancelled */ }
              return;
            }
            sent++;
            try {
              ctl.enqueue(new Uint8Array([0x61]));
            } catch {
              clearInterval(id);
              timers.delete(id);
            }
          }, everyMs);
          timers.add(id);
        },
      });
    },
    stop: async () => {
      for (const id of timers) clearInterval(id);
      for (const ctl of open) {
        try {
          ctl.close();
        } catch { /* errored or closed */ }
      }
      ac.abort();
      await server.finished;
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    (req) => {
      const url = new URL(req.url);
      h.seen.push({ path: url.pathname, authorization: req.headers.get("authorization") });
      return handler(req, url, h);
    },
  );
  h.port = (server.addr as Deno.NetAddr).port;
  h.host = `127.0.0.1:${h.port}`;
  return h;
}

/** Fails if `p` is still pending after `ms` (old code that hangs fails instead of hanging). */
export async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    id = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(id);
  }
}
