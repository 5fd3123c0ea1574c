// Attachment set-up and tear-down with a fault-injecting plugin runner and a
// real network namespace file (unshare): failures undo everything, DEL gets
// the cached (or rebuilt) result, port claims, the bridge race retry.
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import {
  type AttachRecord,
  collectLeftovers,
  type NetEnv,
  netnsFile,
  readRecord,
  setUp,
  type SetUpRequest,
  tearDown,
} from "../lib/network/_attach.ts";
import { CniClient, type PluginCall, type PluginOutcome } from "../lib/network/_cni.ts";
import { buildConfList, networkPaths } from "../lib/network/_networks.ts";
import { parseCidr } from "../lib/network/_subnet.ts";
import { libc } from "../lib/host/libc.ts";
import { parseMountInfo } from "../lib/host/mounts.ts";
import { denoRunner } from "../lib/host/process.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { listLeases } from "../lib/network/_leases.ts";
import { join } from "node:path";
import { loadNetworkFfi } from "../lib/network/_ffi.ts";

// Namespaces are made through FFI: the library is open before any test (the sanitizer).
loadNetworkFfi();

const ignore = Deno.uid() !== 0;
// Load libc's mount symbols now: the tests' sanitizers count a library opened inside a test.
try {
  libc.umount("/nonexistent-berth-attach-test", 0);
} catch { /* EINVAL/ENOENT: loaded */ }

const RESULT = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "bth-t" }, { name: "veth1" }, { name: "eth0", sandbox: "x" }],
  ips: [{ interface: 2, address: "10.9.0.2/24", gateway: "10.9.0.1" }],
};

type Fault = (call: PluginCall, type: string, n: number) => PluginOutcome | null;

/** Fails berth's firewall step (`ensure`) when it returns an error. */
type FirewallFault = () => Error | null;

function env(base: string, fault: Fault = () => null, firewallFault: FirewallFault = () => null) {
  const calls: string[] = [];
  const stdins: Record<string, unknown>[] = [];
  let n = 0;
  const e: NetEnv = {
    paths: networkPaths(join(base, "run"), join(base, "data"), join(base, "networks")),
    cni: new CniClient("/nonexistent", {
      run(call) {
        const type = call.binary.split("/").pop()!;
        calls.push(`${call.env.CNI_COMMAND} ${type}`);
        stdins.push(JSON.parse(call.stdin));
        const f = fault(call, type, n++);
        if (f !== null) return Promise.resolve(f);
        if (call.env.CNI_COMMAND !== "ADD") {
          return Promise.resolve({ code: 0, stdout: "", stderr: "" });
        }
        const prev = JSON.parse(call.stdin).prevResult;
        const out = type === "loopback"
          ? { cniVersion: "1.0.0", interfaces: [{ name: "lo", sandbox: "x" }] }
          : prev ?? RESULT;
        return Promise.resolve({ code: 0, stdout: JSON.stringify(out), stderr: "" });
      },
    }),
    runner: denoRunner,
    libc,
    firewall: {
      ensure(bridge, tag) {
        calls.push(`ensure ${bridge} ${tag.length}`);
        const err = firewallFault();
        return err === null ? Promise.resolve() : Promise.reject(err);
      },
    },
  };
  return { e, calls, stdins };
}

function request(token: string, ports: SetUpRequest["ports"] = []): SetUpRequest {
  return {
    token,
    ns: "default",
    id: `c-${token}`,
    network: "t",
    conf: buildConfList("t", parseCidr("10.9.0.0/24")!, "bth-t"),
    ports,
    ownerAlive: () => true,
  };
}

async function withBase(fn: (base: string) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "berth-attach-" });
  try {
    await fn(base);
  } finally {
    const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
      .map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(base));
    for (const m of mounts) libc.umount(m, 2);
    await Deno.remove(base, { recursive: true });
  }
}

function mounted(file: string): boolean {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").some((l) =>
    l.split(" ")[4] === file
  );
}

const FAIL: PluginOutcome = { code: 1, stdout: '{"code":11,"msg":"injected"}', stderr: "" };

Deno.test({
  name: "set-up: ADD loopback then the chain; the record caches the result; tear-down DELs with it",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const { e, calls, stdins } = env(base);
      const { ip } = await setUp(e, request("0000000000000001"));
      assertEquals(ip, "10.9.0.2");
      assertEquals(calls, [
        "ADD loopback",
        "ADD bridge",
        "ADD portmap",
        "ADD firewall",
        "ensure bth-t 8",
      ]);
      const rec = readRecord(e.paths, "0000000000000001")!;
      assertEquals(rec.result, RESULT as never);
      assertTrue(mounted(netnsFile(e.paths, "0000000000000001")), "the namespace is bound");
      calls.length = 0;
      stdins.length = 0;
      assertEquals(await tearDown(e, "0000000000000001"), true);
      assertEquals(calls, ["DEL firewall", "DEL portmap", "DEL bridge"]);
      for (const s of stdins) assertEquals(s.prevResult, RESULT);
      assertEquals(readRecord(e.paths, "0000000000000001"), null);
      assertTrue(!mounted(netnsFile(e.paths, "0000000000000001")), "the namespace is gone");
      assertEquals(
        await tearDown(e, "0000000000000001"),
        false,
        "a second tear-down finds nothing",
      );
    }),
});

