/**
 * The image store against podman, skopeo on a Debian-sized image (issue 24):
 * rows for `scripts/bench.ts`, also runnable alone:
 *
 *   deno run -A scripts/bench_image_store.ts [--rounds N] [--berth dist/berth.js|main.ts]
 *
 * The image is made from this host's own files (Debian 12): /etc, Python's
 * and Perl's libraries, zoneinfo, i18n, vim's runtime, /usr/sbin and
 * /usr/libexec in seven gzip layers, about 11,000 entries, 70 MB compressed
 * and 225 MB of tar on this host (the nginx image of issue 24: 10,678
 * entries, 81 MB), pushed to a loopback docker-registry. Every row is interleaved round by round, medians
 * compared; wall time of the whole command and its peak RSS (GNU time's
 * %M, the largest process of the command) are taken. podman runs with a
 * private --root/--runroot/--tmpdir, so "fresh store" means the same for
 * both: a new empty store each round. Every timed command starts with
 * nothing dirty on the file system (an untimed `sync`). A missing tool makes its rows say
 * "skipped".
 *
 * Stores are removed only after the last row. On ext4 without a journal
 * (this host's root) a file system skips, when it makes an inode, every
 * inode deleted in the last 60 s (300 s while its inode table block is
 * dirty), reading an inode table block for each: a pull that follows the
 * removal of 11,000 files spends seconds of system time in the kernel
 * (`recently_deleted`, `find_inode_bit`) when its inodes go to the block
 * group where those were freed (see `markTopDir` in lib/image/_ffi.ts). Removing
 * each store after its round made every pull but the first pay for the
 * one before (and "pull right after rmi ÷ fresh" swing from 0.87× to
 * 1.41× with the round count). The pull after `rmi` pays it by design:
 * podman's own pull after `podman rmi` is measured beside it. Both tools'
 * stores are made in one directory.
 *
 * @module
 */

import { join } from "../lib/_std/path.ts";
import { writeOciLayout } from "../tests/image_fixture.ts";
import { push, type Registry, startRegistry } from "../tests/image_registry.ts";

/** One measured command. */
interface Sample {
  ms: number;
  rssKb: number;
}

/** Median, min and max. */
interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

const dec = new TextDecoder();

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { median: r(mid), min: r(s[0]!), max: r(s[s.length - 1]!), n: s.length };
}

function onPath(tool: string): boolean {
  return (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").some((d) => {
    try {
      return d !== "" && Deno.statSync(join(d, tool)).isFile;
    } catch {
      return false;
    }
  });
}

/** What {@linkcode imageStoreBench} needs from its caller. */
export interface StoreBenchOptions {
  /** How berth is run (argv prefix). */
  berth: string[];
  /** A scratch directory (removed by the caller). */
  base: string;
  /** Rounds per row. */
  rounds: number;
  /** Progress lines. */
  progress?: (msg: string) => void;
}

/** The table rows (benchmark, berth, reference, ratio) and the figures as JSON. */
export interface StoreBenchResult {
  rows: string[][];
  results: Record<string, unknown>;
}

