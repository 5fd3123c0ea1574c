/**
 * `build` rows of the benchmarks, side by side with `buildah bud` (the
 * Debian package) on one busybox base image loaded into both: a 5-step
 * build without the cache (`--no-cache`; buildah with `--layers`, a layer
 * per step as berth makes), and a fully cached rebuild. Rounds interleave
 * the two tools; medians. Used by scripts/bench.ts, or alone:
 * `deno run -A scripts/bench_build.ts [--rounds N]`.
 *
 * @module
 */

import { join } from "../lib/_std/path.ts";

/** A timed command's outcome. */
export interface Timed {
  ms: number;
  code: number;
  out: string;
}

/** What the rows need from their runner. */
export interface BuildBenchEnv {
  /** Runs argv (with berth's environment) and times it. */
  sh: (argv: string[]) => Promise<Timed>;
  /** The berth command line. */
  berth: string[];
  /** A scratch directory. */
  base: string;
  /** The busybox rootfs. */
  rootfs: string;
  rounds: number;
}

/** One row: name, berth's median (min–max), buildah's, ratio. */
export type Row = [string, string, string, string];

function median(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { median: r(mid), min: r(s[0]!), max: r(s[s.length - 1]!) };
}

function fmt(name: string, b: number[], ref: number[] | null, refName: string): Row {
  const bs = median(b);
  if (ref === null) return [name, `${bs.median} ms (${bs.min}–${bs.max})`, "-", "-"];
  const rs = median(ref);
  return [
    name,
    `${bs.median} ms (${bs.min}–${bs.max})`,
    `${refName} ${rs.median} ms (${rs.min}–${rs.max})`,
    `${Math.round((bs.median / rs.median) * 100) / 100}×`,
  ];
}

const CONTAINERFILE = `FROM localhost/bench-base:1
ENV GREETING=hello
WORKDIR /app
COPY data /app/data
RUN echo "$GREETING" > /app/greeting && cat /app/data > /app/copy
RUN ls -l /app > /app/listing
`;

/** Measures the build rows; returns them and the raw figures. */
export async function buildRows(
  e: BuildBenchEnv,
): Promise<{ rows: Row[]; results: Record<string, unknown> }> {
  const must = async (argv: string[]) => {
    const r = await e.sh(argv);
    if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.out}`);
    return r;
  };
  // The base: the rootfs imported by berth, and saved by it for buildah.
  const tar = join(e.base, "build-base.tar");
  await must(["tar", "-C", e.rootfs, "-cf", tar, "."]);
  await must([...e.berth, "import", tar, "localhost/bench-base:1"]);
  const archive = join(e.base, "build-base-oci.tar");
  await must([
    ...e.berth,
    "save",
    "--format",
    "oci-archive",
    "-o",
    archive,
    "localhost/bench-base:1",
  ]);
  const ctx = join(e.base, "build-ctx");
  await Deno.mkdir(ctx, { recursive: true });
  await Deno.writeTextFile(join(ctx, "Containerfile"), CONTAINERFILE);
  await Deno.writeTextFile(join(ctx, "data"), "data\n".repeat(1000));
  const b: number[] = [], bc: number[] = [];
  const haveBuildah = (await e.sh(["buildah", "--version"]).catch(() => ({ code: 1 }))).code === 0;
  const storage = join(e.base, "buildah");
  const buildah = (args: string[]) => [
    "buildah",
    "--root",
    join(storage, "root"),
    "--runroot",
    join(storage, "runroot"),
    "--storage-driver",
    "overlay",
    ...args,
  ];
  const k: number[] = [], kc: number[] = [];
  if (haveBuildah) {
    const id = (await must(buildah(["pull", "-q", `oci-archive:${archive}`]))).out.trim();
    await must(buildah(["tag", id, "localhost/bench-base:1"]));
  }
  const berthBuild = (cache: boolean) => [
    ...e.berth,
    "build",
    "-q",
    ...(cache ? [] : ["--no-cache"]),
    "--network",
    "none",
    "-t",
    "bench-built:1",
    ctx,
  ];
  const buildahBud = (cache: boolean) =>
    buildah([
      "bud",
      "-q",
      "--layers",
      ...(cache ? [] : ["--no-cache"]),
      "--network",
      "none",
      "-t",
      "bench-built:1",
      ctx,
    ]);
  // Warm both (base layers unpacked, caches filled), then interleave.
  await must(berthBuild(true));
  if (haveBuildah) await must(buildahBud(true));
  for (let i = 0; i < e.rounds; i++) {
    b.push((await must(berthBuild(false))).ms);
    if (haveBuildah) k.push((await must(buildahBud(false))).ms);
    bc.push((await must(berthBuild(true))).ms);
    if (haveBuildah) kc.push((await must(buildahBud(true))).ms);
  }
  const rows: Row[] = [];
  if (haveBuildah) {
    rows.push(
      fmt("build, 5 steps, no cache (2 RUN, COPY, 2 config)", b, k, "buildah bud --layers"),
    );
    rows.push(fmt("build, 5 steps, fully cached rebuild", bc, kc, "buildah bud --layers"));
    await e.sh(buildah(["rmi", "-a", "-f"]));
    await e.sh(["umount", "-R", join(storage, "root", "overlay")]).catch(() => {});
  } else {
    rows.push(fmt("build, 5 steps, no cache", b, null, ""));
    rows.push(fmt("build, 5 steps, fully cached rebuild", bc, null, ""));
    rows.push(["build vs buildah bud", "skipped: buildah not installed", "-", "-"]);
  }
  return {
    rows,
    results: {
      build5: median(b),
      build5Cached: median(bc),
      ...(haveBuildah ? { buildah5: median(k), buildah5Cached: median(kc) } : {}),
    },
  };
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--rounds");
  const rounds = at >= 0 ? Number(Deno.args[at + 1]) : 5;
  const base = await Deno.makeTempDir({ prefix: "berth-bench-build-" });
  const env = {
    BERTH_ROOT: join(base, "run"),
    BERTH_DATA_ROOT: join(base, "data"),
    BERTH_NETWORK: "none",
  };
  const sh = async (argv: string[]): Promise<Timed> => {
    const t0 = performance.now();
    const o = await new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
    return { ms: performance.now() - t0, code: o.code, out };
  };
  const rootfs = join(base, "rootfs");
  const script = new URL("./make_rootfs.sh", import.meta.url).pathname;
  await new Deno.Command("bash", { args: [script, rootfs], stdout: "null" }).output();
  const main = new URL("../main.ts", import.meta.url).pathname;
  try {
    const { rows } = await buildRows({
      sh,
      berth: [Deno.execPath(), "run", "-A", "--quiet", main],
      base,
      rootfs,
      rounds,
    });
    for (const r of rows) console.log(r.join("  "));
  } finally {
    await sh([Deno.execPath(), "run", "-A", "--quiet", main, "gc"]);
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}
