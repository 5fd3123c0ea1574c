/**
 * Parsing for commands that take exactly one container ID and no options.
 *
 * @module
 */

import {
  expectPositionals,
  noCommand,
  type OptionSpec,
  parseCommandArgs,
  type ParsedArgs,
} from "../args.ts";

/** Parses `CMD [OPTIONS] ID` and returns the ID with the parsed options. */
export function parseOneId(
  cmd: string,
  args: string[],
  specs: OptionSpec[] = [],
): { ref: string; parsed: ParsedArgs } {
  const parsed = parseCommandArgs(cmd, args, specs);
  noCommand(cmd, parsed.command);
  const [ref] = expectPositionals(cmd, parsed.positionals, ["ID"]);
  return { ref: ref!, parsed };
}