Deno.test({
  name: "set-up: a failing plugin undoes everything (DEL of the whole list, namespace, record)",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const { e, calls } = env(base, (c, type) =>
        c.env.CNI_COMMAND === "ADD" && type === "portmap" ? FAIL : null);
      await assertRejects(
        () =>
          setUp(e, request("0000000000000002")),
        RuntimeError,
        "portmap failed: injected",
      );
      assertEquals(calls, [
        "ADD loopback",
        "ADD bridge",
        "ADD portmap",
        "DEL firewall",
        "DEL portmap",
        "DEL bridge",
      ]);
      assertEquals(readRecord(e.paths, "0000000000000002"), null);
      assertTrue(!mounted(netnsFile(e.paths, "0000000000000002")));
      assertEquals([...Deno.readDirSync(join(base, "run/networks/netns"))], []);
    }),
});

Deno.test({
  name: "set-up: berth's firewall rules that cannot be made undo everything",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const { e, calls } = env(
        base,
        () => null,
        () => new RuntimeError("cannot set up the firewall rules of bridge bth-t: injected"),
      );
      await assertRejects(
        () => setUp(e, request("000000000000000a")),
        RuntimeError,
        "firewall rules of bridge bth-t",
      );
      assertEquals(calls, [
        "ADD loopback",
        "ADD bridge",
        "ADD portmap",
        "ADD firewall",
        "ensure bth-t 8",
        "DEL firewall",
        "DEL portmap",
        "DEL bridge",
      ]);
      assertEquals(readRecord(e.paths, "000000000000000a"), null);
      assertTrue(!mounted(netnsFile(e.paths, "000000000000000a")));
    }),
});

Deno.test({
  name: "set-up: the bridge plugin's creation race is undone and tried once more",
  ignore,
  fn: () =>
    withBase(async (base) => {
      let failed = false;
      const { e, calls } = env(base, (c, type) => {
        if (c.env.CNI_COMMAND === "ADD" && type === "bridge" && !failed) {
          failed = true;
          return {
            code: 1,
            stdout:
              '{"code":999,"msg":"failed to set bridge addr: could not set bridge\'s mac: invalid argument"}',
            stderr: "",
          };
        }
        return null;
      });
      assertEquals((await setUp(e, request("0000000000000003"))).ip, "10.9.0.2");
      assertEquals(calls, [
        "ADD loopback",
        "ADD bridge",
        "DEL firewall",
        "DEL portmap",
        "DEL bridge",
        "ADD bridge",
        "ADD portmap",
        "ADD firewall",
        "ensure bth-t 8",
      ]);
      await tearDown(e, "0000000000000003");
    }),
});

Deno.test({
  name: "tear-down: a DEL that fails once is repeated; one that keeps failing keeps the record",
  ignore,
  fn: () =>
    withBase(async (base) => {
      let delFailures = 1;
      const { e } = env(base, (c, type) => {
        if (c.env.CNI_COMMAND === "DEL" && type === "bridge" && delFailures > 0) {
          delFailures--;
          return FAIL;
        }
        return null;
      });
      await setUp(e, request("0000000000000004"));
      assertEquals(await tearDown(e, "0000000000000004"), true);
      assertEquals(readRecord(e.paths, "0000000000000004"), null);
      await setUp(e, request("0000000000000005"));
      delFailures = 2;
      await assertRejects(() => tearDown(e, "0000000000000005"), RuntimeError, "injected");
      assertTrue(readRecord(e.paths, "0000000000000005") !== null, "the record stays for gc");
      assertTrue(
        mounted(netnsFile(e.paths, "0000000000000005")),
        "the namespace stays for the next DEL",
      );
      assertEquals(await tearDown(e, "0000000000000005"), true);
    }),
});

Deno.test({
  name: "tear-down: with no namespace bound on the file, DEL gets the spec's empty CNI_NETNS",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const seen: string[] = [];
      const { e } = env(base, (c) => {
        if (c.env.CNI_COMMAND === "DEL") seen.push(c.env.CNI_NETNS!);
        return null;
      });
      await setUp(e, request("000000000000000a"));
      libc.umount(netnsFile(e.paths, "000000000000000a"), 2);
      assertEquals(await tearDown(e, "000000000000000a"), true);
      assertEquals(seen, ["", "", ""]);
      assertEquals(readRecord(e.paths, "000000000000000a"), null);
    }),
});

