/**
 * Calling CNI plugins exactly as the CNI spec (1.0.0) says: one process per
 * plugin, the operation in `CNI_COMMAND`, the container in
 * `CNI_CONTAINERID`/`CNI_NETNS`/`CNI_IFNAME`, the plugin directory in
 * `CNI_PATH`, the plugin's configuration (with `name`, `cniVersion`,
 * `runtimeConfig` and, when chaining, `prevResult`) on stdin, the result
 * or a JSON error on stdout. A configuration list is run in order for ADD
 * and CHECK, in reverse for DEL, each ADD's result becoming the next
 * plugin's `prevResult`. The plugin processes run behind
 * {@linkcode PluginRunner}, so tests can inject faults.
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";
import { join } from "../_std/path.ts";
import { type CniResult, parseResult } from "./_result.ts";

/** The CNI version berth speaks (containernetworking-plugins 1.1.1 support it). */
export const CNI_VERSION = "1.0.0";

/** Where the plugins are: `BERTH_CNI_PATH`, else Debian's directory. */
export function cniPath(env: (k: string) => string | undefined = (k) => Deno.env.get(k)): string {
  return env("BERTH_CNI_PATH") || "/usr/lib/cni";
}

/** One plugin process to run. */
export interface PluginCall {
  /** The plugin's executable. */
  binary: string;
  /** The CNI_* variables (the rest of the environment is inherited). */
  env: Record<string, string>;
  /** The plugin's configuration, on stdin. */
  stdin: string;
}

/** How a plugin process ended. */
export interface PluginOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs plugin processes (the real one, or a fault-injecting one in tests). */
export interface PluginRunner {
  run(call: PluginCall): Promise<PluginOutcome>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The real runner: spawns the plugin, writes its configuration to stdin. */
export const processPluginRunner: PluginRunner = {
  async run(call: PluginCall): Promise<PluginOutcome> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(call.binary, {
        env: call.env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      throw new RuntimeError(`cannot run the CNI plugin ${call.binary}: ${(err as Error).message}`);
    }
    const w = child.stdin.getWriter();
    await w.write(encoder.encode(call.stdin)).catch(() => {});
    await w.close().catch(() => {});
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  },
};

/** A CNI configuration list (`*.conflist`). */
export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

/** The container side of a call. */
export interface Attachment {
  containerId: string;
  netns: string;
  ifName: string;
  /** Values for plugins that declare the matching capability (`portMappings`). */
  runtimeConfig: Record<string, unknown>;
}

/** The CNI operations. */
export type CniCommand = "ADD" | "DEL" | "CHECK";

/** A plugin's error: its CNI error code and message. */
export class CniError extends RuntimeError {
  constructor(readonly plugin: string, readonly code: number, msg: string) {
    super(`CNI plugin ${plugin} failed: ${msg}`);
  }
}

/**
 * The stdin of one plugin of `list`: the plugin's own keys plus `name`,
 * `cniVersion`, the `runtimeConfig` for its declared capabilities, and
 * `prevResult` when there is one.
 */
export function pluginConfig(
  list: ConfList,
  plugin: Record<string, unknown>,
  att: Attachment,
  prevResult: CniResult | null,
): string {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const caps = plugin.capabilities;
  if (typeof caps === "object" && caps !== null) {
    const rc: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(caps)) {
      if (on === true && cap in att.runtimeConfig) rc[cap] = att.runtimeConfig[cap];
    }
    if (Object.keys(rc).length > 0) conf.runtimeConfig = rc;
  }
  if (prevResult !== null) conf.prevResult = prevResult;
  return JSON.stringify(conf);
}

/** Calls plugins for one container. */
export class CniClient {
  constructor(
    readonly path: string,
    readonly runner: PluginRunner = processPluginRunner,
  ) {}

  /** Runs one plugin; returns its parsed result (ADD), or null (DEL, CHECK). */
  async call(
    cmd: CniCommand,
    list: ConfList,
    plugin: Record<string, unknown>,
    att: Attachment,
    prevResult: CniResult | null,
  ): Promise<CniResult | null> {
    const type = plugin.type;
    if (typeof type !== "string" || !/^[A-Za-z0-9_.-]+$/.test(type)) {
      throw new RuntimeError(`network "${list.name}": a plugin has no valid "type"`);
    }
    const outcome = await this.runner.run({
      binary: join(this.path, type),
      env: {
        CNI_COMMAND: cmd,
        CNI_CONTAINERID: att.containerId,
        CNI_NETNS: att.netns,
        CNI_IFNAME: att.ifName,
        CNI_PATH: this.path,
      },
      stdin: pluginConfig(list, plugin, att, prevResult),
    });
    if (outcome.code !== 0) throw errorOf(type, outcome);
    if (cmd !== "ADD") return null;
    return parseResult(outcome.stdout, type);
  }

  /**
   * ADD of the whole list; `onStep` runs after each plugin with the result
   * so far (berth caches it, as libcni does, for DEL).
   */
  async add(
    list: ConfList,
    att: Attachment,
    onStep: (done: number, result: CniResult) => Promise<void> | void = () => {},
  ): Promise<CniResult> {
    let result: CniResult | null = null;
    let i = 0;
    for (const plugin of list.plugins) {
      result = await this.call("ADD", list, plugin, att, result);
      await onStep(++i, result!);
    }
    if (result === null) throw new RuntimeError(`network "${list.name}" has no plugins`);
    return result;
  }

  /** DEL of the whole list, last plugin first, each given `prevResult`. */
  async del(
    list: ConfList,
    att: Attachment,
    prevResult: CniResult | null,
    onStep: (done: number) => void = () => {},
  ): Promise<void> {
    let i = 0;
    for (const plugin of [...list.plugins].reverse()) {
      await this.call("DEL", list, plugin, att, prevResult);
      onStep(++i);
    }
  }

  /** CHECK of the whole list against the result of its ADD. */
  async check(list: ConfList, att: Attachment, prevResult: CniResult): Promise<void> {
    for (const plugin of list.plugins) await this.call("CHECK", list, plugin, att, prevResult);
  }
}

function errorOf(plugin: string, o: PluginOutcome): CniError {
  try {
    const e = JSON.parse(o.stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === "number" && typeof e.msg === "string") {
      const details = typeof e.details === "string" && e.details ? ` (${e.details})` : "";
      return new CniError(plugin, e.code, e.msg + details);
    }
  } catch { /* not the spec's error object */ }
  const text = (o.stderr || o.stdout).trim() || `exit status ${o.code}`;
  return new CniError(plugin, 999, text);
}