/** Runs the rows; never throws for a missing tool (its rows say "skipped"). */
export async function imageStoreBench(o: StoreBenchOptions): Promise<StoreBenchResult> {
  const rows: string[][] = [];
  const results: Record<string, unknown> = {};
  const progress = o.progress ?? (() => {});
  const missing = ["docker-registry", "skopeo"].filter((t) => !onPath(t));
  if (missing.length > 0) {
    rows.push(["image store vs podman", `skipped: ${missing.join(", ")} not installed`, "-", "-"]);
    return { rows, results };
  }
  const havePodman = onPath("podman");
  const dir = join(o.base, "store-bench");
  await Deno.mkdir(dir, { recursive: true });
  // podman refuses a --runroot longer than 50 characters: its stores go under a short path.
  const short = await Deno.makeTempDir({ prefix: "pb" });
  let n = 0;
  // berth's stores beside podman's: the same directory, so the same block groups to start from.
  const fresh = (what: string) => join(short, `${what}-${n++}`);

  const withTime = (() => {
    try {
      return Deno.statSync("/usr/bin/time").isFile;
    } catch {
      return false;
    }
  })();
  /**
   * Runs argv under GNU time (when there): wall ms (measured here) and peak
   * RSS in kB. Each starts with nothing dirty on the file system (a `sync`
   * first, not timed): berth makes each layer durable with one syncfs(2),
   * which also writes out whatever the command before left unsynced (podman
   * syncs nothing), so interleaved rounds charged berth for podman's
   * writeback (a load read 1.29× podman's; with a `sync` before each, run
   * by hand, 1.74–2.22 s against 2.01–2.23 s).
   */
  const timed = async (argv: string[], env: Record<string, string> = {}): Promise<Sample> => {
    await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output();
    const out = join(dir, `time-${n++}`);
    const full = withTime ? ["/usr/bin/time", "-o", out, "-f", "%M", ...argv] : argv;
    const t0 = performance.now();
    const r = await new Deno.Command(full[0]!, {
      args: full.slice(1),
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - t0;
    if (r.code !== 0) {
      throw new Error(`${argv.slice(0, 6).join(" ")} … exited ${r.code}: ${dec.decode(r.stderr)}`);
    }
    let rssKb = NaN;
    if (withTime) {
      rssKb = Number(Deno.readTextFileSync(out).trim().split("\n").pop());
      Deno.removeSync(out);
    }
    return { ms, rssKb };
  };
  const berthEnv = (data: string) => ({
    BERTH_ROOT: join(data, "run"),
    BERTH_DATA_ROOT: join(data, "data"),
    BERTH_NETWORK: "none",
  });
  const berth = (data: string, args: string[]) => timed([...o.berth, ...args], berthEnv(data));
  const podmanArgv = (root: string) => [
    "podman",
    "--root",
    join(root, "root"),
    "--runroot",
    join(root, "run"),
    "--tmpdir",
    join(root, "tmp"),
    "--storage-driver",
    "overlay",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
  ];
  const podman = (root: string, args: string[]) => timed([...podmanArgv(root), ...args]);
  const dropped: [string, boolean][] = [];
  /** Removes a store after the last row (see the module doc). */
  const drop = (path: string, podmanRoot = false) => {
    dropped.push([path, podmanRoot]);
  };
  const dropNow = async (path: string, podmanRoot = false) => {
    if (podmanRoot) {
      await new Deno.Command("podman", {
        args: [...podmanArgv(path).slice(1), "system", "reset", "-f"],
        stdout: "null",
        stderr: "null",
      }).output();
    }
    await Deno.remove(path, { recursive: true }).catch(() => {});
  };

  // ---- the image --------------------------------------------------------------
  progress("image store: making a Debian-sized image from this host's files");
  const groups = [
    ["etc", "usr/lib/python3"],
    ["usr/lib/python3.11"],
    ["usr/share/perl"],
    ["usr/share/zoneinfo", "usr/share/i18n"],
    ["usr/sbin"],
    ["usr/share/vim", "usr/share/mime", "usr/lib/x86_64-linux-gnu/gconv"],
    ["usr/libexec"],
  ];
  const layers: Uint8Array[] = [];
  let entries = 0;
  for (const g of groups) {
    const present = g.filter((p) => {
      try {
        return Deno.statSync(`/${p}`).isDirectory;
      } catch {
        return false;
      }
    });
    if (present.length === 0) continue;
    const file = join(dir, `layer${layers.length}.tar`);
    const t = await new Deno.Command("tar", {
      args: [
        "-C",
        "/",
        "--numeric-owner",
        "--sort=name",
        "--ignore-failed-read",
        "--exclude=*.pyc",
        "--exclude=__pycache__",
        "--no-wildcards-match-slash",
        "-cf",
        file,
        ...present,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    if (t.code > 1) throw new Error(`tar of ${present.join(" ")} failed`);
    const listed = await new Deno.Command("tar", { args: ["-tf", file], stdout: "piped" }).output();
    entries += dec.decode(listed.stdout).split("\n").filter((l) => l !== "").length;
    layers.push(Deno.readFileSync(file));
    Deno.removeSync(file);
  }
  const layout = join(dir, "oci");
  const written = await writeOciLayout(layout, "1", {
    layers,
    config: { Cmd: ["/bin/sh"] },
    created: new Date().toISOString(),
  });
  const blobSize = (d: string) => Deno.statSync(join(layout, "blobs", "sha256", d.slice(7))).size;
  const gz = written.layerDigests.reduce((a, d) => a + blobSize(d), 0);
  const raw = layers.reduce((a, l) => a + l.length, 0);
  layers.length = 0;
  const what = `${written.layerDigests.length} layers, ${entries} entries, ${
    (gz / 1e6).toFixed(0)
  } MB gz, ${(raw / 1e6).toFixed(0)} MB`;
  results.image = { layers: written.layerDigests.length, entries, gzBytes: gz, tarBytes: raw };

  const reg = await startRegistry();
  const extra: Registry[] = [];
  try {
    const ref = `${reg.host}/bench/debian:1`;
    await push(layout, "1", ref);
    const row = (name: string, b: Stat, ref: Stat | null, refName: string, unit = "ms") => {
      rows.push([
        name,
        `${b.median} ${unit} (${b.min}–${b.max})`,
        ref === null ? "-" : `${refName} ${ref.median} ${unit} (${ref.min}–${ref.max})`,
        ref === null ? "-" : `${Math.round((b.median / ref.median) * 100) / 100}×`,
      ]);
    };
    const mb = (s: Sample[]) => stat(s.map((x) => Math.round(x.rssKb / 102.4) / 10));
    const ms = (s: Sample[]) => stat(s.map((x) => x.ms));

    // ---- pull: fresh store, and again right after rmi --------------------------
    progress(`image store: pull (${what})`);
    const bFresh: Sample[] = [], pFresh: Sample[] = [], bAgain: Sample[] = [];
    const pAgain: Sample[] = [];
    const kept = fresh("berth-kept");
    await berth(kept, ["pull", "-q", ref]);
    const pKept = fresh("podman-kept");
    if (havePodman) await podman(pKept, ["pull", "-q", "--tls-verify=false", ref]);
    for (let i = 0; i < o.rounds; i++) {
      const b = fresh("berth");
      bFresh.push(await berth(b, ["pull", "-q", ref]));
      drop(b);
      if (havePodman) {
        const p = fresh("podman");
        pFresh.push(await podman(p, ["pull", "-q", "--tls-verify=false", ref]));
        drop(p, true);
      }
      await berth(kept, ["rmi", ref]);
      bAgain.push(await berth(kept, ["pull", "-q", ref]));
      if (havePodman) {
        await podman(pKept, ["rmi", ref]);
        pAgain.push(await podman(pKept, ["pull", "-q", "--tls-verify=false", ref]));
      }
    }
    drop(pKept, true);
    const title = `pull into a fresh store (${what})`;
    if (havePodman) {
      row(title, ms(bFresh), ms(pFresh), "podman pull");
      row("  peak RSS of that pull", mb(bFresh), mb(pFresh), "podman pull", "MB");
    } else rows.push([title, "skipped: podman not installed", "-", "-"]);
    row("pull right after rmi ÷ a pull into a fresh store", ms(bAgain), ms(bFresh), "fresh");
    if (havePodman) {
      row("  podman's: its pull right after podman rmi ÷ fresh", ms(pAgain), ms(pFresh), "fresh");
    }
    results.pull = {
      berthFresh: ms(bFresh),
      berthFreshRssMb: mb(bFresh),
      berthAfterRmi: ms(bAgain),
      ...(havePodman
        ? { podman: ms(pFresh), podmanRssMb: mb(pFresh), podmanAfterRmi: ms(pAgain) }
        : {}),
    };

    // ---- load ------------------------------------------------------------------
    progress("image store: load");
    const archive = join(dir, "debian.tar");
    const sk = await new Deno.Command("skopeo", {
      args: ["copy", "--quiet", `oci:${layout}:1`, `docker-archive:${archive}:bench/debian:1`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (sk.code !== 0) throw new Error(`skopeo copy to docker-archive: ${dec.decode(sk.stderr)}`);
    if (havePodman) {
      const bl: Sample[] = [], pl: Sample[] = [];
      for (let i = 0; i < o.rounds; i++) {
        const b = fresh("berth-load");
        bl.push(await berth(b, ["load", "-q", "-i", archive]));
        drop(b);
        const p = fresh("podman-load");
        pl.push(await podman(p, ["load", "-q", "-i", archive]));
        drop(p, true);
      }
      row("load of its docker-archive into a fresh store", ms(bl), ms(pl), "podman load");
      row("  peak RSS of that load", mb(bl), mb(pl), "podman load", "MB");
      results.load = { berth: ms(bl), podman: ms(pl), berthRssMb: mb(bl), podmanRssMb: mb(pl) };
    } else rows.push(["load vs podman load", "skipped: podman not installed", "-", "-"]);

    // ---- push: to a registry that lacks the image, and to one that has it ------
    progress("image store: push");
    const bp: Sample[] = [], kp: Sample[] = [], bh: Sample[] = [], kh: Sample[] = [];
    for (let i = 0; i < o.rounds; i++) {
      const r1 = await startRegistry();
      extra.push(r1);
      bp.push(await berth(kept, ["push", "-q", ref, `${r1.host}/x:1`]));
      await r1.stop();
      const r2 = await startRegistry();
      extra.push(r2);
      kp.push(
        await timed([
          "skopeo",
          "copy",
          "--quiet",
          "--dest-tls-verify=false",
          `oci:${layout}:1`,
          `docker://${r2.host}/x:1`,
        ]),
      );
      await r2.stop();
    }
    for (let i = 0; i < Math.max(o.rounds, 5); i++) {
      bh.push(await berth(kept, ["push", "-q", ref]));
      kh.push(
        await timed([
          "skopeo",
          "copy",
          "--quiet",
          "--dest-tls-verify=false",
          `oci:${layout}:1`,
          `docker://${ref}`,
        ]),
      );
    }
    row("push to a registry without the image", ms(bp), ms(kp), "skopeo copy");
    row(
      "push to a registry that has it (HEADs only; goal ≤ 100 ms)",
      ms(bh),
      ms(kh),
      "skopeo copy",
    );
    results.push = { lacks: ms(bp), skopeoLacks: ms(kp), has: ms(bh), skopeoHas: ms(kh) };

    // ---- save ------------------------------------------------------------------
    progress("image store: save");
    const bs: Sample[] = [], ks: Sample[] = [];
    for (let i = 0; i < o.rounds; i++) {
      const f1 = join(dir, `save-${i}.tar`), f2 = join(dir, `skopeo-${i}.tar`);
      bs.push(await berth(kept, ["save", "-o", f1, ref]));
      Deno.removeSync(f1);
      ks.push(
        await timed(["skopeo", "copy", "--quiet", `oci:${layout}:1`, `docker-archive:${f2}:x:1`]),
      );
      Deno.removeSync(f2);
    }
    row("save (docker-archive)", ms(bs), ms(ks), "skopeo copy oci: → docker-archive:");
    results.save = { berth: ms(bs), skopeo: ms(ks) };
    drop(kept);
  } finally {
    for (const [path, podmanRoot] of dropped) await dropNow(path, podmanRoot);
    for (const r of extra) await r.stop().catch(() => {});
    await reg.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(short, { recursive: true }).catch(() => {});
  }
  return { rows, results };
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--rounds");
  const rounds = at >= 0 ? Number(Deno.args[at + 1]) : 3;
  const bAt = Deno.args.indexOf("--berth");
  const script = new URL(bAt >= 0 ? `../${Deno.args[bAt + 1]}` : "../main.ts", import.meta.url)
    .pathname;
  const base = await Deno.makeTempDir({ prefix: "berth-bench-store-" });
  try {
    const { rows, results } = await imageStoreBench({
      berth: [Deno.execPath(), "run", "-A", "--quiet", script],
      base,
      rounds,
      progress: (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`),
    });
    const all = [
      ["benchmark", "berth median (min–max)", "reference median (min–max)", "ratio"],
      ...rows,
    ];
    const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
    for (const r of all) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}
