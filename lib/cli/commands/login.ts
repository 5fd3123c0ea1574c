/**
 * `berth login [-u USER] [--password-stdin] REGISTRY` and `berth logout
 * REGISTRY`: credentials in the `auth.json` format (file mode 0600).
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument, NotFound } from "../../host/errors.ts";
import { authFilePath, parseReference, storeCredentials } from "../../image/mod.ts";
import { insecureOf, TLS_VERIFY_OPTION } from "./tls_verify.ts";

/** Options of `login`. */
export interface LoginArgs {
  registry: string;
  username: string | null;
  passwordStdin: boolean;
  /** `--tls-verify=false`. */
  insecure: boolean;
}

const OPTIONS = [
  { name: "username", short: "u", type: "string" as const, value: "USER", help: "user name" },
  { name: "password-stdin", type: "boolean" as const, help: "read the password from stdin" },
  TLS_VERIFY_OPTION,
];

function registryOf(cmd: string, text: string): string {
  const r = parseReference(`${text.replace(/^https?:\/\//, "").replace(/\/+$/, "")}/x`).registry;
  if (r === "docker.io" && !/docker\.io/.test(text)) {
    throw new InvalidArgument(`${cmd}: "${text}" is not a registry host`);
  }
  return r;
}

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of Deno.stdin.readable) chunks.push(c);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all).replace(/\r?\n$/, "");
}

/** `login`. */
export const loginCommand: Command<LoginArgs> = {
  name: "login",
  summary: "store credentials for a registry",
  usage: "login [-u USER] [--password-stdin] [--tls-verify=false] REGISTRY",
  description:
    "Credentials go to DATA/auth.json (or $REGISTRY_AUTH_FILE), mode 0600; ~/.docker/config.json is read, never written.",
  options: OPTIONS,
  examples: ["echo secret | berth login -u me --password-stdin registry.example.com"],
  parse(args) {
    const p = parseCommandArgs("login", args, OPTIONS);
    noCommand("login", p.command);
    const [reg] = expectPositionals("login", p.positionals, ["REGISTRY"]);
    return {
      registry: registryOf("login", reg!),
      username: str(p.values, "username") ?? null,
      passwordStdin: bool(p.values, "password-stdin"),
      insecure: insecureOf(p),
    };
  },
  async run(ctx, o) {
    if (o.username === null) throw new InvalidArgument("login: give -u USER");
    if (!o.passwordStdin) {
      throw new InvalidArgument("login: give --password-stdin (the password comes on stdin)");
    }
    const password = await readStdin();
    if (password === "") throw new InvalidArgument("login: empty password");
    const { registryClient } = await import("../../image/mod.ts");
    const client = await registryClient(
      { registry: o.registry, repository: "library/x", tag: "latest", digest: null },
      {
        credentials: { username: o.username, password },
        ...(o.insecure ? { insecure: true } : {}),
      },
    );
    await client.ping();
    await storeCredentials(authFilePath(ctx.paths.dataRoot, ctx.env), o.registry, {
      username: o.username,
      password,
    });
    ctx.io.out("Login Succeeded\n");
    return 0;
  },
};

/** `logout`. */
export const logoutCommand: Command<{ registry: string }> = {
  name: "logout",
  summary: "remove a registry's stored credentials",
  usage: "logout REGISTRY",
  options: [],
  examples: ["berth logout registry.example.com"],
  parse(args) {
    const p = parseCommandArgs("logout", args, []);
    noCommand("logout", p.command);
    const [reg] = expectPositionals("logout", p.positionals, ["REGISTRY"]);
    return { registry: registryOf("logout", reg!) };
  },
  async run(ctx, o) {
    const file = authFilePath(ctx.paths.dataRoot, ctx.env);
    if (!(await storeCredentials(file, o.registry, null))) {
      throw new NotFound(`not logged in to ${o.registry}`);
    }
    ctx.io.out(`Removed login credentials for ${o.registry}\n`);
    return 0;
  },
};
