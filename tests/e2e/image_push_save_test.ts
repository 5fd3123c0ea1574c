// push and save end to end: a real registry (docker-registry on loopback),
// skopeo and umoci as the independent readers; berth load reads saves back.

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  cleanup,
  makeRoots,
  type Roots,
} from "../helpers.ts";
import {
  busyboxLayer,
  type ImageSpec,
  tarOf,
  writeOciLayout,
  type Written,
} from "../image_fixture.ts";
import { haveRegistryTools, push, type Registry, startRegistry } from "../image_registry.ts";

const ready = haveRegistryTools();
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

interface Env {
  roots: Roots;
  reg: Registry;
  rootfs: string;
  work: string;
  store: string;
  publish(name: string, tag: string, spec: ImageSpec): Promise<{ ref: string } & Written>;
}

async function withImages(fn: (e: Env) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "berth-push-" });
  let n = 0;
  try {
    await fn({
      roots,
      reg,
      rootfs,
      work,
      store: join(roots.dataRoot, "image"),
      async publish(name, tag, spec) {
        const layout = join(work, `layout${n++}`);
        const w = await writeOciLayout(layout, tag, spec);
        const ref = `${reg.host}/${name}:${tag}`;
        await push(layout, tag, ref);
        return { ref, ...w };
      },
    });
  } finally {
    await cleanup(roots);
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

let bbLayer: Uint8Array | null = null;
function base(rootfs: string): Uint8Array {
  return (bbLayer ??= busyboxLayer(rootfs));
}

/** Incompressible bytes. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(r.stdout);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return text;
}

/** Registry log lines of requests with `method` whose path contains `part`. */
function requests(log: string, method: string, part: string): string[] {
  return log.split("\n").filter((l) => l.includes(`"${method} `) && l.includes(part));
}

/** Every file under `dir` with its type, mode and content digest (umoci's rootfs). */
async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (
      const e of [...Deno.readDirSync(join(dir, rel))].sort((a, b) => a.name < b.name ? -1 : 1)
    ) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      const st = Deno.lstatSync(join(dir, p));
      let what = "";
      if (e.isSymlink) what = `-> ${Deno.readLinkSync(join(dir, p))}`;
      else if (e.isFile) {
        const d = await crypto.subtle.digest("SHA-256", Deno.readFileSync(join(dir, p)));
        what = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
      }
      out.push(`${p} ${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk("");
  return out;
}

/** skopeo copy SRC to an OCI layout, umoci unpack it: the rootfs's tree. */
async function unpackedTree(work: string, src: string, tag: string): Promise<string[]> {
  const layout = join(work, `check-${crypto.randomUUID().slice(0, 8)}`);
  await run("skopeo", ["copy", "--quiet", "--src-tls-verify=false", src, `oci:${layout}:${tag}`]);
  const bundle = `${layout}-bundle`;
  await run("umoci", ["unpack", "--image", `${layout}:${tag}`, bundle]);
  return await treeOf(join(bundle, "rootfs"));
}

Deno.test(
  "push to another repository of the same registry mounts every blob (no upload); to a second registry uploads; skopeo and umoci read the same image",
  OPTS,
  async () => {
    await withImages(async ({ roots, reg, rootfs, work, publish }) => {
      const img = await publish("app", "1", {
        layers: [
          base(rootfs),
          tarOf([{ name: "srv/", type: "dir" }, { name: "srv/a", data: "a\n" }]),
        ],
      });
      await berthOk(roots, ["pull", "-q", img.ref]);
      const before = reg.log().length;
      const r = await berth(roots, ["push", img.ref, `${reg.host}/copy/app:2`]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.trim(), img.manifestDigest);
      const log = reg.log().slice(before);
      assertEquals(requests(log, "POST", "mount=").length, 3, log); // config and two layers
      assertEquals(requests(log, "PATCH", "/blobs/uploads/").length, 0, log);
      assertEquals(requests(log, "PUT", "/blobs/uploads/").length, 0, log);
      const inspect = JSON.parse(
        await run("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/copy/app:2`]),
      );
      assertEquals(inspect.Digest, img.manifestDigest);

      const reg2 = await startRegistry();
      try {
        const dest = `${reg2.host}/other/app:3`;
        const r2 = await berth(roots, ["push", img.ref, dest]);
        assertEquals(r2.code, 0, r2.stderr);
        const log2 = reg2.log();
        assertEquals(requests(log2, "PUT", "/blobs/uploads/").length, 3, log2);
        assertEquals(requests(log2, "PUT", "/manifests/3").length, 1, log2);
        assertEquals(
          await unpackedTree(work, `docker://${dest}`, "3"),
          await unpackedTree(work, `docker://${img.ref}`, "1"),
        );
      } finally {
        await reg2.stop();
      }
    });
  },
);
