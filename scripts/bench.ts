/**
 * berth's benchmarks, side by side with raw runc in one run, interleaved,
 * on the same busybox rootfs. Prints a table (median, min–max, ratio
 * berth/runc) and writes the figures as JSON.
 *
 *   deno task bench [--quick] [--out FILE] [--only SECTION,...]
 *
 * --quick: fewer iterations and 100 instead of 1,000 containers for `list`.
 * --only: run only the named sections (lifecycle, networks, options, state,
 * list, throughput, contention, monitor, monitor-bridge, names, tools,
 * images, compose (needs images), build, image-store, podman, gc); the others print a
 * "skipped" row. `podman` is the podman dialect's rows: its run -d + rm -f
 * against the runc form's, `ps -a` with 100 containers against `runc list`
 * (in the list section), and `inspect --format` against `state` (in the
 * state section).
 * Needs root, runc and busybox-static (scripts/setup.sh installs them).
 *
 * "berth" is the shipped code: the bundle `deno task build` makes (one
 * module; `deno task compile` embeds it), run as `deno run -A dist/berth.js`
 * (or the binary named by BERTH_TEST_BINARY). The start-up-bound figures
 * are also taken for the checkout, `deno run -A main.ts` (70 modules).
 */

import { join } from "../lib/_std/path.ts";
import { RESOLVER_V8_FLAGS } from "../lib/network/mod.ts";
import { defaultSpec } from "../lib/host/spec.ts";
import { busyboxLayer, tarOf, writeOciLayout } from "../tests/image_fixture.ts";
import { haveRegistryTools, push, startRegistry } from "../tests/image_registry.ts";
import { imageStoreBench } from "./bench_image_store.ts";

