/**
 * The registry of subcommands.
 *
 * @module
 */

import type { AnyCommand } from "../command.ts";
import { checkpointCommand, restoreCommand } from "./checkpoint.ts";
import { completionCommand } from "./completion.ts";
import { createCommand } from "./create.ts";
import { deleteCommand } from "./delete.ts";
import { doctorCommand } from "./doctor.ts";
import { eventsCommand } from "./events.ts";
import { execCommand } from "./exec.ts";
import { gcCommand } from "./gc.ts";
import { generateCommand } from "./generate.ts";
import { killCommand } from "./kill.ts";
import { listCommand } from "./list.ts";
import { logsCommand } from "./logs.ts";
import { monitorCommand } from "./monitor.ts";
import { pauseCommand, resumeCommand } from "./pause.ts";
import { psCommand } from "./ps.ts";
import { runCommand } from "./run.ts";
import { specCommand } from "./spec.ts";
import { startCommand } from "./start.ts";
import { stateCommand } from "./state.ts";
import { versionCommand } from "./version.ts";
import { waitCommand } from "./wait.ts";

/** Every command, in help order. */
export const COMMANDS: readonly AnyCommand[] = [
  createCommand,
  startCommand,
  runCommand,
  stateCommand,
  listCommand,
  psCommand,
  execCommand,
  pauseCommand,
  resumeCommand,
  killCommand,
  deleteCommand,
  waitCommand,
  logsCommand,
  checkpointCommand,
  restoreCommand,
  eventsCommand,
  gcCommand,
  specCommand,
  generateCommand,
  completionCommand,
  doctorCommand,
  versionCommand,
  monitorCommand,
];

/** Finds a command by name or alias. */
export function findCommand(name: string): AnyCommand | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}
