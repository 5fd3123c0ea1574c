/**
 * std-style assertions on top of `node:assert/strict` (JSR's @std/assert
 * cannot be installed here).
 */

import assert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/** `cond` is true. */
export function assertTrue(cond: unknown, msg?: string): asserts cond {
  assert.ok(cond, msg);
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = abstract new (...args: any[]) => E;

function check<E extends Error>(err: unknown, cls: ErrorClass<E>, includes?: string): E {
  if (!(err instanceof cls)) {
    throw new assert.AssertionError({
      message: `expected ${cls.name}, got ${
        err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      }`,
    });
  }
  if (includes !== undefined && !err.message.includes(includes)) {
    throw new assert.AssertionError({
      message: `expected the message to include ${JSON.stringify(includes)}: ${err.message}`,
    });
  }
  return err;
}

/** `fn` throws an instance of `cls` whose message includes `includes`; returns it. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  cls: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (err) {
    return check(err, cls, includes);
  }
  throw new assert.AssertionError({ message: `expected ${cls.name} to be thrown` });
}

/** `fn` rejects with an instance of `cls` whose message includes `includes`; returns it. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    return check(err, cls, includes);
  }
  throw new assert.AssertionError({ message: `expected ${cls.name} to be rejected` });
}
