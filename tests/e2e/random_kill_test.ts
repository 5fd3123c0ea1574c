// Black box: SIGKILL `berth run -d` and `berth delete -f` at random instants,
// then `berth gc`, and check every invariant — many times in a row.
import { assertEquals } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  cleanup,
  freePort,
  freeTestSubnet,
  hasNetworking,
  makeRoots,
  type Roots,
} from "../helpers.ts";
import { assertInvariants } from "./invariants.ts";
import { join } from "../../lib/_std/path.ts";
import { busyboxLayer, tarOf, writeOciLayout } from "../image_fixture.ts";
import { haveRegistryTools, push, startRegistry } from "../image_registry.ts";

const KILLS = Number(Deno.env.get("BERTH_RANDOM_KILLS") ?? "100");

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a run of random kills runs its containers with. */
interface Variant {
  /** Extra `run -d` options. */
  runArgs: string[];
  /** Setup commands for the roots (e.g. `network create`). */
  setup: string[][];
  /** Checked after every iteration and at the end. */
  check?: (roots: Roots, context: string) => Promise<void>;
}

async function randomKills(kills: number, variant: Variant): Promise<void> {
  const seed = Number(Deno.env.get("BERTH_RANDOM_SEED") ?? Date.now() % 1_000_000);
  console.log(`seed ${seed} (BERTH_RANDOM_SEED to replay)`);
  const random = prng(seed);
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const markers: Record<string, string> = {};
  const [exe, ...pre] = berthArgv();
  let killedMidway = 0;
  // How long each operation takes when it is not killed (learnt as it goes):
  // a kill is drawn within that span, so kills land while the operation runs
  // on a fast host and a slow one alike (a fixed 10-160 ms span let most
  // deletes finish first once they took ~35 ms).
  const span: Record<string, number> = { run: 150, delete: 150 };
  try {
    for (const s of variant.setup) await berthOk(roots, s);
    // Until `kills` processes were really killed midway (bounded).
    for (let i = 0; killedMidway < kills && i < kills * 4; i++) {
      const exists = (await berth(roots, ["state", "rk"])).code === 0;
      const n = 200_000 + (Deno.pid % 1000) * 1000 + i;
      const args = exists
        ? ["delete", "-f", "rk"]
        : ["run", "-d", ...variant.runArgs, "--rootfs", rootfs, "rk", "--", "sleep", String(n)];
      if (!exists) markers.rk = `sleep ${n}`;
      const child = new Deno.Command(exe!, {
        args: [...pre, ...args],
        env: roots.env,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const op = args[0]!;
      const delay = 5 + Math.floor(random() * span[op]!);
      const started = performance.now();
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already done */ }
      }, delay);
      const status = await child.status;
      clearTimeout(timer);
      if (status.signal === "SIGKILL") killedMidway++;
      else span[op] = Math.max(20, 0.7 * span[op]! + 0.3 * (performance.now() - started));
      const g = await berth(roots, ["gc"]);
      const context = `iteration ${i}: ${op} killed after ${delay} ms`;
      assertEquals(g.code, 0, `${context}: gc: ${g.stderr}`);
      await assertInvariants(roots, markers, context);
      await variant.check?.(roots, context);
    }
    assertEquals(killedMidway, kills, "not enough kills landed");
    // The ID stays usable.
    await berth(roots, ["delete", "-f", "rk"]);
    await berthOk(roots, [
      "run",
      "--rm",
      ...variant.runArgs,
      "--rootfs",
      rootfs,
      "rk",
      "--",
      "true",
    ]);
    await variant.check?.(roots, "at the end");
  } finally {
    await cleanup(roots);
  }
}

Deno.test(`${KILLS} random SIGKILLs of run -d and delete -f: gc leaves every invariant true`, () =>
  randomKills(KILLS, { runArgs: [], setup: [] }));

const LIMIT_KILLS = Math.max(10, Math.round(KILLS / 4));

Deno.test(
  `${LIMIT_KILLS} random SIGKILLs of run -d and delete -f with limits, a health check and a log cap: ` +
    "gc leaves every invariant true",
  () =>
    randomKills(LIMIT_KILLS, {
      runArgs: [
        "--memory",
        "32m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "64",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
        "--log-max-size",
        "64k",
      ],
      setup: [],
    }),
);

const NET_KILLS = Math.max(10, Math.round(KILLS / 4));

Deno.test({
  name: `${NET_KILLS} random SIGKILLs of run -d and delete -f on a bridge network with -p: ` +
    "gc leaves every invariant true, and no rule, address or forwarded port",
  ignore: !hasNetworking(),
  fn: async () => {
    const subnet = freeTestSubnet();
    const prefix = subnet.split(".").slice(0, 3).join(".") + ".";
    const name = `rk${crypto.randomUUID().slice(0, 6)}`;
    const port = freePort();
    await randomKills(NET_KILLS, {
      runArgs: ["--network", name, "-p", `127.0.0.1:${port}:8080`],
      setup: [["network", "create", "--subnet", subnet, name]],
      check: async (roots, context) => {
        // While the container is there, its rules are meant to be.
        if ((await berth(roots, ["state", "rk"])).code === 0) return;
        const out = await new Deno.Command("iptables-save", { stdout: "piped", stderr: "null" })
          .output();
        const rules = new TextDecoder().decode(out.stdout);
        assertEquals(
          // The network's own shared rules (berth's chains) stay with the network.
          rules.split("\n").filter((l) =>
            (l.includes(`"${name}"`) || l.includes(prefix)) && !l.startsWith("-A BERTH-")
          ),
          [],
          `${context}: iptables rules of ${name}`,
        );
      },
    });
  },
});

