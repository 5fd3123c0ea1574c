// Issue 22's "Done when" list, each command typed as a podman user types it
// (berth in place of podman), against an image pulled from a real registry
// (docker-registry on loopback): a busybox layer and a layer with /www.
// Only the environment points berth at the test's roots and network
// (BERTH_NETWORK: tests never use the host-wide default bridge).

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berthOk,
  busyboxRootfs,
  cleanup,
  freePort,
  freeTestSubnet,
  hasNetworking,
  makeRoots,
  type Roots,
} from "../helpers.ts";
import { busyboxLayer, tarOf, writeOciLayout } from "../image_fixture.ts";
import { haveRegistryTools, push, startRegistry } from "../image_registry.ts";

const ready = haveRegistryTools() && hasNetworking();
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

/** GET http://127.0.0.1:port/path → body, or null when nothing answers. */
async function get(port: number, path = "/"): Promise<string | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(3000),
    });
    return await r.text();
  } catch {
    return null;
  }
}

/** `get` until it answers `want` (httpd needs a moment after start). */
async function answers(port: number, path: string, want: string): Promise<void> {
  let last: string | null = null;
  for (let i = 0; i < 50; i++) {
    last = await get(port, path);
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`:${port}${path} answered ${JSON.stringify(last)}, not ${JSON.stringify(want)}`);
}

/**
 * Fresh roots, a network of their own (BERTH_NETWORK), and a registry
 * holding busybox plus /www/index.html as `IMAGE` (its ref).
 */
