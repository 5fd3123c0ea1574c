/**
 * berth's benchmarks, side by side with raw runc in one run, interleaved,
 * on the same busybox rootfs. Prints a table (median, min–max, ratio
 * berth/runc) and writes the figures as JSON.
 *
 *   deno task bench [--quick] [--out FILE] [--only lifecycle,networks]
 *
 * --quick: fewer iterations and 100 instead of 1,000 containers for `list`.
 * --only: just the named ones of the first two sections (`lifecycle`,
 * `networks`), then the report; every later section is skipped.
 * Needs root, runc and busybox-static (scripts/setup.sh installs them).
 *
 * "berth" is the shipped code: the bundle `deno task build` makes (one
 * module; `deno task compile` embeds it), run as `deno run -A dist/berth.js`
 * (or the binary named by BERTH_TEST_BINARY). The start-up-bound figures
 * are also taken for the checkout, `deno run -A main.ts` (70 modules).
 */

import { join } from "../lib/_std/path.ts";
import { defaultSpec } from "../lib/host/spec.ts";
import { busyboxLayer, tarOf, writeOciLayout } from "../tests/image_fixture.ts";
import { haveRegistryTools, push, startRegistry } from "../tests/image_registry.ts";

const quick = Deno.args.includes("--quick");
const outAt = Deno.args.indexOf("--out");
const OUT = outAt >= 0 ? Deno.args[outAt + 1]! : "bench-results.json";
const ROUNDS = quick ? 8 : 20;
const SCALE = quick ? [0, 100] : [0, 100, 1000];
const LOAD_SECONDS = quick ? 4 : 10;
const onlyAt = Deno.args.indexOf("--only");
const ONLY = onlyAt >= 0 ? new Set((Deno.args[onlyAt + 1] ?? "").split(",")) : null;
const want = (section: string) => ONLY === null || ONLY.has(section);

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const BUNDLE = new URL("../dist/berth.js", import.meta.url).pathname;
const dec = new TextDecoder();

/** How berth is run: the shipped form, and the checkout. */
const SHIPPED = Deno.env.get("BERTH_TEST_BINARY")
  ? [Deno.env.get("BERTH_TEST_BINARY")!]
  : [Deno.execPath(), "run", "-A", "--quiet", BUNDLE];
const CHECKOUT = [Deno.execPath(), "run", "-A", "--quiet", MAIN];
if (!Deno.env.get("BERTH_TEST_BINARY")) {
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build"],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!built.success) {
    console.error(dec.decode(built.stderr));
    throw new Error("deno task build failed");
  }
}

const base = await Deno.makeTempDir({ prefix: "berth-bench-" });
const env = {
  BERTH_ROOT: join(base, "run"),
  BERTH_DATA_ROOT: join(base, "data"),
  // Its own host-wide network directory: the bench's `bridge` is its own.
  BERTH_NETWORK_DIR: join(base, "networks"),
  BERTH_MONITOR_IDLE_MS: "3000",
  // The plain lifecycle rows measure containers without a network; the
  // network rows name theirs.
  BERTH_NETWORK: "none",
};
const RUNC_ROOT = join(base, "runc");
const rootfs = join(base, "rootfs");
const script = new URL("./make_rootfs.sh", import.meta.url).pathname;
await new Deno.Command("bash", { args: [script, rootfs] }).output();

// A raw runc bundle on the same rootfs (read-only: runc must not modify it).
const runcBundle = join(base, "bundle");
await Deno.mkdir(runcBundle);
const spec = defaultSpec();
spec.root = { path: rootfs, readonly: true };
spec.process!.args = ["sleep", "100000"];
await Deno.writeTextFile(join(runcBundle, "config.json"), JSON.stringify(spec));

/**
 * Runs a command and times it. `runc run -d` and `runc create` hand their
 * stdio to the container: those get null stdio, or waiting for the pipes'
 * EOF would hang until the container exits.
 */
async function sh(
  argv: string[],
  detachedContainer = false,
  extraEnv: Record<string, string> = {},
): Promise<{ ms: number; code: number; out: string }> {
  const t0 = performance.now();
  const stdio = detachedContainer ? "null" : "piped";
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: { ...env, ...extraEnv },
    stdin: "null",
    stdout: stdio,
    stderr: stdio,
  }).spawn();
  const timer = setTimeout(() => {
    console.error(`timed out: ${argv.join(" ")}`);
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 60_000);
  let code: number, out = "";
  if (detachedContainer) code = (await child.status).code;
  else {
    const o = await child.output();
    code = o.code;
    out = dec.decode(o.stdout);
  }
  clearTimeout(timer);
  return { ms: performance.now() - t0, code, out };
}
// --root on tmpfs, as /run is on a normal host.
await Deno.mkdir(env.BERTH_ROOT);
const tmpfs =
  (await sh(["mount", "-t", "tmpfs", "-o", "mode=0711", "tmpfs", env.BERTH_ROOT])).code === 0;
