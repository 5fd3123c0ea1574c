/**
 * Container IDs berth makes when none is given (the podman form without
 * `--name`): 12 lowercase hex characters, unique in the namespace.
 *
 * @module
 */

import { idByName } from "../container/names.ts";
import type { Context } from "../container/context.ts";
import { RuntimeError } from "../host/errors.ts";

/** The length of a generated ID (podman's short ID). */
export const GENERATED_ID_LENGTH = 12;

/** 12 random lowercase hex characters. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(GENERATED_ID_LENGTH / 2));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A new ID no container of the context's namespace has. (`create` still
 * refuses an ID taken meanwhile, exit 4: the check under its lock counts.)
 */
export async function newContainerId(ctx: Context): Promise<string> {
  for (let i = 0; i < 16; i++) {
    const id = randomId();
    const ns = ctx.globals.namespace;
    if (!(await ctx.store.exists(ns, id)) && (await idByName(ctx, ns, id)) === null) return id;
  }
  throw new RuntimeError("cannot find an unused container ID");
}
