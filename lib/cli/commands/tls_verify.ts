/**
 * `--tls-verify`, shared by the commands that reach a registry (`pull`,
 * `login`, and `create`/`run` with `--image`).
 *
 * @module
 */

import { choice, type ParsedArgs } from "../args.ts";

/** The `--tls-verify` option spec. */
export const TLS_VERIFY_OPTION = {
  name: "tls-verify",
  type: "string" as const,
  value: "true|false",
  choices: ["true", "false"] as const,
  default: "true",
  flag: true,
  help: "false: HTTPS without checking the certificate (or plain HTTP) to a registry off loopback",
};

/** Whether `--tls-verify=false` was given (parsing checked the value against the choices). */
export function insecureOf(p: ParsedArgs): boolean {
  return choice(p.values, TLS_VERIFY_OPTION, "true") === "false";
}
