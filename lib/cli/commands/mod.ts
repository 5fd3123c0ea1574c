/**
 * The registry of subcommands. Each command's module is loaded only when
 * it runs, so a command pays start-up time for what it uses and no more.
 *
 * @module
 */

import type { AnyCommand } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";

/** A registry entry: names, and how to load the command. */
export interface CommandEntry {
  name: string;
  aliases?: string[];
  load: () => Promise<AnyCommand>;
}

/** Every command, in help order. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: "create", load: async () => (await import("./create.ts")).createCommand },
  { name: "start", load: async () => (await import("./start.ts")).startCommand },
  { name: "run", load: async () => (await import("./run.ts")).runCommand },
  { name: "state", load: async () => (await import("./state.ts")).stateCommand },
  { name: "list", aliases: ["ls"], load: async () => (await import("./list.ts")).listCommand },
  { name: "ps", aliases: ["top"], load: async () => (await import("./ps.ts")).psCommand },
  { name: "exec", load: async () => (await import("./exec.ts")).execCommand },
  { name: "port", load: async () => (await import("./port.ts")).portCommand },
  { name: "rename", load: async () => (await import("./rename.ts")).renameCommand },
  { name: "cp", load: async () => (await import("./cp.ts")).cpCommand },
  { name: "attach", load: async () => (await import("./attach.ts")).attachCommand },
  { name: "pause", load: async () => (await import("./pause.ts")).pauseCommand },
  { name: "resume", load: async () => (await import("./pause.ts")).resumeCommand },
  {
    name: "unpause",
    load: async () => podmanVariant((await import("./pause.ts")).resumeCommand, "unpause"),
  },
  { name: "kill", load: async () => (await import("./kill.ts")).killCommand },
  { name: "delete", load: async () => (await import("./delete.ts")).deleteCommand },
  {
    name: "rm",
    load: async () => podmanVariant((await import("./delete.ts")).deleteCommand, "rm"),
  },
  { name: "stop", load: async () => (await import("./stop.ts")).stopCommand },
  { name: "restart", load: async () => (await import("./stop.ts")).restartCommand },
  { name: "update", load: async () => (await import("./update.ts")).updateCommand },
  { name: "stats", load: async () => (await import("./stats.ts")).statsCommand },
  { name: "wait", load: async () => (await import("./wait.ts")).waitCommand },
  { name: "logs", load: async () => (await import("./logs.ts")).logsCommand },
  { name: "checkpoint", load: async () => (await import("./checkpoint.ts")).checkpointCommand },
  { name: "restore", load: async () => (await import("./checkpoint.ts")).restoreCommand },
  { name: "events", load: async () => (await import("./events.ts")).eventsCommand },
  { name: "network", load: async () => (await import("./network.ts")).networkCommand },
  { name: "pull", load: async () => (await import("./pull.ts")).pullCommand },
  { name: "images", load: async () => (await import("./images.ts")).imagesCommand },
  { name: "rmi", load: async () => (await import("./images.ts")).rmiCommand },
  { name: "image", load: async () => (await import("./image.ts")).imageCommand },
  { name: "load", load: async () => (await import("./load.ts")).loadCommand },
  { name: "save", load: async () => (await import("./save.ts")).saveCommand },
  { name: "build", load: async () => (await import("./build.ts")).buildCommand },
  { name: "commit", load: async () => (await import("./commit.ts")).commitCommand },
  { name: "export", load: async () => (await import("./export.ts")).exportCommand },
  { name: "import", load: async () => (await import("./import.ts")).importCommand },
  { name: "history", load: async () => (await import("./history.ts")).historyCommand },
  { name: "push", load: async () => (await import("./push.ts")).pushCommand },
  { name: "tag", load: async () => (await import("./images.ts")).tagCommand },
  { name: "login", load: async () => (await import("./login.ts")).loginCommand },
  { name: "logout", load: async () => (await import("./login.ts")).logoutCommand },
  { name: "inspect", load: async () => (await import("./inspect.ts")).inspectCommand },
  { name: "compose", load: async () => (await import("./compose.ts")).composeCommand },
  { name: "volume", load: async () => (await import("./volume.ts")).volumeCommand },
  { name: "container", load: async () => (await import("./container.ts")).containerCommand },
  { name: "gc", load: async () => (await import("./gc.ts")).gcCommand },
  { name: "spec", load: async () => (await import("./spec.ts")).specCommand },
  { name: "generate", load: async () => (await import("./generate.ts")).generateCommand },
  { name: "completion", load: async () => (await import("./completion.ts")).completionCommand },
  { name: "system", load: async () => (await import("./system.ts")).systemCommand },
  { name: "info", load: async () => (await import("./info.ts")).infoCommand },
  { name: "doctor", load: async () => (await import("./doctor.ts")).doctorCommand },
  { name: "version", load: async () => (await import("./version.ts")).versionCommand },
  { name: "__monitor", load: async () => (await import("./monitor.ts")).monitorCommand },
  { name: "__resolver", load: async () => (await import("./resolver.ts")).resolverCommand },
];

/** Commands only the `container` group has (`container prune`). */
export const CONTAINER_ONLY: readonly CommandEntry[] = [
  {
    name: "container-prune",
    load: async () => (await import("./container_prune.ts")).containerPruneCommand,
  },
];

/**
 * `cmd` under another name that prints podman's output: its options get
 * `podman: true` (`rm` is `delete`, `unpause` is `resume`, and every
 * `container VERB`).
 */
export function podmanVariant(cmd: AnyCommand, name: string): AnyCommand {
  return {
    ...cmd,
    name,
    aliases: [],
    summary: `${cmd.summary} (podman's ${name}: prints each name)`,
    usage: cmd.usage.replace(new RegExp(`^${cmd.name}\\b`, "gm"), name),
    parse: (args: string[]) => {
      try {
        return { ...cmd.parse(args), podman: true };
      } catch (err) {
        // Its own messages, under the name it was given.
        if (err instanceof InvalidArgument && err.message.startsWith(`${cmd.name}:`)) {
          throw new InvalidArgument(`${name}:${err.message.slice(cmd.name.length + 1)}`);
        }
        throw err;
      }
    },
  };
}

/**
 * `container VERB`: the entry of the top-level command it mirrors, in its
 * podman form; undefined for a verb berth does not have.
 */
export async function containerVerb(verb: string): Promise<CommandEntry | undefined> {
  const { CONTAINER_VERBS } = await import("./container.ts");
  const target = Object.hasOwn(CONTAINER_VERBS, verb) ? CONTAINER_VERBS[verb]! : undefined;
  const entry = target === undefined
    ? undefined
    : findCommand(target) ?? CONTAINER_ONLY.find((c) => c.name === target);
  if (entry === undefined) return undefined;
  return {
    name: `container ${verb}`,
    load: async () => {
      const c = await entry.load();
      // ls/list/ps: the listing, never one container's processes.
      const listing = target === "ps";
      return {
        ...podmanVariant(c, `container ${verb}`),
        ...(listing
          ? {
            parse: (args: string[]) => {
              const o = c.parse(args) as Record<string, unknown>;
              if (!("list" in o)) throw new InvalidArgument(`container ${verb}: takes no ID`);
              return o;
            },
          }
          : {}),
      };
    },
  };
}

/** Finds a command by name or alias. */
export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

/** Loads every command (for help and completion). */
export function loadCommands(): Promise<AnyCommand[]> {
  return Promise.all(COMMANDS.map((c) => c.load()));
}
