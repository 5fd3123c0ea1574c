// --user resolution in a root filesystem's /etc/passwd and /etc/group (no processes).
import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { checkUserSyntax, resolveUser } from "../lib/options/process_user.ts";

async function fakeRoot(passwd: string, group: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/etc`);
  await Deno.writeTextFile(`${dir}/etc/passwd`, passwd);
  await Deno.writeTextFile(`${dir}/etc/group`, group);
  return dir;
}

Deno.test("names resolve in the container's files, numbers need none", async () => {
  const root = await fakeRoot(
    "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
    "root:x:0:\napp:x:1001:\nwheel:x:10:root,app\naudio:x:29:app\n",
  );
  try {
    assertEquals(resolveUser("app", root), { uid: 1000, gid: 1001, additionalGids: [10, 29] });
    assertEquals(resolveUser("app:wheel", root), { uid: 1000, gid: 10, additionalGids: [29] });
    assertEquals(resolveUser("1000", root), { uid: 1000, gid: 1001, additionalGids: [10, 29] });
    assertEquals(resolveUser("4242:7", root), { uid: 4242, gid: 7 });
    assertEquals(resolveUser("0", root), { uid: 0, gid: 0, additionalGids: [10] });
    assertThrows(() => resolveUser("ghost", root), InvalidArgument, "no such user");
    assertThrows(() => resolveUser("app:nogroup", root), InvalidArgument, "no such group");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an image's layers are searched topmost first", async () => {
  const lower = await fakeRoot("app:x:1:1::/:/bin/sh\n", "");
  const upper = await fakeRoot("app:x:2:2::/:/bin/sh\n", "");
  const empty = await Deno.makeTempDir();
  try {
    assertEquals(resolveUser("app", [empty, upper, lower]), { uid: 2, gid: 2 });
    assertEquals(resolveUser("app", [empty, lower]), { uid: 1, gid: 1 });
  } finally {
    for (const d of [lower, upper, empty]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("a link out of the root filesystem is not followed", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.symlink("/etc", `${root}/etc`);
    // The host's root user is not the container's.
    assertThrows(() => resolveUser("root", root), InvalidArgument, "no such user");
    assertEquals(resolveUser("0", root), { uid: 0, gid: 0 });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--user syntax", () => {
  for (const ok of ["0", "1000:1000", "app", "app:staff", "a.b-c_d"]) checkUserSyntax(ok);
  for (const bad of ["", ":1", "1:", "1:2:3", "a b", "99999999999", "-x"]) {
    assertThrows(() => checkUserSyntax(bad), InvalidArgument);
  }
});
