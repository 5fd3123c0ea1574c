/**
 * Undo for multi-step work (create, and what builds on it): each step
 * registers how to take itself back as soon as it has succeeded, and a
 * failure runs what was registered in reverse. Every undo runs even when
 * one before it fails (what is left is then gc's), and the step's own
 * error is the one that propagates.
 *
 * @module
 */

/** One registered undo: a name for diagnostics and the act. */
interface Entry {
  name: string;
  act: () => unknown;
}

/** The undos of the steps done so far, newest last. */
export class Undo {
  readonly #entries: Entry[] = [];
  /** Undos that failed in the last {@linkcode rollBack}: their names and errors. */
  readonly failures: { name: string; error: unknown }[] = [];

  /** Registers the undo of a step that just succeeded. */
  push(name: string, act: () => unknown): void {
    this.#entries.push({ name, act });
  }

  /** The names registered so far, oldest first (for tests and traces). */
  get names(): string[] {
    return this.#entries.map((e) => e.name);
  }

  /** Forgets every undo: the work is done and stays. */
  commit(): void {
    this.#entries.length = 0;
  }

  /** Runs every registered undo, newest first, each once, whatever the others do. */
  async rollBack(): Promise<void> {
    for (let e = this.#entries.pop(); e !== undefined; e = this.#entries.pop()) {
      try {
        await e.act();
      } catch (error) {
        this.failures.push({ name: e.name, error });
      }
    }
  }

  /**
   * Runs `work` with this undo: on failure, rolls back what was registered
   * and rethrows the failure; on success, commits.
   */
  async run<T>(work: (undo: Undo) => Promise<T>): Promise<T> {
    try {
      const result = await work(this);
      this.commit();
      return result;
    } catch (err) {
      await this.rollBack();
      throw err;
    }
  }
}
