// Helpers of the network suites (network_test, network_hostwide_test,
// network_native_test, network_sweep_test): a published port's answer on
// the host's loopback, the busybox httpd that gives it, a private network
// namespace to run berth in, and a log of berth's iptables runs.

import { join } from "node:path";
import { berth, type Roots } from "../helpers.ts";

const decoder = new TextDecoder();

/** Runs `argv`; its exit code and its stdout and stderr together. */
export async function sh(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: r.code, out: decoder.decode(r.stdout) + decoder.decode(r.stderr) };
}

/** GET http://127.0.0.1:port/ → body, or null when nothing answers. */
export async function get(port: number): Promise<string | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
    return await r.text();
  } catch {
    return null;
  }
}

/** A busybox httpd on 8080 serving `text`. */
export function httpd(text: string): string[] {
  return [
    "sh",
    "-c",
    `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`,
  ];
}

/**
 * A private mount and network namespace, held by a sleeping process, that
 * berth runs in through nsenter: bridges, routes and iptables rules made
 * there vanish with it, and what `setup` bind-mounts over the host's files
 * (/etc/resolv.conf, /run/systemd) is seen by berth alone.
 */
export async function privateNs(setup: string) {
  const holder = new Deno.Command("unshare", {
    args: [
      "--mount",
      "--net",
      "--propagation",
      "private",
      "sh",
      "-c",
      `ip link set lo up && ${setup} && echo ready && exec sleep 900`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  if (!decoder.decode(first.value ?? new Uint8Array()).includes("ready")) {
    holder.kill("SIGKILL");
    await holder.status;
    throw new Error("the private namespace could not be set up");
  }
  const enter = ["nsenter", "-t", String(holder.pid), "-m", "-n", "--"];
  return {
    /** The command line prefix that enters the namespace. */
    enter,
    /** Runs berth (against `roots`, with `env` added) in the namespace. */
    berth: (roots: Roots, args: string[], env: Record<string, string> = {}) =>
      berth(roots, args, env, enter),
    async berthOk(
      roots: Roots,
      args: string[],
      env: Record<string, string> = {},
    ): Promise<string> {
      const r = await this.berth(roots, args, env);
      if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    /** Runs a command in the namespace. */
    sh: (argv: string[]) => sh([...enter, ...argv]),
    async close() {
      await holder.stdout.cancel().catch(() => {});
      holder.kill("SIGKILL");
      await holder.status;
    },
  };
}

/** The arguments of `run -d` of a `sleep 1000` container `id` of `rootfs` on network `net`. */
export function sleepingArgs(rootfs: string, id: string, net: string): string[] {
  return ["run", "-d", "--network", net, "--rootfs", rootfs, id, "--", "sleep", "1000"];
}

/** `run -d` of a `sleep 1000` container `id` on network `net`, by berth inside `ns`. */
export function runSleeping(
  ns: Awaited<ReturnType<typeof privateNs>>,
  roots: Roots,
  rootfs: string,
  id: string,
  net: string,
): Promise<string> {
  return ns.berthOk(roots, sleepingArgs(rootfs, id, net));
}

/**
 * `roots` with iptables, iptables-save and iptables-restore logged: each
 * run appends its name to a log (xtables-nft-multi's name stays at the end
 * of the link: berth reads nf_tables' generation only there). `calls`
 * returns the runs since its last call; `remove` deletes the shims.
 */
export async function iptablesLog(roots: Roots): Promise<{
  roots: Roots;
  calls: () => string[];
  remove: () => Promise<void>;
}> {
  const shim = await Deno.makeTempDir({ prefix: "berth-ipt-" });
  const log = join(shim, "calls.log");
  Deno.writeTextFileSync(log, "");
  const multi = join(shim, "bin", "xtables-nft-multi");
  Deno.mkdirSync(join(shim, "bin"));
  Deno.writeTextFileSync(
    multi,
    `#!/bin/bash\necho "$(basename "$0")" >> ${log}\n` +
      `exec -a "$(basename "$0")" /usr/sbin/xtables-nft-multi "$@"\n`,
  );
  Deno.chmodSync(multi, 0o755);
  for (const n of ["iptables", "iptables-save", "iptables-restore"]) {
    Deno.symlinkSync(multi, join(shim, n));
  }
  return {
    roots: { ...roots, env: { ...roots.env, PATH: `${shim}:${Deno.env.get("PATH")}` } },
    calls: () => {
      const out = Deno.readTextFileSync(log).split("\n").filter((l) => l !== "");
      Deno.writeTextFileSync(log, "");
      return out;
    },
    remove: () => Deno.remove(shim, { recursive: true }),
  };
}
