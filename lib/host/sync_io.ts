/**
 * Why berth's small-file primitives (state files, lock files, the events
 * log, bundle directories, the mount table) make synchronous file calls
 * behind their Promise-returning APIs.
 *
 * Each async file call in Deno costs about ten times its synchronous twin
 * (measured: 0.8 ms against 0.1 ms for an atomic state save of open, write,
 * fdatasync, close, rename and a directory fsync on tmpfs; the first async
 * open of a process, 0.5–0.7 ms). The files are a few hundred bytes on a
 * local file system, so a synchronous call blocks the event loop for
 * microseconds, and a berth command is one sequence of such calls. The
 * APIs stay Promise-based (callers and test fakes need not change), and
 * {@linkcode promised} keeps their failures rejections, as with `async`.
 *
 * @module
 */

/** Runs `fn` now and returns its result, or its exception, as a Promise. */
export function promised<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
