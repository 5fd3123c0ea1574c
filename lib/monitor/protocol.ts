/**
 * The CLI ↔ monitor protocol: one JSON request line, one JSON reply line,
 * per connection on the root's unix socket.
 *
 * @module
 */

/**
 * Run `runtime create` as the monitor's child and watch the container;
 * with `start`, `runtime run --detach` (create and start in one runtime
 * call, for `run -d`). No request carries a path or a runtime: the
 * monitor takes the runtime from the container's state and every path
 * from its own roots and the ID (see `launchPaths` in container.ts).
 */
export interface CreateRequest {
  op: "create";
  start?: boolean;
  ns: string;
  id: string;
  /**
   * The container has a terminal (`-t`): the monitor receives its master
   * on a console socket of its own and holds it (see lib/terminal/_holder.ts).
   */
  terminal?: boolean;
  /** Its stdin is a pipe the monitor holds for one `attach` client (foreground `run -i`). */
  stdin?: boolean;
}

/**
 * Run `runtime restore --detach` as the monitor's child and watch the
 * container; the image directory is the one its state records (`op`).
 */
export interface RestoreRequest extends Omit<CreateRequest, "op"> {
  op: "restore";
}

/**
 * Reply once the container `ns/id` has exited and its exit was recorded,
 * or with `pending` after {@linkcode WAIT_SLICE_MS} (the client asks
 * again): no reply is ever further away than that.
 */
export interface WaitRequest {
  op: "wait";
  ns: string;
  id: string;
  /** The init the caller knows of: adopted if the monitor does not watch it. */
  pid: number | null;
  startTime: number | null;
}

/** Watch an existing process (restore, re-adoption). */
export interface AdoptRequest {
  op: "adopt";
  ns: string;
  id: string;
  pid: number;
  startTime: number | null;
}

/**
 * SIGKILL the init `pid` of `ns/id`, which the monitor watches, and reply
 * once it is reaped (`exitCode`). The monitor is the init's parent, so the
 * pid cannot be reused before that. Refused (NotFound) if it is not
 * watched.
 */
export interface KillRequest {
  op: "kill";
  ns: string;
  id: string;
  pid: number;
  startTime: number | null;
  /**
   * Once it is reaped, start the runtime's delete of `ns/id` before
   * replying (`delete -f`): the `delete` request that follows, naming this
   * init, awaits that one instead of starting its own. A monitor that does
   * not know the field ignores it, and that request runs the delete.
   */
  thenDelete?: boolean;
  /**
   * With `thenDelete`: the reply of that runtime delete follows the kill's
   * reply on the same connection, as a second message (the one of a
   * `delete` request naming this init), so `delete -f` needs one
   * connection to the monitor, not two. A monitor that does not know the
   * field closes the connection after the first; the client then sends
   * the `delete` request.
   */
  deleteReply?: boolean;
}

/**
 * Run `runtime delete --force ID` (the runtime of the state of `ns/id`, or
 * the monitor's own when it cannot be read). The monitor has spawned
 * processes before; a CLI's first `Deno.Command` costs it about 7 ms of
 * set-up.
 */
export interface RuntimeDeleteRequest {
  op: "delete";
  ns: string;
  id: string;
  /** The init a `kill` with `thenDelete` reaped: the delete it started is awaited. */
  init?: { pid: number; startTime: number | null };
}

/** Reply once no `create` of `ns/id` is under way in the monitor. */
export interface QuiesceRequest {
  op: "quiesce";
  ns: string;
  id: string;
}

/**
 * Connect to the terminal (or stdin pipe) of `ns/id`. After an ok reply
 * the connection carries frames from the client (lib/terminal/_frames.ts)
 * and the terminal's output to it, until the terminal is gone.
 */
export interface AttachRequest {
  op: "attach";
  ns: string;
  id: string;
}

/** Liveness check. */
export interface PingRequest {
  op: "ping";
}

/** Any request. */
export type MonitorRequest =
  | CreateRequest
  | RestoreRequest
  | WaitRequest
  | AdoptRequest
  | KillRequest
  | RuntimeDeleteRequest
  | QuiesceRequest
  | AttachRequest
  | PingRequest;

/** A reply. */
export type MonitorReply =
  | {
    ok: true;
    pid?: number;
    startTime?: number | null;
    exitCode?: number;
    watched?: boolean;
    /** A wait's slice ended before the exit: ask again. */
    pending?: boolean;
  }
  | { ok: false; kind: string; message: string };

/** The longest a `wait` request is held before a `pending` reply. */
export const WAIT_SLICE_MS = 10_000;

/** How long a delete, and the monitor's `kill`, wait for an init to be reaped after SIGKILL. */
export const REAP_TIMEOUT_MS = 10_000;

/** What the messages are read from and written to (a Deno.Conn, or the monitor's FFI socket). */
export type MessageConn = Pick<StreamConn, "read" | "write">;

import type { StreamConn } from "../host/unix_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes one JSON line. */
export async function writeMessage(conn: MessageConn, msg: unknown): Promise<void> {
  let bytes = encoder.encode(JSON.stringify(msg) + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** Reads one JSON line; null if the peer closed first. */
export async function readMessage<T>(conn: MessageConn, maxBytes = 1 << 20): Promise<T | null> {
  return (await readMessageAndRest<T>(conn, maxBytes))?.message ?? null;
}

/**
 * Reads one JSON line and returns it with the bytes that came after it in
 * the same read (a stream that follows the reply); null if the peer closed
 * first.
 */
export async function readMessageAndRest<T>(
  conn: MessageConn,
  maxBytes = 1 << 20,
): Promise<{ message: T; rest: Uint8Array } | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buf = new Uint8Array(4096);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      return null;
    }
    if (n === null) return null;
    const chunk = buf.slice(0, n);
    const nl = chunk.indexOf(10);
    if (nl >= 0) {
      chunks.push(chunk.subarray(0, nl));
      const all = new Uint8Array(size + nl);
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.length;
      }
      return { message: JSON.parse(decoder.decode(all)) as T, rest: chunk.slice(nl + 1) };
    }
    chunks.push(chunk);
    size += n;
    if (size > maxBytes) return null;
  }
}