const quick = Deno.args.includes("--quick");
const outAt = Deno.args.indexOf("--out");
const OUT = outAt >= 0 ? Deno.args[outAt + 1]! : "bench-results.json";
const ROUNDS = quick ? 8 : 20;
const SCALE = quick ? [0, 100] : [0, 100, 1000];
const LOAD_SECONDS = quick ? 4 : 10;
const onlyAt = Deno.args.indexOf("--only");
const ONLY = onlyAt >= 0 ? new Set(Deno.args[onlyAt + 1]!.split(",")) : null;
const skipped = new Set<string>();
/** Whether one of `sections` runs (all do without --only); one left out prints a "skipped" row. */
function want(...sections: string[]): boolean {
  if (ONLY === null || sections.some((x) => ONLY.has(x))) return true;
  const name = sections[0]!;
  if (!skipped.has(name)) rows.push([name, "skipped (--only)", "-", "-"]);
  skipped.add(name);
  return false;
}

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
): Promise<{ ms: number; code: number; out: string; err: string }> {
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
  let code: number, out = "", err = "";
  if (detachedContainer) code = (await child.status).code;
  else {
    const o = await child.output();
    code = o.code;
    out = dec.decode(o.stdout);
    err = dec.decode(o.stderr);
  }
  clearTimeout(timer);
  return { ms: performance.now() - t0, code, out, err };
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

async function must<T extends { code: number; err?: string }>(
  p: Promise<T>,
  what: string,
): Promise<T> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.err?.trim() ?? ""}`);
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
if (want("lifecycle", "tools")) {
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
// lib/network/_native.ts; 10.88.0.0/16, or 10.90+ where that is taken)
// against --network none, and with a port published on 127.0.0.1 against
// the bridge alone; then the same through the CNI plugins (bridge,
// host-local, portmap, firewall, loopback), in rounds of their own.
const cniMissing = ["bridge", "host-local", "portmap", "firewall", "loopback"].filter((p) => {
  try {
    Deno.statSync(`/usr/lib/cni/${p}`);
    return false;
  } catch {
    return true;
  }
});
if (!want("networks")) {
  // skipped
} else if (cniMissing.length > 0) {
  rows.push(["networks", `skipped: CNI plugins missing (${cniMissing.join(", ")})`, "-", "-"]);
} else {
  progress("networks");
  const none: number[] = [], bridge: number[] = [], published: number[] = [];
  // The same through the CNI plugins (BERTH_CNI_ONLY=1: the fallback path,
  // and berth's only one before it set its bridge networks up itself), in
  // rounds of their own with their own --network none: the plugins change
  // iptables at every set-up and tear-down, and interleaved with berth's
  // own rows they would make each of those list the rules again (berth
  // skips the listing while nf_tables' generation has not moved), which a
  // host where only berth runs never does.
  const noneCni: number[] = [], cniBridge: number[] = [], cniPublished: number[] = [];
  const port = 40000 + (Deno.pid % 10000);
  const publish = ["-p", `127.0.0.1:${port}:8080`];
  const native = [
    [berth, ["--network", "none"], none],
    [berth, ["--network", "bridge"], bridge],
    [berth, ["--network", "bridge", ...publish], published],
  ] as const;
  const plugins = [
    [berth, ["--network", "none"], noneCni],
    [berthCni, ["--network", "bridge"], cniBridge],
    [berthCni, ["--network", "bridge", ...publish], cniPublished],
  ] as const;
  await must(
    berth(["run", "-d", "--network", "bridge", "--rootfs", rootfs, "nw", "--", "sleep", "100000"]),
    "warm-up (bridge)",
  );
  await must(berth(["delete", "-f", "nw"]), "warm-up delete");
  for (const modes of [native, plugins]) {
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
  }
  const [n, b, p] = [stat(none), stat(bridge), stat(published)];
  const [cb, cp] = [stat(cniBridge), stat(cniPublished)];
  // Paired: each round's difference to its own --network none, the median of those.
  const over = (xs: number[], ref: number[]) => stat(xs.map((x, i) => x - ref[i]!)).median;
  results.network = {
    none: n,
    bridge: b,
    published: p,
    cniBridge: cb,
    cniPublished: cp,
    pairedOverNone: {
      bridge: over(bridge, none),
      published: over(published, none),
      cniBridge: over(cniBridge, noneCni),
      cniPublished: over(cniPublished, noneCni),
    },
  };
  row("lifecycle --network bridge (ref: --network none)", b, n, "none");
  row("lifecycle --network bridge -p (ref: bridge alone)", p, b, "bridge");
  row("  the same through the CNI plugins: bridge (ref: none)", cb, stat(noneCni), "none");
  row("  the same through the CNI plugins: bridge -p (ref: none)", cp, stat(noneCni), "none");
  rows.push([
    "  over --network none (paired medians)",
    `bridge +${over(bridge, none)} ms, -p +${over(published, none)} ms`,
    `plugins: bridge +${over(cniBridge, noneCni)} ms, -p +${over(cniPublished, noneCni)} ms`,
    "-",
  ]);
  const inspect = await berth(["network", "inspect", "bridge"]);
  if (inspect.code === 0) {
    const dev = JSON.parse(inspect.out)[0].bridge as string;
    await sh(["ip", "link", "delete", dev, "type", "bridge"]);
  }
}

// ---- lifecycle with limits, a health check (and a bind volume) -----------------
if (want("options")) {
  progress("lifecycle with options");
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
if (want("state", "podman")) {
  await must(berth(["run", "-d", "--rootfs", rootfs, "st", "--", "sleep", "100000"]), "run st");
  await must(runc(["run", "-d", "--bundle", runcBundle, "st"]), "runc run st");
  const b: number[] = [], c: number[] = [], r: number[] = [], bare: number[] = [];
  const ins: number[] = [];
  const inspectFormat = ["inspect", "--format", "{{.State.Status}}", "st"];
  for (let i = 0; i < ROUNDS; i++) {
    bare.push((await bareDeno()).ms);
    b.push((await must(berth(["state", "st"]), "state")).ms);
    c.push((await must(fromCheckout(["state", "st"]), "state")).ms);
    r.push((await must(runc(["state", "st"]), "runc state")).ms);
    const fi = await must(berth(inspectFormat), "inspect --format");
    if (fi.out !== "running\n") throw new Error(`inspect --format printed ${fi.out}`);
    ins.push(fi.ms);
  }
  // The podman dialect's inspect with a template, next to state (paired per round).
  const inspectOverState = stat(ins.map((x, i) => x - b[i]!)).median;
  results.inspectFormat = { berth: stat(ins), state: stat(b), overState: inspectOverState };
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
  row("inspect --format '{{.State.Status}}' (ref: berth state)", stat(ins), stat(b), "state");
  rows.push(["  inspect --format − state (paired)", `+${inspectOverState} ms`, "-", "-"]);
  rows.push([
    "  from a checkout (main.ts): state − bare `deno run`",
    `+${overBare(c, bare)} ms`,
    "-",
    "-",
  ]);
  await must(berth(["delete", "-f", "st"]), "delete st");
  await must(runc(["delete", "-f", "st"]), "runc delete st");
}
if (want("list", "podman")) {
  const listResults: Record<string, unknown> = {};
  let have = 0;
  // The podman rows alone need only the 100.
  for (const n of want("list") ? SCALE : [100]) {
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
    const psAll: number[] = [], psAllCheckout: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      if (n === 0) bare.push((await bareDeno()).ms);
      if (n > 0) {
        // The podman dialect's listing: every container with its columns.
        const pa = await must(berth(["ps", "-a"]), "ps -a");
        if (pa.out.split("\n").filter((l) => l).length !== n + 1) {
          throw new Error(`berth ps -a: expected ${n}`);
        }
        psAll.push(pa.ms);
        psAllCheckout.push((await must(fromCheckout(["ps", "-a"]), "ps -a")).ms);
      }
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
    if (n > 0) {
      (listResults[n] as Record<string, unknown>).psAll = stat(psAll);
      (listResults[n] as Record<string, unknown>).psAllRatio = round(
        stat(psAll).median / stat(r).median,
      );
      (listResults[n] as Record<string, unknown>).psAllCheckout = stat(psAllCheckout);
      row(`ps -a with ${n} containers`, stat(psAll), stat(r));
      checkoutRow(`ps -a with ${n}`, stat(psAllCheckout), stat(r));
    }
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

// ---- the podman dialect ----------------------------------------------------------
// Its everyday lifecycle, `run -d --name N --network none IMAGE CMD` + `rm -f N`,
// against the runc form of the same on the same image (`run -d --network none
// --image IMAGE N -- CMD` + `delete -f N`), interleaved.
if (want("podman")) {
  progress("podman dialect");
  const layout = join(base, "oci-podman");
  await writeOciLayout(layout, "bench.example/busybox:1", {
    layers: [busyboxLayer(rootfs)],
    config: { Cmd: ["sh"], Env: ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"] },
  });
  await must(berth(["load", "-q", "-i", layout]), "load");
  const image = "bench.example/busybox:1";
  const podmanForm = (id: string) => [
    ["run", "-d", "--name", id, "--network", "none", image, "sleep", "100000"],
    ["rm", "-f", id],
  ];
  const runcForm = (id: string) => [
    ["run", "-d", "--network", "none", "--image", image, id, "--", "sleep", "100000"],
    ["delete", "-f", id],
  ];
  const forms = [[podmanForm, [] as number[]], [runcForm, [] as number[]]] as const;
  for (const [form] of forms) {
    for (const args of form("pw")) await must(berth(args), `warm-up ${args[0]}`);
  }
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which form goes first, so neither always follows the other.
    const order = i % 2 === 0 ? forms : [forms[1], forms[0]] as const;
    for (const [form, xs] of order) {
      const t0 = performance.now();
      for (const args of form(`p${i}`)) await must(berth(args), args.slice(0, 2).join(" "));
      xs.push(performance.now() - t0);
    }
  }
  const [p, r] = [stat(forms[0][1]), stat(forms[1][1])];
  const paired = stat(forms[0][1].map((x, i) => x / forms[1][1][i]!)).median;
  results.podmanForm = {
    podman: p,
    runcForm: r,
    ratio: round(p.median / r.median),
    pairedRatio: Math.round(paired * 100) / 100,
  };
  row("podman form: run -d --name IMAGE + rm -f (ref: runc form --image)", p, r, "runc form");
  rows.push(["  podman form ÷ runc form (paired)", `${Math.round(paired * 100) / 100}×`, "-", "-"]);
  await must(berth(["rmi", image]), "rmi");
}