const berth = (args: string[]) => sh([...SHIPPED, ...args]);
/** berth with its bridge networks set up by the CNI plugins (their fallback path). */
const berthCni = (args: string[]) => sh([...SHIPPED, ...args], false, { BERTH_CNI_ONLY: "1" });
const fromCheckout = (args: string[]) => sh([...CHECKOUT, ...args]);
const runc = (args: string[]) =>
  sh(
    ["runc", "--root", RUNC_ROOT, ...args],
    args[0] === "create" || (args[0] === "run" && args.includes("-d")),
  );

async function must<T extends { code: number }>(p: Promise<T>, what: string): Promise<T> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code})`);
  return r;
}

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}
function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: round(mid), min: round(s[0]!), max: round(s[s.length - 1]!), n: s.length };
}
function round(x: number): number {
  return Math.round(x * 10) / 10;
}

const results: Record<string, unknown> = {
  machine: {
    kernel: Deno.osRelease(),
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    runc: (await sh(["runc", "--version"])).out.split("\n")[0],
    date: new Date().toISOString(),
    quick,
    rootOnTmpfs: tmpfs,
  },
};
const rows: string[][] = [[
  "benchmark",
  "berth median (min–max)",
  "reference median (min–max)",
  "ratio",
]];
function row(name: string, b: Stat, ref: Stat | null, refName = "runc") {
  rows.push([
    name,
    `${b.median} ms (${b.min}–${b.max})`,
    ref === null ? "-" : `${refName} ${ref.median} ms (${ref.min}–${ref.max})`,
    ref === null ? "-" : `${round(b.median / ref.median)}×`,
  ]);
}
/** A row for the checkout form next to the same reference. */
function checkoutRow(name: string, b: Stat, ref: Stat | null) {
  row(`  from a checkout (main.ts): ${name}`, b, ref);
}
async function runcWaitStopped(id: string) {
  for (let i = 0; i < 2000; i++) {
    const r = await runc(["state", id]);
    if (r.code !== 0 || JSON.parse(r.out).status === "stopped") return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

const progress = (msg: string) =>
  console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

// ---- lifecycle ------------------------------------------------------------
if (want("lifecycle")) {
  progress("lifecycle");
  const b: number[] = [], c: number[] = [], r: number[] = [];
  // Warm up (the first berth command also starts the monitor).
  for (const run of [berth, fromCheckout]) {
    await must(run(["run", "-d", "--rootfs", rootfs, "warm", "--", "sleep", "100000"]), "warm-up");
    await must(run(["delete", "-f", "warm"]), "warm-up delete");
  }
  for (let i = 0; i < ROUNDS; i++) {
    for (const [run, xs] of [[berth, b], [fromCheckout, c]] as const) {
      const t0 = performance.now();
      await must(
        run(["run", "-d", "--rootfs", rootfs, `l${i}`, "--", "sleep", "100000"]),
        "berth run -d",
      );
      await must(run(["delete", "-f", `l${i}`]), "berth delete -f");
      xs.push(performance.now() - t0);
    }
    const t0 = performance.now();
    await must(runc(["run", "-d", "--bundle", runcBundle, `l${i}`]), "runc run -d");
    await must(runc(["kill", `l${i}`, "KILL"]), "runc kill");
    await runcWaitStopped(`l${i}`);
    await must(runc(["delete", "-f", `l${i}`]), "runc delete");
    r.push(performance.now() - t0);
  }
  const bs = stat(b), cs = stat(c), rs = stat(r);
  results.lifecycle = {
    berth: bs,
    checkout: cs,
    runc: rs,
    ratio: round(bs.median / rs.median),
    checkoutRatio: round(cs.median / rs.median),
  };
  row("lifecycle: run -d + delete -f", bs, rs);
  checkoutRow("lifecycle", cs, rs);
}

// ---- networks ---------------------------------------------------------------
// run -d + delete -f on the default bridge network (berth's own set-up:
// lib/network/native.ts; 10.88.0.0/16, or 10.90+ where that is taken)
// against --network none, and with a port published on 127.0.0.1 against
// the bridge alone; then the same through the CNI plugins (bridge,
// host-local, portmap, firewall, loopback), all five interleaved.
const cniMissing = ["bridge", "host-local", "portmap", "firewall", "loopback"].filter((p) => {
  try {
    Deno.statSync(`/usr/lib/cni/${p}`);
    return false;
  } catch {
    return true;
  }
});
if (!want("networks")) {
  // --only without it
} else if (cniMissing.length > 0) {
  rows.push(["networks", `skipped: CNI plugins missing (${cniMissing.join(", ")})`, "-", "-"]);
} else {
  progress("networks");
  const none: number[] = [], bridge: number[] = [], published: number[] = [];
  // The same through the CNI plugins (BERTH_CNI_ONLY=1: the fallback path,
  // and berth's only one before it set its bridge networks up itself).
  const cniBridge: number[] = [], cniPublished: number[] = [];
  const port = 40000 + (Deno.pid % 10000);
  const publish = ["-p", `127.0.0.1:${port}:8080`];
  const modes = [
    [berth, ["--network", "none"], none],
    [berth, ["--network", "bridge"], bridge],
    [berth, ["--network", "bridge", ...publish], published],
    [berthCni, ["--network", "bridge"], cniBridge],
    [berthCni, ["--network", "bridge", ...publish], cniPublished],
  ] as const;
  await must(
    berth(["run", "-d", "--network", "bridge", "--rootfs", rootfs, "nw", "--", "sleep", "100000"]),
    "warm-up (bridge)",
  );
  await must(berth(["delete", "-f", "nw"]), "warm-up delete");
  for (let i = 0; i < ROUNDS; i++) {
    for (const [run, args, xs] of modes) {
      const t0 = performance.now();
      await must(
        run(["run", "-d", ...args, "--rootfs", rootfs, `n${i}`, "--", "sleep", "100000"]),
        `berth run -d ${args.join(" ")}`,
      );
      await must(run(["delete", "-f", `n${i}`]), "berth delete -f");
      xs.push(performance.now() - t0);
    }
  }
  const [n, b, p] = [stat(none), stat(bridge), stat(published)];
  const [cb, cp] = [stat(cniBridge), stat(cniPublished)];
  // Paired: each round's difference to its own --network none, the median of those.
  const over = (xs: number[]) => stat(xs.map((x, i) => x - none[i]!)).median;
  results.network = {
    none: n,
    bridge: b,
    published: p,
    cniBridge: cb,
    cniPublished: cp,
    pairedOverNone: {
      bridge: over(bridge),
      published: over(published),
      cniBridge: over(cniBridge),
      cniPublished: over(cniPublished),
    },
  };
  row("lifecycle --network bridge (ref: --network none)", b, n, "none");
  row("lifecycle --network bridge -p (ref: bridge alone)", p, b, "bridge");
  row("  the same through the CNI plugins: bridge (ref: none)", cb, n, "none");
  row("  the same through the CNI plugins: bridge -p (ref: none)", cp, n, "none");
  rows.push([
    "  over --network none (paired medians)",
    `bridge +${over(bridge)} ms, -p +${over(published)} ms`,
    `plugins: bridge +${over(cniBridge)} ms, -p +${over(cniPublished)} ms`,
    "-",
  ]);
  const inspect = await berth(["network", "inspect", "bridge"]);
  if (inspect.code === 0) {
    const dev = JSON.parse(inspect.out)[0].bridge as string;
    await sh(["ip", "link", "delete", dev, "type", "bridge"]);
  }
}

if (ONLY !== null) {
  await report();
  Deno.exit(0);
}

// ---- lifecycle with limits, a health check (and a bind volume) -----------------
progress("lifecycle with options");
{
  // `-v` once the run-options work has landed; the row says which options ran.
  const help = await berth(["create", "--help"]);
  const hasVolume = /--volume/.test(help.out);
  const bindDir = join(base, "bind");
  await Deno.mkdir(bindDir, { recursive: true });
  const opts = [
    ...(hasVolume ? ["-v", `${bindDir}:/mnt`] : []),
    "--memory",
    "64m",
    "--health-cmd",
    "true",
    "--health-interval",
    "1s",
  ];
  const plain: number[] = [], withOpts: number[] = [];
  await must(
    berth(["run", "-d", ...opts, "--rootfs", rootfs, "ow", "--", "sleep", "100000"]),
    "warm",
  );
  await must(berth(["delete", "-f", "ow"]), "warm delete");
  for (let i = 0; i < ROUNDS; i++) {
    for (const [xs, extra] of [[plain, []], [withOpts, opts]] as const) {
      const t0 = performance.now();
      await must(
        berth(["run", "-d", ...extra, "--rootfs", rootfs, `o${i}`, "--", "sleep", "100000"]),
        "berth run -d (options)",
      );
      await must(berth(["delete", "-f", `o${i}`]), "berth delete -f (options)");
      xs.push(performance.now() - t0);
    }
  }
  const ps = stat(plain), os = stat(withOpts);
  const what = `${hasVolume ? "-v bind, " : ""}--memory, --health-cmd`;
  results.lifecycleWithOptions = {
    options: what,
    plain: ps,
    withOptions: os,
    ratio: round(os.median / ps.median),
  };
  row(`lifecycle with ${what} (÷ plain berth)`, os, ps, "plain");
}

// ---- single commands --------------------------------------------------------
progress("single commands");
const empty = join(base, "empty.ts");
await Deno.writeTextFile(empty, "");
/** One bare `deno run` of an empty script: Deno's own start-up. */
const bareDeno = () => sh([Deno.execPath(), "run", "-A", "--quiet", empty]);
/**
 * How much longer than a bare `deno run` each of `xs` took: the median of
 * the differences to the bare run of the same round. This machine's speed
 * drifts by a third over minutes; pairs taken seconds apart do not.
 */
function overBare(xs: number[], bare: number[]): number {
  return stat(xs.map((x, i) => x - bare[i]!)).median;
}
{
  await must(berth(["run", "-d", "--rootfs", rootfs, "st", "--", "sleep", "100000"]), "run st");
  await must(runc(["run", "-d", "--bundle", runcBundle, "st"]), "runc run st");
  const b: number[] = [], c: number[] = [], r: number[] = [], bare: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    bare.push((await bareDeno()).ms);
    b.push((await must(berth(["state", "st"]), "state")).ms);
    c.push((await must(fromCheckout(["state", "st"]), "state")).ms);
    r.push((await must(runc(["state", "st"]), "runc state")).ms);
  }
  results.state = {
    berth: stat(b),
    checkout: stat(c),
    runc: stat(r),
    bareDeno: stat(bare),
    overBareDeno: overBare(b, bare),
    checkoutOverBareDeno: overBare(c, bare),
  };
  row("bare `deno run` of an empty script", stat(bare), null);
  row("state (running container)", stat(b), stat(r));
  rows.push(["  state − bare `deno run` (paired)", `+${overBare(b, bare)} ms`, "-", "-"]);
  checkoutRow("state", stat(c), stat(r));
  rows.push([
    "  from a checkout (main.ts): state − bare `deno run`",
    `+${overBare(c, bare)} ms`,
    "-",
    "-",
  ]);
  await must(berth(["delete", "-f", "st"]), "delete st");
  await must(runc(["delete", "-f", "st"]), "runc delete st");
}
{
  const listResults: Record<string, unknown> = {};
  let have = 0;
  for (const n of SCALE) {
    // Grow both to n created containers, 8 at a time.
    for (let i = have; i < n; i += 8) {
      await Promise.all([...Array(Math.min(8, n - i))].map((_, k) =>
        Promise.all([
          must(
            berth(["create", "--rootfs", rootfs, `c${i + k}`, "--", "sleep", "100000"]),
            "create",
          ),
          must(runc(["create", "--bundle", runcBundle, `c${i + k}`]), "runc create"),
        ])
      ));
    }
    have = n;
    progress(`list with ${n}`);
    const b: number[] = [], c: number[] = [], r: number[] = [], bare: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      if (n === 0) bare.push((await bareDeno()).ms);
      for (const [run, xs] of [[berth, b], [fromCheckout, c]] as const) {
        const bl = await must(run(["list", "-q"]), "list");
        if (bl.out.split("\n").filter((l) => l).length !== n) {
          throw new Error(`berth list: expected ${n}`);
        }
        xs.push(bl.ms);
      }
      r.push((await must(runc(["list", "-q"]), "runc list")).ms);
    }
    listResults[n] = {
      berth: stat(b),
      checkout: stat(c),
      runc: stat(r),
      ratio: round(stat(b).median / stat(r).median),
      checkoutRatio: round(stat(c).median / stat(r).median),
    };
    row(`list with ${n} containers`, stat(b), stat(r));
    if (n === 0) {
      results.listEmptyOverBareDeno = { berth: overBare(b, bare), checkout: overBare(c, bare) };
      rows.push(["  list − bare `deno run` (paired)", `+${overBare(b, bare)} ms`, "-", "-"]);
    }
    checkoutRow(`list with ${n}`, stat(c), stat(r));
    if (n === 0) {
      rows.push([
        "  from a checkout (main.ts): list − bare `deno run`",
        `+${overBare(c, bare)} ms`,
        "-",
        "-",
      ]);
    }
  }
  results.list = listResults;
  // Prefix lookup and state cost with many containers.
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) b.push((await must(berth(["state", "c5"]), "state c5")).ms);
  results.stateAtScale = { containers: have, berth: stat(b) };
  row(`state with ${have} containers`, stat(b), null);
  // Clean up the created ones (in parallel batches).
  const ids = [...Array(have)].map((_, i) => `c${i}`);
  for (let i = 0; i < ids.length; i += 50) {
    await must(berth(["delete", ...ids.slice(i, i + 50)]), "delete batch");
    await Promise.all(ids.slice(i, i + 50).map((id) => runc(["delete", "-f", id])));
  }
}

// ---- throughput -------------------------------------------------------------
progress("throughput");
async function throughput(
  kind: "berth" | "runc",
): Promise<{ lifecycles: number; perSecond: number; failures: number }> {
  const deadline = performance.now() + LOAD_SECONDS * 1000;
  let done = 0, failures = 0;
  await Promise.all([...Array(8)].map(async (_, c) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const id = `t${c}-${i}`;
      let ok: boolean;
      if (kind === "berth") {
        ok = (await berth(["run", "-d", "--rootfs", rootfs, id, "--", "sleep", "100000"])).code ===
            0 &&
          (await berth(["delete", "-f", id])).code === 0;
      } else {
        ok = (await runc(["run", "-d", "--bundle", runcBundle, id])).code === 0 &&
          (await runc(["delete", "-f", id])).code === 0;
      }
      if (ok) done++;
      else failures++;
    }
  }));
  return { lifecycles: done, perSecond: round(done / LOAD_SECONDS), failures };
}
{
  const b = await throughput("berth");
  const r = await throughput("runc");
  results.throughput = { seconds: LOAD_SECONDS, clients: 8, berth: b, runc: r };
  rows.push([
    `throughput: 8 clients, ${LOAD_SECONDS} s`,
    `${b.perSecond} lifecycles/s (${b.failures} failed)`,
    `runc ${r.perSecond} lifecycles/s`,
    `${round(b.perSecond / r.perSecond)}× runc's rate`,
  ]);
}

