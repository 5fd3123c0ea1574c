/**
 * systemd units for containers (`berth generate systemd ID`), modelled on
 * podman's `generate systemd`: the unit runs the container in the
 * foreground with `berth run --rm`, so systemd sees its exit code and
 * restarts it on failure; it is created fresh at every start from the
 * inputs it was created from.
 *
 * @module
 */

import type { GlobalOptions } from "../container/globals.ts";
import type { CreateArgs, MountSpec } from "../container/state_file.ts";
import { VERSION } from "../host/version.ts";

/**
 * Quotes one word of a systemd command line (`ExecStart=` and the like):
 * `%` becomes `%%` (specifiers) and `$` becomes `$$` (systemd expands
 * `$VAR` and `${VAR}` in command lines, systemd.service(5) "Command
 * lines"), then the word is quoted as {@linkcode systemdQuoteValue} does.
 */
export function systemdQuote(word: string): string {
  return quoteWord(word.replaceAll("$", "$$$$"));
}

/**
 * Quotes one word of a setting that expands specifiers but not variables
 * (`Environment=`, `RequiresMountsFor=`): `%` becomes `%%`, `$` stays (a
 * `$$` there would reach the process as two dollars, systemd.exec(5)
 * "Environment="). A word with anything but `[A-Za-z0-9_@%+=:,./-]` is
 * double-quoted with `\` and `"` escaped, and every control character
 * (CR and LF end a unit file's line; the rest would reach a terminal or
 * the journal) becomes the C-style escape `\xNN` systemd decodes.
 */
export function systemdQuoteValue(word: string): string {
  return quoteWord(word);
}

function quoteWord(word: string): string {
  const escaped = word.replaceAll("%", "%%");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) && escaped !== "") return escaped;
  const body = escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `"${body}"`;
}

/** The `--mount` value that recreates mount `m`. */
function mountFlag(m: MountSpec): string {
  const parts = [`type=${m.type}`];
  if (m.source !== null) parts.push(`src=${m.source}`);
  parts.push(`dst=${m.destination}`);
  if (m.size !== undefined) parts.push(`size=${m.size}`);
  if (m.readOnly) parts.push("ro");
  return parts.join(",");
}

/** The `berth run` arguments that recreate a container from its inputs. */
export function runArgs(id: string, req: CreateArgs): string[] {
  const args = ["run", "--rm"];
  if (req.bundle !== null) args.push("--bundle", req.bundle);
  if (req.rootfs !== null) args.push("--rootfs", req.rootfs);
  if (req.config !== null) args.push("--config", req.config);
  if (typeof req.image === "string") args.push("--image", req.image);
  if (req.pull !== undefined) args.push("--pull", req.pull);
  if (req.tlsVerify === false) args.push("--tls-verify", "false");
  if (req.maxUnpackedSize !== undefined) args.push("--max-unpacked-size", req.maxUnpackedSize);
  if (req.entrypoint !== undefined) args.push("--entrypoint", JSON.stringify(req.entrypoint));
  for (const e of req.env) args.push("--env", e);
  if (req.cwd !== null) args.push("--cwd", req.cwd);
  for (const [k, v] of Object.entries(req.labels)) args.push("--label", `${k}=${v}`);
  if (req.sandbox !== null) args.push("--sandbox", req.sandbox);
  if (req.privileged === true) args.push("--privileged");
  for (const o of req.securityOpt ?? []) args.push("--security-opt", o);
  const limits = req.limits ?? {};
  if (limits.memory !== undefined) args.push("--memory", String(limits.memory));
  if (limits.cpus !== undefined) args.push("--cpus", String(limits.cpus));
  if (limits.pidsLimit !== undefined) args.push("--pids-limit", String(limits.pidsLimit));
  const h = req.healthcheck;
  if (h !== undefined) {
    args.push("--health-cmd", h.cmd, "--health-interval", `${h.intervalMs}ms`);
    args.push("--health-timeout", `${h.timeoutMs}ms`, "--health-retries", String(h.retries));
    args.push("--health-start-period", `${h.startPeriodMs}ms`);
  }
  if (req.logMaxSize !== undefined) args.push("--log-max-size", String(req.logMaxSize));
  if (req.network !== undefined && req.network !== null) args.push("--network", req.network);
  for (const p of req.publish ?? []) args.push("-p", p);
  if (req.ip) args.push("--ip", req.ip);
  for (const d of req.dns ?? []) args.push("--dns", d);
  for (const h of req.addHost ?? []) args.push("--add-host", h);
  for (const a of req.networkAlias ?? []) args.push("--network-alias", a);
  for (const m of req.mounts ?? []) args.push("--mount", mountFlag(m));
  if (req.user != null) args.push("--user", req.user);
  if (req.hostname != null) args.push("--hostname", req.hostname);
  if (req.readOnly === true) args.push("--read-only");
  for (const c of req.capDrop ?? []) args.push("--cap-drop", c);
  for (const c of req.capAdd ?? []) args.push("--cap-add", c);
  args.push(id);
  if (req.command.length > 0) args.push("--", ...req.command);
  return args;
}

/** Inputs of {@linkcode systemdUnit}. */
export interface UnitOptions {
  id: string;
  request: CreateArgs;
  globals: GlobalOptions;
  /** Absolute path of the berth binary the unit runs. */
  berth: string;
  /** Seconds between restarts. */
  restartSec: number;
}

/** The unit file text. */
export function systemdUnit(o: UnitOptions): string {
  const b = systemdQuote(o.berth);
  const cmd = (args: string[]) => [b, ...args.map(systemdQuote)].join(" ");
  const env = [
    `BERTH_ROOT=${o.globals.root}`,
    `BERTH_DATA_ROOT=${o.globals.dataRoot}`,
    `BERTH_NAMESPACE=${o.globals.namespace}`,
    `BERTH_RUNTIME=${o.globals.runtime}`,
    `BERTH_NETWORK_DIR=${o.globals.networkDir}`,
  ].map((e) => `Environment=${systemdQuoteValue(e)}`);
  const after = o.request.sandbox !== null
    ? [`After=berth-${o.request.sandbox}.service`, `Requires=berth-${o.request.sandbox}.service`]
    : [];
  return [
    `# berth-${o.id}.service, generated by berth ${VERSION}`,
    `#   berth generate systemd ${o.id} > /etc/systemd/system/berth-${o.id}.service`,
    `#   systemctl daemon-reload && systemctl enable --now berth-${o.id}.service`,
    "",
    "[Unit]",
    `Description=berth container ${o.id}`,
    "Wants=network-online.target",
    "After=network-online.target",
    ...after,
    `RequiresMountsFor=${systemdQuoteValue(o.globals.root)} ${
      systemdQuoteValue(o.globals.dataRoot)
    }`,
    "",
    "[Service]",
    "Type=exec",
    ...env,
    // A container left by a crash or an unclean stop goes first.
    `ExecStartPre=-${cmd(["delete", "-f", o.id])}`,
    `ExecStart=${cmd(runArgs(o.id, o.request))}`,
    `ExecStop=${cmd(["kill", o.id, "TERM"])}`,
    `ExecStopPost=-${cmd(["delete", "-f", o.id])}`,
    // Only the foreground berth is the service's: the shared monitor it may
    // have started serves every container of the root and must survive.
    "KillMode=process",
    "Restart=on-failure",
    `RestartSec=${o.restartSec}`,
    "TimeoutStopSec=30",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
