/** `build`'s RUN steps: what the runtime made only to mount on is not the step's change. */

import { join } from "../lib/_std/path.ts";
import { dropMountPoints } from "../lib/build/_run_step.ts";
import { assertEquals } from "./assert.ts";
import { tempDir } from "./temp_dir.ts";

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(join(dir, rel))) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(p);
      if (e.isDirectory) walk(p);
    }
  };
  walk("");
  return out.sort();
}

Deno.test(
  "RUN step: empty mount points the image lacks (and directories made for them) are dropped; written ones and the image's own stay",
  {
    sanitizeResources: false, // the xattr calls' library stays loaded
  },
  async () => {
    await using dir = await tempDir();
    const layer = join(dir.path, "layer");
    const upper = join(dir.path, "upper");
    for (const p of ["etc", "proc", "sys/fs"]) Deno.mkdirSync(join(layer, p), { recursive: true });
    Deno.writeTextFileSync(join(layer, "etc/hostname"), "img\n");
    for (const p of ["etc", "proc", "dev/pts", "run/secrets", "data"]) {
      Deno.mkdirSync(join(upper, p), { recursive: true });
    }
    Deno.writeTextFileSync(join(upper, "etc/hosts"), ""); // made to mount on
    Deno.writeTextFileSync(join(upper, "etc/resolv.conf"), "nameserver 1.1.1.1\n"); // written by RUN
    Deno.writeTextFileSync(join(upper, "data/x"), "x\n");
    dropMountPoints(
      upper,
      ["etc/hosts", "etc/resolv.conf", "etc/hostname", "proc", "dev/pts", "run/secrets", "data"],
      [layer],
    );
    assertEquals(tree(upper), ["data", "data/x", "etc", "etc/resolv.conf", "proc"]);
  },
);
