/**
 * `berth completion bash|zsh|fish`.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { bashCompletion, fishCompletion, zshCompletion } from "../completion.ts";
import { InvalidArgument } from "../../host/errors.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;

/** `completion`. */
export const completionCommand: Command<{ shell: typeof SHELLS[number] }> = {
  name: "completion",
  skipRootCheck: true,
  summary: "print a shell completion script (commands, flags, existing IDs)",
  usage: "completion bash|zsh|fish",
  options: [],
  positionals: [{ name: "SHELL", choices: SHELLS }],
  command: "none",
  examples: [
    "berth completion bash > /etc/bash_completion.d/berth",
    'berth completion zsh > "${fpath[1]}/_berth"',
    "berth completion fish > ~/.config/fish/completions/berth.fish",
  ],
  parse(args) {
    const p = parseCommandArgs("completion", args, []);
    noCommand("completion", p.command);
    const [shell] = expectPositionals("completion", p.positionals, ["SHELL"]);
    if (!SHELLS.includes(shell as typeof SHELLS[number])) {
      throw new InvalidArgument(`completion: unknown shell "${shell}" (bash, zsh or fish)`);
    }
    return { shell: shell as typeof SHELLS[number] };
  },
  async run(ctx, o) {
    const { loadCommands } = await import("./mod.ts");
    const gen = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[o.shell];
    ctx.io.out(gen(await loadCommands()));
    return 0;
  },
};