async function withWorld(
  fn: (roots: Roots, image: string, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const roots = await makeRoots();
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "berth-oci-" });
  const net = `pd${crypto.randomUUID().slice(0, 8)}`;
  try {
    const layout = join(work, "layout");
    await writeOciLayout(layout, "1", {
      layers: [
        busyboxLayer(await busyboxRootfs()),
        tarOf([
          { name: "www", type: "dir", mode: 0o755 },
          { name: "www/index.html", data: "hello from www\n", mode: 0o644 },
        ]),
      ],
      config: {
        Cmd: ["sh", "-c", "echo from-image-cmd"],
        Env: ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
      },
    });
    const ref = `${reg.host}/busybox:1`;
    await push(layout, "1", ref);
    await berthOk(roots, ["network", "create", "--subnet", freeTestSubnet(), net]);
    roots.env.BERTH_NETWORK = net;
    await fn(roots, ref, roots.env);
  } finally {
    await cleanup(roots); // the network too: its definition is in the roots, its bridge removed
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

Deno.test(
  "Done when: pull, images, run (--rm, its Cmd, -e, -d --name -p httpd), ps, logs, exec, inspect -f, port, top, stats, cp, rm",
  OPTS,
  async () => {
    await withWorld(async (roots, image) => {
      const ok = (args: string[]) => berthOk(roots, args);
      const pulled = await ok(["pull", image]);
      assertTrue(/^(sha256:)?[0-9a-f]{12,64}\n$/.test(pulled.split("\n").at(-2)! + "\n"), pulled);
      const repo = image.slice(0, image.lastIndexOf(":"));
      const images = (await ok(["images"])).split("\n");
      assertTrue(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/.test(images[0]!), images[0]);
      assertTrue(images.some((l) => l.startsWith(repo) && l.split(/\s+/)[1] === "1"), `${images}`);

      assertEquals(await ok(["run", "--rm", image, "echo", "hi", "there"]), "hi there\n");
      assertEquals(await ok(["run", "--rm", image]), "from-image-cmd\n");
      // Without --rm it stays, exited, with its log.
      const env = await ok(["run", "-e", "K=V", image, "env"]);
      assertTrue(env.split("\n").includes("K=V"), env);

      const port = freePort();
      const web = await ok([
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        `${port}:80`,
        image,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
      ]);
      assertEquals(web, "web\n");
      await answers(port, "/", "hello from www\n");

      const ps = (await ok(["ps"])).trimEnd().split("\n");
      assertEquals(ps.length, 2, ps.join("\n"));
      assertTrue(ps[1]!.endsWith(" web") && ps[1]!.includes(`0.0.0.0:${port}->80/tcp`), ps[1]);
      const all = (await ok(["ps", "-a"])).trimEnd().split("\n");
      assertEquals(all.length, 3, all.join("\n"));
      const exited = all.find((l) => l.includes(" env "))!;
      assertTrue(/ Exited \(0\) /.test(exited), exited);
      const envId = exited.split(/\s+/)[0]!;
      assertEquals(await ok(["ps", "--format", "{{.Names}}"]), "web\n");
      assertTrue((await ok(["logs", envId])).split("\n").includes("K=V"));

      assertEquals(await ok(["exec", "web", "cat", "/www/index.html"]), "hello from www\n");
      assertEquals(await ok(["inspect", "--format", "{{.State.Status}}", "web"]), "running\n");
      assertEquals(await ok(["inspect", "--format", "{{.State.Status}}", envId]), "exited\n");
      const ip = (await ok(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"])).trim();
      assertTrue(/^10\.\d+\.\d+\.\d+$/.test(ip), ip);
      assertEquals(await ok(["port", "web"]), `80/tcp -> 0.0.0.0:${port}\n`);
      assertTrue((await ok(["top", "web"])).includes("httpd -f -p 80 -h /www"));
      const stats = (await ok(["stats", "--no-stream", "web"])).trimEnd().split("\n");
      assertTrue(/^ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT/.test(stats[0]!), stats[0]);
      assertTrue(stats.length === 2 && /^web\s+web\s/.test(stats[1]!), stats.join("\n"));

      const dir = await Deno.makeTempDir({ prefix: "berth-done-" });
      try {
        await Deno.writeTextFile(join(dir, "new.html"), "copied in\n");
        assertEquals(await ok(["cp", join(dir, "new.html"), "web:/www/new.html"]), "");
        await answers(port, "/new.html", "copied in\n");
        assertEquals(await ok(["cp", "web:/www/index.html", join(dir, "out.html")]), "");
        assertEquals(await Deno.readTextFile(join(dir, "out.html")), "hello from www\n");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }

      assertEquals(await ok(["stop", "web"]), "web\n");
      assertEquals(await ok(["inspect", "--format", "{{.State.Status}}", "web"]), "exited\n");
      assertEquals(await get(port), null);
      await ok(["start", "web"]);
      await answers(port, "/", "hello from www\n");
      await ok(["restart", "web"]);
      await answers(port, "/new.html", "copied in\n");
      await ok(["pause", "web"]);
      assertEquals(await ok(["inspect", "--format", "{{.State.Status}}", "web"]), "paused\n");
      assertEquals(await ok(["unpause", "web"]), "web\n");
      await answers(port, "/", "hello from www\n");
      assertEquals(await ok(["rename", "web", "site"]), "");
      assertEquals(await ok(["ps", "--format", "{{.Names}}"]), "site\n");
      // stats names it by its name; its ID stays.
      assertEquals(
        await ok(["stats", "--no-stream", "--format", "{{.ID}} {{.Name}}", "site"]),
        "web site\n",
      );
      assertEquals(await ok(["rm", "-f", "site"]), "site\n");
      assertEquals(await get(port), null);
      assertEquals(await ok(["ps", "-aq"]), `${envId}\n`);
    });
  },
);

Deno.test(
  "Done when: create + start, kill + wait 137, run --rm -v VOL, container prune -f, system df, info",
  OPTS,
  async () => {
    await withWorld(async (roots, image) => {
      const ok = (args: string[]) => berthOk(roots, args);
      assertEquals(await ok(["create", "--name", "job", image, "echo", "made"]), "job\n");
      assertEquals(await ok(["inspect", "--format", "{{.State.Status}}", "job"]), "created\n");
      await ok(["start", "job"]);
      assertEquals(await ok(["wait", "job"]), "0\n");
      assertEquals(await ok(["logs", "job"]), "made\n");

      assertEquals(await ok(["run", "-d", "--name", "k", image, "sleep", "1000"]), "k\n");
      await ok(["kill", "k"]);
      assertEquals(await ok(["wait", "k"]), "137\n");

      const put = await ok([
        "run",
        "--rm",
        "-v",
        "vol1:/data",
        image,
        "sh",
        "-c",
        "echo kept > /data/f",
      ]);
      assertEquals(put, "");
      assertEquals(
        await ok(["run", "--rm", "-v", "vol1:/data", image, "sh", "-c", "cat /data/f"]),
        "kept\n",
      );

      assertEquals(await ok(["run", "-d", "--name", "live", image, "sleep", "1000"]), "live\n");
      const df = (await ok(["system", "df"])).split("\n");
      assertTrue(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/.test(df[0]!), df[0]);
      assertTrue(/^Images\s+1\s+1\s/.test(df[1]!), df[1]);
      assertTrue(/^Containers\s+3\s+1\s/.test(df[2]!), df[2]);
      assertTrue(/^Local Volumes\s+1\s+0\s/.test(df[3]!), df[3]);
      const info = await ok(["info"]);
      assertTrue(/\n {4}running: 1\n/.test(info) && /\n {4}stopped: 2\n/.test(info), info);

      // The container group mirrors the verbs, commit and export included.
      await ok(["container", "exec", "live", "sh", "-c", "echo committed > /mark"]);
      const tar = join(roots.root, "..", "live.tar");
      assertEquals(await ok(["container", "export", "-o", tar, "live"]), "");
      const listed = await new Deno.Command("tar", { args: ["-tf", tar], stdout: "piped" })
        .output();
      assertTrue(new TextDecoder().decode(listed.stdout).split("\n").includes("mark"));
      await ok(["container", "commit", "live", "example.com/live:1"]);
      assertEquals(
        await ok(["run", "--rm", "example.com/live:1", "cat", "/mark"]),
        "committed\n",
      );
      const pruned = await ok(["container", "prune", "-f"]);
      assertEquals(pruned.trim().split("\n").sort(), ["job", "k"]);
      assertEquals(await ok(["ps", "-aq"]), "live\n");
      await ok(["rm", "-f", "live"]);
    });
  },
);
