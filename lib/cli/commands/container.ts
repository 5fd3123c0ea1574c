/**
 * `berth container VERB ...`: podman's command group, mirroring the
 * top-level verbs (`container ls` is `ps`, `container rm` is `rm`). The CLI
 * frame dispatches `container VERB` to the verb's command in its podman form
 * (see `containerVerb` in mod.ts); this command is what `container` alone
 * and `container --help` show.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";

/**
 * The verbs of the group: each is the top-level command named on the right
 * (`cp` once berth has it; a verb whose command is missing is refused).
 */
export const CONTAINER_VERBS: Readonly<Record<string, string>> = {
  attach: "attach",
  checkpoint: "checkpoint",
  commit: "commit",
  cp: "cp",
  create: "create",
  exec: "exec",
  export: "export",
  inspect: "inspect",
  kill: "kill",
  list: "ps",
  logs: "logs",
  ls: "ps",
  pause: "pause",
  port: "port",
  prune: "container-prune",
  ps: "ps",
  rename: "rename",
  restart: "restart",
  restore: "restore",
  rm: "rm",
  run: "run",
  start: "start",
  stats: "stats",
  stop: "stop",
  top: "top",
  unpause: "unpause",
  update: "update",
  wait: "wait",
};

/** `container`. */
export const containerCommand: Command<Record<string, never>> = {
  name: "container",
  summary: "podman's container group: container ls|rm|inspect|start|stop|... as the verbs",
  usage: "container VERB [OPTIONS] [ARGS]",
  description: `VERB is one of: ${Object.keys(CONTAINER_VERBS).join(", ")}\n` +
    "(those berth has). container ls is ps; each prints what podman prints.",
  options: [],
  // Completion offers the verbs.
  positionals: [{ name: "VERB", choices: Object.keys(CONTAINER_VERBS) }],
  examples: ["berth container ls -a", "berth container rm -f web1", "berth container inspect web1"],
  parse(args) {
    throw new InvalidArgument(
      args[0] === undefined
        ? "container: give a verb (see berth container --help)"
        : `container: unknown verb "${args[0]}" (see berth container --help)`,
    );
  },
  run: () => Promise.resolve(2),
};