const VOL_KILLS = Math.max(10, Math.round(KILLS / 4));

Deno.test(
  `${VOL_KILLS} random SIGKILLs of run -d and delete -f with a named volume, a bind and a tmpfs: ` +
    "gc leaves no half-made volume, and a recorded container's volume is there",
  async () => {
    const bind = await Deno.makeTempDir({ prefix: "berth-rk-bind-" });
    try {
      await randomKills(VOL_KILLS, {
        runArgs: ["-v", "rkvol:/d", "-v", `${bind}:/b:ro`, "--tmpfs", "/t:size=1m"],
        setup: [],
        check: async (roots, context) => {
          const dir = join(roots.dataRoot, "volumes/default");
          const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
          assertEquals(
            entries.filter((e) => e.name.startsWith(".")).map((e) => e.name),
            [],
            context,
          );
          if ((await berth(roots, ["state", "rk"])).code === 0) {
            assertEquals(
              entries.map((e) => e.name),
              ["rkvol"],
              `${context}: the volume rk records`,
            );
            assertEquals((await berth(roots, ["volume", "rm", "rkvol"])).code, 5, context);
          }
        },
      });
      assertEquals(await listDir(bind), [], "the read-only bind source was never written");
    } finally {
      await Deno.remove(bind, { recursive: true });
    }
  },
);

async function listDir(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
}

const PULL_KILLS = Number(Deno.env.get("BERTH_RANDOM_PULL_KILLS") ?? "30");

Deno.test(
  `${PULL_KILLS} random SIGKILLs of pull, run -d --image, delete -f and rmi: gc leaves the image store consistent`,
  {
    ignore: !haveRegistryTools(),
    sanitizeResources: false,
    sanitizeOps: false,
  },
  async () => {
    const seed = Number(Deno.env.get("BERTH_RANDOM_SEED") ?? Date.now() % 1_000_000);
    console.log(`seed ${seed} (BERTH_RANDOM_SEED to replay)`);
    const random = prng(seed);
    const roots = await makeRoots();
    const rootfs = await busyboxRootfs();
    const reg = await startRegistry();
    const layout = await Deno.makeTempDir({ prefix: "berth-oci-" });
    const [exe, ...pre] = berthArgv();
    const store = join(roots.dataRoot, "image");
    const names = (d: string) => {
      try {
        return [...Deno.readDirSync(join(store, d))].map((e) => e.name).sort();
      } catch {
        return [];
      }
    };
    let killedMidway = 0;
    try {
      const big = new Uint8Array(1 << 20);
      for (let i = 0; i < big.length; i += 65536) {
        crypto.getRandomValues(big.subarray(i, i + 65536));
      }
      const w = await writeOciLayout(layout, "1", {
        layers: [busyboxLayer(rootfs), tarOf([{ name: "big", data: big }])],
        config: { Cmd: ["sleep", "100000"] },
      });
      const ref = `${reg.host}/rk:1`;
      await push(layout, "1", ref);
      for (let i = 0; killedMidway < PULL_KILLS && i < PULL_KILLS * 4; i++) {
        const listed = (await berthOk(roots, ["images", "-q"])).trim() !== "";
        const exists = (await berth(roots, ["state", "rk"])).code === 0;
        const pick = random();
        const args = exists
          ? ["delete", "-f", "rk"]
          : !listed
          ? (pick < 0.5 ? ["pull", "-q", ref] : ["run", "-d", "--image", ref, "rk"])
          : (pick < 0.5 ? ["rmi", ref] : ["run", "-d", "--image", ref, "rk"]);
        const child = new Deno.Command(exe!, {
          args: [...pre, ...args],
          env: roots.env,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        const delay = 10 + Math.floor(random() * 250);
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already done */ }
        }, delay);
        const status = await child.status;
        clearTimeout(timer);
        if (status.signal === "SIGKILL") killedMidway++;
        const what = `iteration ${i} (${args.join(" ")} killed after ${delay} ms)`;
        const g = await berth(roots, ["gc"]);
        assertEquals(g.code, 0, `${what}: gc: ${g.stderr}`);
        // The store holds exactly what the records reference, nothing partial.
        const images = JSON.parse(await berthOk(roots, ["images", "--format", "json"]));
        const used = (await berth(roots, ["state", "rk"])).code === 0;
        assertEquals(names("tmp"), [], `${what}: partial downloads left`);
        if (images.length === 0) {
          assertEquals(used, false, `${what}: a container uses an image that is not listed`);
          assertEquals(names("layers"), [], `${what}: unreferenced layers left`);
        } else {
          assertEquals(images[0].id, w.configDigest, what);
          assertEquals(
            names("layers"),
            w.chainIds.map((d) => d.slice(7)).sort(),
            `${what}: layers`,
          );
        }
      }
      assertEquals(killedMidway, PULL_KILLS, "not enough kills landed");
      await berth(roots, ["delete", "-f", "rk"]);
      const r = await berth(roots, [
        "run",
        "--rm",
        "--image",
        ref,
        "rk",
        "--",
        "cat",
        "/etc/passwd",
      ]);
      assertEquals(r.code, 0, r.stderr);
    } finally {
      await cleanup(roots);
      await reg.stop();
      await Deno.remove(layout, { recursive: true });
    }
  },
);
