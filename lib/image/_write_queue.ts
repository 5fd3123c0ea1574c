/**
 * Writes to a file in order, on its asynchronous writes (done on a thread
 * of Deno's), so the caller goes on producing (decompressing, hashing,
 * unpacking) while the last bytes are written: `save`'s archive and the
 * blob a pull or load keeps. At most {@linkcode WRITE_QUEUE_BYTES} wait;
 * the first write error is kept and thrown by `ready` and `flush`.
 *
 * @module
 */

/** Bytes that may wait before {@linkcode WriteQueue.ready} waits. */
export const WRITE_QUEUE_BYTES = 8 << 20;

/** What a queue writes to: an open file, or stdout. */
export interface AsyncWriter {
  write(bytes: Uint8Array): Promise<number>;
}

/** A bounded queue of in-order writes to one file. */
export class WriteQueue {
  readonly #inflight: { done: Promise<void> }[] = [];
  #queued = 0;
  #tail: Promise<void> = Promise.resolve();
  #failure: { err: unknown } | null = null;

  constructor(readonly file: AsyncWriter, readonly limit: number = WRITE_QUEUE_BYTES) {}

  /** Queues all of `bytes`, which must not change until written. */
  push(bytes: Uint8Array): void {
    if (this.#failure !== null || bytes.length === 0) return;
    this.#queued += bytes.length;
    const done = this.#tail.then(async () => {
      if (this.#failure !== null) return;
      for (let off = 0; off < bytes.length;) off += await this.file.write(bytes.subarray(off));
    }).catch((err) => {
      this.#failure ??= { err };
    }).finally(() => (this.#queued -= bytes.length));
    this.#inflight.push({ done });
    this.#tail = done;
  }

  /** Resolves once no more than the limit waits; throws the first write error. */
  async ready(): Promise<void> {
    while (this.#queued > this.limit && this.#inflight.length > 0) {
      await this.#inflight.shift()!.done;
    }
    if (this.#failure !== null) throw this.#failure.err;
  }

  /** Resolves once everything queued is written; throws the first write error. */
  async flush(): Promise<void> {
    await this.#tail;
    this.#inflight.length = 0;
    if (this.#failure !== null) throw this.#failure.err;
  }
}
