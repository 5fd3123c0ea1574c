/**
 * `-u, --user UID[:GID] | NAME[:GROUP]`: the process's user, a name
 * resolved in the container's own `/etc/passwd` and `/etc/group` (of the
 * source root filesystem, never the host's). An unknown name is exit 2.
 *
 * The files are read with `readInRoot` (lib/host/read_in_root.ts): a
 * symbolic link at `etc` or at the file, a file that is not a regular one
 * (`/dev/zero`) or one over 4 MiB is treated as no file, so a name cannot
 * be resolved ("no such user", as podman's "unable to find user") while a
 * numeric UID still works.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import { readInRoot } from "../host/read_in_root.ts";

/** The OCI `process.user` berth sets. */
export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

const NUMBER = /^[0-9]+$/;
const MAX_ID = 0xfffffffe;

/** Checks the syntax of a `--user` value (parse time). */
export function checkUserSyntax(value: string): void {
  const parts = value.split(":");
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(p))) {
    throw new InvalidArgument(`--user "${value}" must look like UID[:GID] or NAME[:GROUP]`);
  }
  for (const p of parts) {
    if (NUMBER.test(p) && Number(p) > MAX_ID) {
      throw new InvalidArgument(`--user "${value}": ${p} is out of range`);
    }
  }
}

function rows(text: string): string[][] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.split(":"));
}

/**
 * Resolves a `--user` value against the root filesystem at `rootfs` (or
 * an image's layer directories, topmost first).
 */
export function resolveUser(value: string, rootfs: string | readonly string[]): OciUser {
  checkUserSyntax(value);
  const roots = typeof rootfs === "string" ? [rootfs] : rootfs;
  const [who, group] = value.split(":") as [string, string | undefined];
  const passwd = rows(readInRoot(roots, "etc/passwd") ?? "");
  let uid: number;
  let gid = 0;
  let name: string | null = null;
  if (NUMBER.test(who)) {
    uid = Number(who);
    const row = passwd.find((r) => r[2] === who);
    if (row !== undefined) {
      name = row[0]!;
      gid = Number(row[3]);
    }
  } else {
    const row = passwd.find((r) => r[0] === who);
    if (row === undefined || !NUMBER.test(row[2] ?? "") || !NUMBER.test(row[3] ?? "")) {
      throw new InvalidArgument(`--user ${who}: no such user in the container's /etc/passwd`);
    }
    name = who;
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  const groups = rows(readInRoot(roots, "etc/group") ?? "");
  if (group !== undefined) {
    if (NUMBER.test(group)) gid = Number(group);
    else {
      const row = groups.find((r) => r[0] === group);
      if (row === undefined || !NUMBER.test(row[2] ?? "")) {
        throw new InvalidArgument(`--user ${value}: no such group in the container's /etc/group`);
      }
      gid = Number(row[2]);
    }
  }
  const user: OciUser = { uid, gid };
  if (name !== null) {
    const extra = groups.filter((r) => (r[3] ?? "").split(",").includes(name!))
      .map((r) => Number(r[2])).filter((g) => Number.isInteger(g) && g !== gid);
    if (extra.length > 0) user.additionalGids = [...new Set(extra)];
  }
  return user;
}
