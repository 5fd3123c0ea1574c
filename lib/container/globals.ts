/**
 * Global options (`berth [GLOBAL OPTIONS] COMMAND …`), each also read from
 * an environment variable; the flag wins.
 *
 * @module
 */

import { resolve } from "../_std/path.ts";
import { InvalidArgument } from "../host/errors.ts";
import { validateNamespace } from "./id.ts";

/** The global options of the contract. */
export interface GlobalOptions {
  /** Volatile state. Default `/run/berth` (env `BERTH_ROOT`). */
  root: string;
  /** Persistent data. Default `/var/lib/berth` (env `BERTH_DATA_ROOT`). */
  dataRoot: string;
  /** Tenant namespace. Default `default` (env `BERTH_NAMESPACE`). */
  namespace: string;
  /**
   * OCI runtime CLI. Default `runc` (env `BERTH_RUNTIME`). The CLI makes it
   * the absolute path on first read (`resolveRuntimeOnUse`).
   */
  runtime: string;
  /**
   * Host-wide network definitions (and, beside them, the address
   * allocations and their lock): every root and namespace shares them.
   * Default `/etc/berth/networks` (env `BERTH_NETWORK_DIR`).
   */
  networkDir: string;
  /** Stack traces and runtime command lines on stderr (env `BERTH_DEBUG=1`). */
  debug: boolean;
}

/** Defaults of the global options. */
export const GLOBAL_DEFAULTS: Readonly<GlobalOptions> = {
  root: "/run/berth",
  dataRoot: "/var/lib/berth",
  namespace: "default",
  runtime: "runc",
  networkDir: "/etc/berth/networks",
  debug: false,
};

/** The result of splitting global options from the command line. */
export interface GlobalParse {
  globals: GlobalOptions;
  /** The command and its arguments. */
  rest: string[];
  /** `-h`/`--help` was given before the command. */
  help: boolean;
}

const VALUED: Record<string, keyof GlobalOptions> = {
  "--root": "root",
  "--data-root": "dataRoot",
  "-n": "namespace",
  "--namespace": "namespace",
  "--runtime": "runtime",
  "--network-dir": "networkDir",
};

/** Parses the global options in front of the command. */
export function parseGlobals(
  argv: readonly string[],
  env: (key: string) => string | undefined,
): GlobalParse {
  const flags: Partial<Record<keyof GlobalOptions, string>> = {};
  let debug: boolean | undefined;
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-") || arg === "-") break;
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === "--debug") {
      debug = true;
      continue;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
    const key = VALUED[name];
    if (key === undefined) throw new InvalidArgument(`unknown global option "${name}"`);
    let value: string | undefined;
    if (eq > 0 && arg.startsWith("--")) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new InvalidArgument(`option "${name}" needs a value`);
    if (value === "") throw new InvalidArgument(`option "${name}" must not be empty`);
    flags[key] = value;
  }
  const pick = (
    key: "root" | "dataRoot" | "namespace" | "runtime" | "networkDir",
    envName: string,
  ) => flags[key] ?? (env(envName) || undefined) ?? GLOBAL_DEFAULTS[key];
  const globals: GlobalOptions = {
    root: resolve(pick("root", "BERTH_ROOT")),
    dataRoot: resolve(pick("dataRoot", "BERTH_DATA_ROOT")),
    namespace: validateNamespace(pick("namespace", "BERTH_NAMESPACE")),
    runtime: pick("runtime", "BERTH_RUNTIME"),
    networkDir: resolve(pick("networkDir", "BERTH_NETWORK_DIR")),
    debug: debug ?? ["1", "true", "yes"].includes(env("BERTH_DEBUG") ?? ""),
  };
  return { globals, rest: argv.slice(i), help };
}

/** The global options as arguments, to hand to another berth process. */
export function globalsToArgs(g: GlobalOptions): string[] {
  const args = [
    "--root",
    g.root,
    "--data-root",
    g.dataRoot,
    "--runtime",
    g.runtime,
    "--network-dir",
    g.networkDir,
  ];
  if (g.debug) args.push("--debug");
  return args;
}
