/**
 * Temporary directories for tests, removed when their scope ends, even
 * when the test fails: `await using dir = await tempDir();`.
 *
 * @module
 */

/** A temporary directory, removed (recursively) at the end of its `await using` scope. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
}

/** Makes a temporary directory (see {@linkcode TempDir}). */
export async function tempDir(prefix = "berth-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