// ---- contention -----------------------------------------------------------------
progress("contention");
{
  await must(berth(["run", "-d", "--rootfs", rootfs, "hot", "--", "sleep", "100000"]), "run hot");
  const deadline = performance.now() + LOAD_SECONDS * 1000;
  const lat: number[] = [];
  let bad = 0;
  await Promise.all([...Array(8)].map(async (_, c) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const op = ["pause", "resume", "state"][(c + i) % 3]!;
      const r = await berth([op, "hot"]);
      lat.push(r.ms);
      if (r.code !== 0 && r.code !== 5) bad++;
      if (op === "state" && r.code === 0) JSON.parse(r.out); // must parse
    }
  }));
  results.contention = {
    clients: 8,
    seconds: LOAD_SECONDS,
    ops: lat.length,
    errors: bad,
    latency: stat(lat),
  };
  rows.push([
    `contention: 8 clients on one container, ${LOAD_SECONDS} s`,
    `${lat.length} ops, median ${stat(lat).median} ms, max ${stat(lat).max} ms`,
    `${bad} errors`,
    "-",
  ]);
  await must(berth(["delete", "-f", "hot"]), "delete hot");
}

// ---- monitor memory -------------------------------------------------------------
progress("monitor memory");
function monitorPid(): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (cmd.includes("__monitor") && cmd.includes(env.BERTH_ROOT)) return Number(e.name);
    } catch { /* gone */ }
  }
  return null;
}
function pssKb(pid: number): number {
  return Number(/^Pss:\s+(\d+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`))![1]);
}
{
  const settle = () => new Promise((r) => setTimeout(r, 2500)); // let the monitor trim its start-up pages
  await must(berth(["run", "-d", "--rootfs", rootfs, "m0", "--", "sleep", "100000"]), "run m0");
  await settle();
  const one = pssKb(monitorPid()!);
  // The last 10 have a terminal (`run -dt`): the monitor holds their masters (issue 14).
  const args = (n: number) =>
    n >= 40
      ? ["run", "-dt", "--rootfs", rootfs, `m${n}`, "--", "sh"]
      : ["run", "-d", "--rootfs", rootfs, `m${n}`, "--", "sleep", "100000"];
  for (let i = 1; i < 50; i += 8) {
    await Promise.all(
      [...Array(Math.min(8, 50 - i))].map((_, k) => must(berth(args(i + k)), "run m")),
    );
  }
  await settle();
  const fifty = pssKb(monitorPid()!);
  await must(berth(["delete", "-f", ...[...Array(50)].map((_, i) => `m${i}`)]), "delete m*");
  await new Promise((r) => setTimeout(r, 4000));
  const after = monitorPid();
  results.monitorMemory = {
    pssKbWith1: one,
    pssKbWith50: fifty,
    withTerminal: 10,
    perExtraContainerKb: round((fifty - one) / 49),
    monitorAfterDelete: after === null ? "gone" : `still running (pid ${after})`,
    conmonKbFor50: 422 * 50,
  };
  rows.push(["monitor Pss, 1 container", `${one} kB`, "conmon 422 kB each", "-"]);
  rows.push([
    "monitor Pss, 50 containers (10 with a terminal)",
    `${fifty} kB (${round((fifty - one) / 49)} kB per extra)`,
    `conmon ×50 = ${422 * 50} kB`,
    `${round(fifty / (422 * 50))}×`,
  ]);
  rows.push(["monitor after all are deleted", after === null ? "gone" : `still running`, "-", "-"]);
}

// ---- monitor memory with health checks -----------------------------------------
progress("monitor memory, 50 containers with a 1 s health check");
{
  const settle = () => new Promise((r) => setTimeout(r, 2500));
  const args = (n: number) => [
    "run",
    "-d",
    "--health-cmd",
    "true",
    "--health-interval",
    "1s",
    "--rootfs",
    rootfs,
    `h${n}`,
    "--",
    "sleep",
    "100000",
  ];
  for (let i = 0; i < 50; i += 8) {
    await Promise.all(
      [...Array(Math.min(8, 50 - i))].map((_, k) => must(berth(args(i + k)), "run h")),
    );
  }
  await settle();
  const pss = pssKb(monitorPid()!);
  // Exit recording while 50 checks a second run: kill one, time until its state says stopped.
  const recordMs: number[] = [];
  for (let i = 0; i < (quick ? 3 : 10); i++) {
    const t0 = performance.now();
    await must(berth(["kill", `h${i}`, "KILL"]), "kill h");
    for (;;) {
      const st = await berth(["state", `h${i}`]);
      if (JSON.parse(st.out).status === "stopped") break;
    }
    recordMs.push(performance.now() - t0);
  }
  const healthy = JSON.parse((await berth(["state", "h49"])).out).health;
  await must(berth(["delete", "-f", ...[...Array(50)].map((_, i) => `h${i}`)]), "delete h*");
  await new Promise((r) => setTimeout(r, 4000));
  results.monitorMemoryHealth = {
    pssKbWith50: pss,
    conmonKbFor50: 422 * 50,
    killToRecordedMs: stat(recordMs),
    lastHealth: healthy,
  };
  rows.push([
    "monitor Pss, 50 containers with a 1 s health check",
    `${pss} kB (h49: ${healthy})`,
    `conmon ×50 = ${422 * 50} kB`,
    `${round(pss / (422 * 50))}×`,
  ]);
  rows.push([
    "  kill → exit recorded (state polled), with the checks running",
    `${round(stat(recordMs).median)} ms`,
    "-",
    "-",
  ]);
}

// ---- monitor memory: default bridge network, health checks, over time -----------
// Issue 21's figure: 50 containers on the default network (`bridge`, CNI)
// with a 1 s health check each. Sampled every second for 20 s after the
// 2.5 s settle as well: the checks' garbage makes the monitor's Pss a
// sawtooth, and a single sample early on missed its top.
if (cniMissing.length > 0) {
  rows.push([
    "monitor Pss, 50 containers, bridge network, 1 s health check",
    `skipped: CNI plugins missing (${cniMissing.join(", ")})`,
    "-",
    "-",
  ]);
} else {
  progress("monitor memory, 50 containers on the bridge network with a 1 s health check");
  const args = (n: number) => [
    "run",
    "-d",
    "--network",
    "bridge",
    "--health-cmd",
    "true",
    "--health-interval",
    "1s",
    "--rootfs",
    rootfs,
    `b${n}`,
    "--",
    "sleep",
    "100000",
  ];
  for (let i = 0; i < 50; i += 8) {
    await Promise.all(
      [...Array(Math.min(8, 50 - i))].map((_, k) => must(berth(args(i + k)), "run b")),
    );
  }
  await new Promise((r) => setTimeout(r, 2500));
  const pid = monitorPid()!;
  const first = pssKb(pid);
  const samples: number[] = [];
  for (let i = 0; i < (quick ? 5 : 20); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(pssKb(pid));
  }
  const over = stat(samples);
  await must(berth(["delete", "-f", ...[...Array(50)].map((_, i) => `b${i}`)]), "delete b*");
  await new Promise((r) => setTimeout(r, 4000));
  results.monitorMemoryBridgeHealth = {
    pssKbAfterSettle: first,
    pssKbOverTime: over,
    conmonKbFor50: 422 * 50,
  };
  rows.push([
    "monitor Pss, 50 containers, bridge network, 1 s health check",
    `${first} kB; next ${over.n} s: median ${over.median}, max ${over.max} kB`,
    `conmon ×50 = ${422 * 50} kB`,
    `${round(over.max / (422 * 50))}× (max)`,
  ]);
}

// ---- optional: ctr and podman ----------------------------------------------------
// What it takes to run them here (see BENCHMARKS.md): ctr needs a running
// containerd, so the bench starts its own on a private socket, root and
// state under its temp dir (no CRI plugin) and stops it afterwards, and an
// absolute command path (`/bin/sleep`: ctr does not search PATH). podman
// gets its own --root/--runroot/--tmpdir there, cgroupfs (no systemd), file
// events (no journald), no network, and rlimits below this host's hard
// ones: without `--ulimit`s it copies limits it may not set and runc's
// init fails with EPERM ("error setting rlimit type 7").
const CTR_DIR = join(base, "containerd");
const CTR_SOCK = join(CTR_DIR, "containerd.sock");
const CTR = ["ctr", "--address", CTR_SOCK];
const PODMAN_DIR = join(base, "podman");
const PODMAN = [
  "podman",
  "--root",
  join(PODMAN_DIR, "root"),
  "--runroot",
  join(PODMAN_DIR, "run"),
  "--tmpdir",
  join(PODMAN_DIR, "tmp"),
  "--cgroup-manager",
  "cgroupfs",
  "--events-backend",
  "file",
];

/**
 * One detached lifecycle with another tool on the same rootfs: start a
 * sleeping container, kill it, remove it.
 */
const OTHER_TOOLS: Record<string, (id: string) => string[][]> = {
  ctr: (id) => [
    [...CTR, "run", "-d", "--rootfs", rootfs, id, "/bin/sleep", "100000"],
    [...CTR, "task", "kill", "--signal", "SIGKILL", id],
    [
      "sh",
      "-c",
      `until ${CTR.join(" ")} task ls | grep -q "^${id} .*STOPPED"; do sleep 0.001; done`,
    ],
    [...CTR, "task", "delete", id],
    [...CTR, "container", "delete", id],
  ],
  podman: (id) => [
    [
      ...PODMAN,
      "run",
      "-d",
      "--name",
      id,
      "--network",
      "none",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=1024:1024",
      "--rootfs",
      rootfs,
      "/bin/sleep",
      "100000",
    ],
    [...PODMAN, "rm", "-f", "-t", "0", id],
  ],
  // podman on its own bridge network, next to berth's bridge row (issue 15).
  "podman-bridge": (id) => [
    [
      ...PODMAN,
      "run",
      "-d",
      "--name",
      id,
      "--network",
      "bridge",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=1024:1024",
      "--rootfs",
      rootfs,
      "/bin/sleep",
      "100000",
    ],
    [...PODMAN, "rm", "-f", "-t", "0", id],
  ],
};

/** Starts a private containerd for ctr; its stop function, or null when it did not come up. */
async function startContainerd(): Promise<(() => Promise<void>) | null> {
  await Deno.mkdir(CTR_DIR, { recursive: true });
  const config = join(CTR_DIR, "config.toml");
  await Deno.writeTextFile(
    config,
    [
      "version = 2",
      `root = ${JSON.stringify(join(CTR_DIR, "root"))}`,
      `state = ${JSON.stringify(join(CTR_DIR, "state"))}`,
      `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
      "[grpc]",
      `  address = ${JSON.stringify(CTR_SOCK)}`,
      "[ttrpc]",
      `  address = ${JSON.stringify(CTR_SOCK + ".ttrpc")}`,
      "",
    ].join("\n"),
  );
  const daemon = new Deno.Command("containerd", {
    args: ["--config", config],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      daemon.kill("SIGTERM");
    } catch { /* gone */ }
    await daemon.status;
  };
  for (let i = 0; i < 200; i++) {
    if ((await sh([...CTR, "version"])).code === 0) return stop;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  return null;
}

for (const [tool, steps] of Object.entries(OTHER_TOOLS)) {
  const needs = tool === "ctr" ? ["ctr", "containerd"] : [tool.replace(/-bridge$/, "")];
  const missing = [];
  for (const n of needs) {
    if ((await sh(["sh", "-c", `command -v ${n}`])).code !== 0) missing.push(n);
  }
  if (missing.length > 0) {
    rows.push([`${tool} lifecycle`, `skipped: ${missing.join(", ")} not installed`, "-", "-"]);
    (results as Record<string, unknown>)[tool] = "not installed";
    continue;
  }
  progress(`${tool} lifecycle`);
  let stopDaemon: (() => Promise<void>) | null = null;
  let failure: string | null = null;
  if (tool === "ctr") {
    stopDaemon = await startContainerd();
    if (stopDaemon === null) failure = "containerd did not start";
  }
  const xs: number[] = [];
  for (let i = 0; i < ROUNDS && failure === null; i++) {
    const t0 = performance.now();
    for (const argv of steps(`bench-${tool}-${i}`)) {
      const r = await sh(argv, argv.includes("-d"));
      if (r.code !== 0) {
        const own = argv[0] === "sh" ? [] : argv.slice(tool === "ctr" ? CTR.length : PODMAN.length);
        failure = `${
          [argv[0] === "sh" ? "sh -c" : tool, ...own.slice(0, 2)].join(" ")
        } exited ${r.code}`;
        break;
      }
    }
    xs.push(performance.now() - t0);
  }
  if (tool.startsWith("podman")) {
    await sh([...PODMAN, "rm", "-f", "-a", "-t", "0"]);
    await sh([
      "sh",
      "-c",
      `grep -o ' ${PODMAN_DIR}/[^ ]*' /proc/mounts | sort -r | xargs -r umount -l`,
    ]);
  }
  if (stopDaemon !== null) await stopDaemon();
  if (failure !== null) {
    rows.push([`${tool} lifecycle`, `failed: ${failure}`, "-", "-"]);
    (results as Record<string, unknown>)[tool] = { failed: failure };
  } else {
    const life = results.lifecycle as { berth: Stat };
    const net = results.network as { bridge: Stat } | undefined;
    (results as Record<string, unknown>)[tool] = { lifecycle: stat(xs) };
    if (tool === "podman-bridge") {
      if (net !== undefined) {
        row(
          "podman run -d --network bridge (berth's bridge row ÷ podman)",
          net.bridge,
          stat(xs),
          tool,
        );
      }
    } else {
      row(`${tool} lifecycle (berth ÷ ${tool} in the ratio column)`, life.berth, stat(xs), tool);
    }
  }
}

// ---- images -------------------------------------------------------------------
// Against one loopback registry (docker-registry): berth pull vs skopeo copy of
// an 8-layer image, run --rm --image vs run --rm --rootfs (pulled), images with 100.
if (!haveRegistryTools()) {
  rows.push(["images", "skipped: docker-registry or skopeo not installed", "-", "-"]);
} else {
  progress("images");
  const reg = await startRegistry();
  try {
    const layout = join(base, "oci");
    const noise = (n: number) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) {
        crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
      }
      return out;
    };
    const layers = [busyboxLayer(rootfs)];
    for (let i = 0; i < 7; i++) layers.push(tarOf([{ name: `data${i}`, data: noise(1 << 20) }]));
    await writeOciLayout(layout, "1", { layers, config: { Cmd: ["true"] } });
    const ref = `${reg.host}/bench:1`;
    await push(layout, "1", ref);
    const pulls = quick ? 3 : 8;
    // skopeo copy only fetches and verifies; skopeo + umoci unpack also
    // unpacks the layers into a root filesystem, as berth's pull does.
    const haveUmoci = (await sh(["umoci", "--version"]).catch(() => ({ code: 1 }))).code === 0;
    const b: number[] = [], k: number[] = [], u: number[] = [];
    for (let i = 0; i < pulls; i++) {
      await berth(["rmi", ref]);
      await must(berth(["image", "prune"]), "image prune");
      b.push((await must(berth(["pull", "-q", ref]), "pull")).ms);
      const dir = join(base, `skopeo-${i}`);
      const copy = (dest: string) =>
        sh(["skopeo", "copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, dest]);
      k.push((await must(copy(`dir:${dir}`), "skopeo copy")).ms);
      await Deno.remove(dir, { recursive: true });
      if (haveUmoci) {
        const oci = join(base, `oci-${i}`), unpacked = join(base, `unpacked-${i}`);
        const started = performance.now();
        await must(copy(`oci:${oci}:1`), "skopeo copy oci:");
        await must(sh(["umoci", "unpack", "--image", `${oci}:1`, unpacked]), "umoci unpack");
        u.push(round(performance.now() - started));
        await Deno.remove(oci, { recursive: true });
        await Deno.remove(unpacked, { recursive: true });
      }
    }
    row("pull (8 layers, 8 MB, loopback registry)", stat(b), stat(k), "skopeo copy");
    if (haveUmoci) row("  pull vs fetch + unpack", stat(b), stat(u), "skopeo copy + umoci unpack");
    const ri: number[] = [], rr: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ri.push((await must(berth(["run", "--rm", "--image", ref, "bi"]), "run --image")).ms);
      rr.push(
        (await must(berth(["run", "--rm", "--rootfs", rootfs, "br", "--", "true"]), "run")).ms,
      );
    }
    row("run --rm --image (pulled) vs run --rm --rootfs", stat(ri), stat(rr), "--rootfs");
    // 100 images (one shared layer, 100 configs), loaded from one OCI layout.
    const many = join(base, "oci-many");
    const one = [tarOf([{ name: "x", data: "x" }])];
    for (let i = 0; i < 100; i++) {
      await writeOciLayout(many, `example.com/many:${i}`, {
        layers: one,
        config: { Env: [`N=${i}`] },
      });
    }
    await must(berth(["load", "-q", "-i", many]), "load 100 images");
    const li: number[] = [], bare: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bare.push((await bareDeno()).ms);
      li.push((await must(berth(["images"]), "images")).ms);
    }
    results.images = {
      pull: stat(b),
      skopeoCopy: stat(k),
      ...(u.length > 0 ? { skopeoCopyUmociUnpack: stat(u) } : {}),
      runImage: stat(ri),
      runRootfs: stat(rr),
      images100: stat(li),
      images100OverBareDeno: overBare(li, bare),
    };
    row("images (100 images)", stat(li), null);
    rows.push(["  images − bare `deno run` (paired)", `+${overBare(li, bare)} ms`, "-", "-"]);
  } finally {
    await reg.stop();
  }
}

// ---- report --------------------------------------------------------------------
await report();

/** Prints the table, writes the JSON, cleans up. */
async function report(): Promise<void> {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  await Deno.writeTextFile(OUT, JSON.stringify(results, null, 2) + "\n");
  console.log(`\nwrote ${OUT}`);
  // What the rows left in the root goes before the root does: firewall rules
  // of its attachments are host-wide and would outlive it.
  await berth(["gc"]).catch(() => {});
  await sh(["umount", "-R", env.BERTH_ROOT]).catch(() => {});
  await Deno.remove(base, { recursive: true }).catch(() => {});
}