// ---- throughput -------------------------------------------------------------
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
if (want("throughput")) {
  progress("throughput");
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
if (want("contention")) {
  progress("contention");
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
if (want("monitor")) {
  progress("monitor memory");
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
if (want("monitor")) {
  progress("monitor memory, 50 containers with a 1 s health check");
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
if (!want("monitor-bridge")) {
  // skipped
} else if (cniMissing.length > 0) {
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

// ---- names: the resolver's answer time and memory --------------------------------
// On a network with DNS (any but `bridge`): a name lookup from inside a
// container (busybox nslookup: an A and an AAAA query to the gateway),
// timed as 300 lookups in one exec against 300 runs of busybox `true` (the
// same fork and exec, no query), interleaved; then the resolver's
// Pss with 50 containers on DNS networks (two networks, 25 each).
function resolverPid(): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (cmd.includes("__resolver") && cmd.includes(join(env.BERTH_NETWORK_DIR, "run", "dns"))) {
        return Number(e.name);
      }
    } catch { /* gone */ }
  }
  return null;
}
if (!want("names")) {
  // skipped
} else if (cniMissing.length > 0) {
  rows.push(["names", `skipped: CNI plugins missing (${cniMissing.join(", ")})`, "-", "-"]);
} else {
  progress("names: lookup time and resolver memory");
  await must(berth(["network", "create", "bdns1"]), "network create bdns1");
  await must(berth(["network", "create", "bdns2"]), "network create bdns2");
  const on = (net: string, id: string) => [
    "run",
    "-d",
    "--network",
    net,
    "--rootfs",
    rootfs,
    id,
    "--",
    "sleep",
    "100000",
  ];
  await must(berth(on("bdns1", "q0")), "run q0");
  /** Lookups in one exec: their sum stands well above the exec's own jitter. */
  const LOOKUPS = 300;
  await must(berth(on("bdns1", "q1")), "run q1");
  const loop = (body: string) => [
    "exec",
    "q1",
    "--",
    "sh",
    "-c",
    `i=0; while [ $i -lt ${LOOKUPS} ]; do ${body}; i=$((i+1)); done`,
  ];
  const lookups: number[] = [], idle: number[] = [];
  await must(berth(loop("nslookup q0 >/dev/null")), "warm lookups");
  for (let i = 0; i < ROUNDS; i++) {
    const a = await must(berth(loop("nslookup q0 >/dev/null")), "nslookup q0");
    const b = await must(berth(loop("/bin/true")), "true");
    lookups.push(a.ms);
    idle.push(b.ms);
  }
  const perLookup = stat(lookups.map((x, k) => (x - idle[k]!) / LOOKUPS));
  // What a name costs a container's lifecycle: run -d + delete -f on a DNS
  // network (its record, the resolver already up) against the default bridge.
  // (--network none where the bridge cannot be made: 10.88.0.0/16 routed by another interface.)
  const refNet = (await berth(on("bridge", "lref"))).code === 0 ? "bridge" : "none";
  await berth(["delete", "-f", "lref"]);
  const onDns: number[] = [], onBridge: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const [net, xs] of [["bdns2", onDns], [refNet, onBridge]] as const) {
      const t0 = performance.now();
      await must(berth(on(net, `l${i}`)), `run -d --network ${net}`);
      await must(berth(["delete", "-f", `l${i}`]), "delete -f");
      xs.push(performance.now() - t0);
    }
  }
  const [dnsLife, bridgeLife] = [stat(onDns), stat(onBridge)];
  await new Promise((r) => setTimeout(r, 2500));
  const small = pssKb(resolverPid()!);
  const names = [...Array(50)].map((_, n) => `r${n}`);
  for (let i = 0; i < 48; i += 8) {
    await Promise.all(
      names.slice(i, i + 8).map((id, k) =>
        must(berth(on((i + k) % 2 === 0 ? "bdns1" : "bdns2", id)), "run r")
      ),
    );
  }
  // 48 more plus q0 and q1: 50; each network's containers ask for each other's names.
  await must(berth(["exec", "r0", "--", "nslookup", "r2"]), "lookup on bdns1");
  await must(berth(["exec", "r1", "--", "nslookup", "r3"]), "lookup on bdns2");
  await new Promise((r) => setTimeout(r, 2500));
  const pid = resolverPid()!;
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(pssKb(pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  const over = stat(samples);
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  // The floor: an idle `deno run` of a one-line script with the resolver's V8 flags.
  const idleScript = join(base, "idle.ts");
  await Deno.writeTextFile(idleScript, "setInterval(() => {}, 1000);\n");
  const bare = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--no-code-cache", idleScript],
    env: { DENO_V8_FLAGS: RESOLVER_V8_FLAGS, MALLOC_ARENA_MAX: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((r) => setTimeout(r, 2500));
  const barePss = pssKb(bare.pid);
  bare.kill("SIGKILL");
  await bare.status;
  const part = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
  await must(berth(["delete", "-f", "q0", "q1", ...names.slice(0, 48)]), "delete r*");
  let gone = false;
  for (let i = 0; i < 40 && !gone; i++) {
    await new Promise((r) => setTimeout(r, 250));
    gone = resolverPid() === null;
  }
  await berth(["network", "rm", "bdns1", "bdns2"]);
  results.names = {
    lookupMs: perLookup,
    lifecycleDnsNetwork: dnsLife,
    lifecycleReference: { network: refNet, ...bridgeLife },
    resolverPssKbWith2: small,
    resolverPssKbWith50: over,
    resolverPssAnonKb: part("Pss_Anon"),
    resolverPssFileKb: part("Pss_File"),
    resolverAfterDelete: gone ? "gone" : "still running",
    bareDenoPssKb: barePss,
  };
  rows.push([
    "name lookup in a container (nslookup: A + AAAA; 300 in one exec − 300 `true`)",
    `${perLookup.median} ms (min ${perLookup.min}, max ${perLookup.max})`,
    "goal ≤ 5 ms",
    "-",
  ]);
  row(`lifecycle on a network with DNS (ref: --network ${refNet})`, dnsLife, bridgeLife, refNet);
  rows.push([
    "resolver Pss, 2 / 50 containers on DNS networks",
    `${small} / ${over.median} kB (max ${over.max}; anon ${part("Pss_Anon")}, file ${
      part("Pss_File")
    })`,
    `goal < 10,240 kB; idle bare deno ${barePss} kB`,
    `${round(over.max / barePss)}× bare deno`,
  ]);
  rows.push(["resolver after all are deleted", gone ? "gone" : "still running", "-", "-"]);
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

for (const [tool, steps] of want("tools") ? Object.entries(OTHER_TOOLS) : []) {
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
if (!want("images")) {
  // skipped
} else if (!haveRegistryTools()) {
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
    if (want("compose")) await composeRows(ref);
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

/**
 * `compose up -d` of three services (its network made by it) against the
 * sum of three `run -d --image` on a network that exists, and `compose
 * down` against three `delete -f`; and podman-compose (the Debian package)
 * on the same file where it runs. Interleaved rounds; the project's network
 * is made and removed by compose each round. The target: within +20%.
 */
async function composeRows(ref: string): Promise<void> {
  if (cniMissing.length > 0) {
    rows.push(["compose", "skipped: CNI plugins missing", "-", "-"]);
    return;
  }
  progress("compose");
  const dir = join(base, "compose");
  await Deno.mkdir(dir, { recursive: true });
  const file = join(dir, "compose.yaml");
  const service = (name: string) => [
    `  ${name}:`,
    `    image: ${ref}`,
    "    command: [sleep, '100000']",
    "    stop_grace_period: 0s",
  ];
  await Deno.writeTextFile(
    file,
    ["services:", ...service("a"), ...service("b"), ...service("c")].join("\n") + "\n",
  );
  const compose = (args: string[]) => berth(["compose", "-f", file, "-p", "bench", ...args]);
  await must(berth(["network", "create", "benchnet"]), "network create benchnet");
  const pc = await podmanCompose(file, ref);
  try {
    // Warm-up: the image's layers are in the page cache for all.
    await must(compose(["up", "-d"]), "compose up -d");
    await must(compose(["down"]), "compose down");
    const up: number[] = [], down: number[] = [], runs: number[] = [], deletes: number[] = [];
    const pu: number[] = [], pd: number[] = [];
    const n = quick ? 4 : 10;
    for (let i = 0; i < n; i++) {
      up.push((await must(compose(["up", "-d"]), "compose up -d")).ms);
      down.push((await must(compose(["down"]), "compose down")).ms);
      let t = 0;
      for (const s of ["a", "b", "c"]) {
        t += (await must(
          berth(["run", "-d", "--network", "benchnet", "--name", `r${s}`, ref, "sleep", "100000"]),
          "run -d",
        )).ms;
      }
      runs.push(t);
      t = 0;
      for (const s of ["a", "b", "c"]) {
        t += (await must(berth(["delete", "-f", `r${s}`]), "delete")).ms;
      }
      deletes.push(t);
      if (pc.run !== null) {
        pu.push((await must(pc.run(["up", "-d"]), "podman-compose up -d")).ms);
        pd.push((await must(pc.run(["down"]), "podman-compose down")).ms);
      }
    }
    results.compose = { up: stat(up), runs: stat(runs), down: stat(down), deletes: stat(deletes) };
    row("compose up -d, 3 services (ref: 3 × run -d)", stat(up), stat(runs), "3 × run -d");
    row(
      "compose down, 3 services (ref: 3 × delete -f)",
      stat(down),
      stat(deletes),
      "3 × delete -f",
    );
    if (pc.run === null) {
      rows.push(["  podman-compose on the same file", `skipped: ${pc.why}`, "-", "-"]);
    } else {
      results.podmanCompose = { up: stat(pu), down: stat(pd) };
      row("  compose up -d vs podman-compose up -d", stat(up), stat(pu), "podman-compose");
      row("  compose down vs podman-compose down", stat(down), stat(pd), "podman-compose");
    }
  } finally {
    await berth(["network", "rm", "benchnet"]);
    await pc.cleanup();
  }
}

/**
 * podman-compose on `file`, with podman's storage and CNI config directory
 * under the bench's temporary directory (and a default subnet of its own),
 * so the host's podman is untouched; `run` is null (and `why` says why)
 * where it does not run.
 */
async function podmanCompose(file: string, ref: string): Promise<{
  run: ((args: string[]) => ReturnType<typeof sh>) | null;
  why: string;
  cleanup: () => Promise<void>;
}> {
  const have = async (argv: string[]) => (await sh(argv).catch(() => ({ code: 1 }))).code === 0;
  if (!(await have(["podman-compose", "version"])) || !(await have(["podman", "--version"]))) {
    return { run: null, why: "not installed", cleanup: async () => {} };
  }
  const dir = join(base, "podman");
  await Deno.mkdir(join(dir, "cni"), { recursive: true });
  const subnet = `10.206.${90 + (Deno.pid % 100)}.0/24`;
  await Deno.writeTextFile(
    join(dir, "containers.conf"),
    [
      "[network]",
      'network_backend = "cni"',
      `network_config_dir = "${join(dir, "cni")}"`,
      `default_subnet = "${subnet}"`,
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
    ].join("\n") + "\n",
  );
  const penv = { CONTAINERS_CONF: join(dir, "containers.conf") };
  const store = ["--root", join(dir, "root"), "--runroot", join(dir, "runroot")];
  const podman = (args: string[]) => sh(["podman", ...store, ...args], false, penv);
  const run = (args: string[]) =>
    sh(
      [
        "podman-compose",
        `--podman-args=${store.join(" ")}`,
        // Root's nofile/nproc defaults of podman exceed this host's hard limits: given explicitly.
        "--podman-run-args=--ulimit nproc=1024:1024 --ulimit nofile=1024:1024",
        "-f",
        file,
        "-p",
        "pbench",
        ...args,
      ],
      false,
      penv,
    );
  const cleanup = async () => {
    await run(["down"]).catch(() => {});
    await podman(["system", "reset", "-f"]).catch(() => {});
    // Its bridges (cni-podmanN on our subnet) are host devices: they go with the bench.
    const prefix = subnet.slice(0, subnet.lastIndexOf("."));
    for (const l of (await sh(["ip", "-br", "addr"])).out.split("\n")) {
      const [name, , addr] = l.split(/\s+/);
      if (name?.startsWith("cni-podman") && addr?.startsWith(`${prefix}.`)) {
        await sh(["ip", "link", "delete", name]);
      }
    }
  };
  if ((await podman(["pull", "-q", "--tls-verify=false", ref])).code !== 0) {
    return { run: null, why: "podman pull failed", cleanup };
  }
  await run(["up", "-d"]);
  const running = (await podman(["ps", "-q"])).out.trim().split("\n").filter((l) => l !== "");
  await run(["down"]);
  if (running.length !== 3) {
    return { run: null, why: `its containers do not run here (${running.length} of 3)`, cleanup };
  }
  return { run, why: "", cleanup };
}

// ---- build -----------------------------------------------------------------------
// A 5-step build without the cache and a fully cached rebuild, vs buildah bud --layers.
if (want("build")) {
  progress("build");
  const { buildRows } = await import("./bench_build.ts");
  try {
    const r = await buildRows({
      sh: (argv) => sh(argv),
      berth: SHIPPED,
      base,
      rootfs,
      rounds: quick ? 3 : 8,
    });
    rows.push(...r.rows);
    results.build = r.results;
  } catch (err) {
    rows.push(["build", `failed: ${(err as Error).message.split("\n")[0]}`, "-", "-"]);
  }
}

// ---- the image store vs podman and skopeo (issue 24) --------------------------------
// A Debian-sized image made from this host's files: pull into a fresh store and
// load (wall time and peak RSS) against podman's, pull right after rmi against a
// fresh pull, push and save against skopeo copy. Rows say "skipped" without a tool.
if (want("image-store")) {
  const store = await imageStoreBench({
    berth: SHIPPED,
    base,
    rounds: quick ? 3 : 5,
    progress,
  });
  rows.push(...store.rows);
  results.imageStore = store.results;
}

// ---- gc's host-wide sweep (issue 23) ---------------------------------------------
// `berth gc` where nothing is stale, as it is run day to day: the sweep of
// stale bridges and of the rules of bridges that are gone reads the links
// and nf_tables' generation, and where its notes say listings at that
// generation found nothing, runs no iptables at all; against the same gc
// with the notes removed before each (its listings: three iptables-save,
// as every gc of a root with networks ran before), and a bare `deno run`.
// Interleaved, paired per round.
if (want("gc")) {
  progress("gc");
  // A network used once: its bridge and rules are there, as on a host that runs containers.
  await must(
    berth(["run", "-d", "--network", "bridge", "--rootfs", rootfs, "gcn", "--", "sleep", "100000"]),
    "run gcn",
  );
  await must(berth(["delete", "-f", "gcn"]), "delete gcn");
  await must(berth(["gc"]), "gc");
  const ino = Deno.statSync("/proc/self/ns/net").ino;
  const notes = ["rules", "tokens"].map((n) => `/run/berth-sweep.d/${n}-${ino}`);
  const noted: number[] = [], listed: number[] = [], bare: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    bare.push((await bareDeno()).ms);
    const g = await must(berth(["gc"]), "gc");
    if (g.out !== "") throw new Error(`gc found something: ${g.out}`);
    noted.push(g.ms);
    for (const n of notes) await Deno.remove(n).catch(() => {});
    listed.push((await must(berth(["gc"]), "gc")).ms);
  }
  const saved = stat(listed.map((x, i) => x - noted[i]!)).median;
  results.gcSweep = { noted: stat(noted), listed: stat(listed), bareDeno: stat(bare), saved };
  row("gc, nothing stale (ref: the same, listing the rules)", stat(noted), stat(listed), "listing");
  rows.push(["  gc listing − gc noted (paired)", `+${saved} ms`, "-", "-"]);
  row("  gc, nothing stale (ref: bare `deno run`)", stat(noted), stat(bare), "bare");
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
  // And its networks: each with its bridge and rules (network rm); the
  // built-in `bridge` cannot be removed, so its idle device goes here and
  // the gc after it removes its rules (and berth's chains with the last
  // berth bridge). Nothing of the bench's is left on the host.
  await berth(["network", "prune", "-f"]).catch(() => {});
  const inspected = await berth(["network", "inspect", "bridge"]).catch(() => null);
  try {
    const dev = JSON.parse(inspected?.out ?? "")[0]?.bridge;
    if (typeof dev === "string" && dev.startsWith("bth-")) {
      const ports = [...Deno.readDirSync(`/sys/class/net/${dev}/brif`)];
      if (ports.length === 0) await sh(["ip", "link", "delete", dev, "type", "bridge"]);
    }
  } catch { /* never made, or gone */ }
  await berth(["gc"]).catch(() => {});
  await sh(["umount", "-R", env.BERTH_ROOT]).catch(() => {});
  await Deno.remove(base, { recursive: true }).catch(() => {});
}