Deno.test({
  name: "DEL after an ADD cut short gets a prevResult rebuilt from host-local's allocation",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const { e, stdins, calls } = env(base);
      await setUp(e, request("0000000000000006"));
      // As if killed before the first result was cached: no result, one IPAM file.
      const file = join(base, "run/networks/attach/0000000000000006.json");
      const rec = JSON.parse(Deno.readTextFileSync(file)) as AttachRecord;
      rec.result = null;
      Deno.writeTextFileSync(file, JSON.stringify(rec));
      const ipam = join(base, "networks/run/ipam/t");
      Deno.mkdirSync(ipam, { recursive: true });
      Deno.writeTextFileSync(join(ipam, "10.9.0.7"), "berth-0000000000000006\r\neth0");
      calls.length = 0;
      stdins.length = 0;
      await tearDown(e, "0000000000000006");
      for (const s of stdins) {
        assertEquals(s.prevResult, { cniVersion: "1.0.0", ips: [{ address: "10.9.0.7/24" }] });
      }
    }),
});

Deno.test({
  name:
    "ports: a live owner's port is refused before anything is made; a gone owner's is reclaimed",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const { e, calls } = env(base);
      const port = {
        hostPort: 1,
        containerPort: 80,
        protocol: "tcp" as const,
        hostIP: "127.0.0.9",
      };
      await setUp(e, { ...request("0000000000000007"), ports: [{ ...port, hostPort: 41999 }] });
      calls.length = 0;
      await assertRejects(
        () =>
          setUp(e, {
            ...request("0000000000000008"),
            ports: [{ ...port, hostPort: 41999, hostIP: "" }],
          }),
        RuntimeError,
        'host port 41999/tcp is already published by container "c-0000000000000007"',
      );
      assertEquals(calls, []);
      assertEquals(readRecord(e.paths, "0000000000000008"), null);
      // Its owner gone: the old attachment is torn down and the port is granted.
      await setUp(e, {
        ...request("0000000000000009"),
        ports: [{ ...port, hostPort: 41999 }],
        ownerAlive: () => false,
      });
      assertEquals(readRecord(e.paths, "0000000000000007"), null);
      assertTrue(calls.includes("DEL bridge"));
      // gc: owners gone → everything released; a stray IPAM file goes too,
      // host-wide (no live lease holds it) and in the root's own older directory.
      for (const dir of ["run/networks/ipam/t", "networks/run/ipam/t"]) {
        Deno.mkdirSync(join(base, dir), { recursive: true });
        Deno.writeTextFileSync(join(base, dir, "10.9.0.99"), "berth-zzzz\neth0");
      }
      const dry = await collectLeftovers(e, () => Promise.resolve(false), true);
      assertTrue(readRecord(e.paths, "0000000000000009") !== null, "dry run changes nothing");
      const done = await collectLeftovers(e, () => Promise.resolve(false), false);
      assertEquals(done, dry);
      assertEquals(readRecord(e.paths, "0000000000000009"), null);
      for (const dir of ["run/networks/ipam/t", "networks/run/ipam/t"]) {
        assertEquals([...Deno.readDirSync(join(base, dir))].map((d) => d.name), [], dir);
      }
      // Every lease went with its record.
      assertEquals(listLeases(e.paths.runDir), []);
    }),
});

Deno.test({
  name: "a token that is not 16 hex digits names no file: refused before anything is read",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const { e, calls } = env(base);
      for (const bad of ["../../etc/x", "", "00000000000000zz", "0000000000000000/.."]) {
        await assertRejects(
          () => tearDown(e, bad),
          RuntimeError,
          "invalid network attachment token",
        );
      }
      assertEquals(calls, []);
    }),
});

Deno.test({
  name: "tear-down: DEL runs in the namespace even when the root's path holds a space",
  ignore,
  fn: () =>
    withBase(async (base) => {
      const spaced = join(base, "a root");
      const netns: string[] = [];
      const { e } = env(spaced, (call) => {
        if (call.env.CNI_COMMAND === "DEL") netns.push(call.env.CNI_NETNS ?? "?");
        return null;
      });
      try {
        await setUp(e, request("0000000000000009"));
        const file = netnsFile(e.paths, "0000000000000009");
        assertEquals(await tearDown(e, "0000000000000009"), true);
        // With the namespace: the bridge plugin finds the container's
        // addresses there to remove its masquerade (an empty CNI_NETNS skips it).
        assertEquals(netns, [file, file, file]);
      } finally {
        const all = parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo"));
        for (const m of all.filter((m) => m.startsWith(spaced))) libc.umount(m, 2);
      }
    }),
});
