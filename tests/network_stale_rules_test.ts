// Per-container firewall rules of gone attachments (lib/network/_stale_rules.ts):
// on an iptables-save dump in the form iptables 1.8.9 writes it.
import { assertEquals } from "./assert.ts";
import {
  containerChains,
  parseDump,
  planRemoval,
  removeTokenRules,
} from "../lib/network/_stale_rules.ts";
import { type NetEnv, setUp, tearDown } from "../lib/network/_attach.ts";
import {
  CniClient,
  type PluginCall,
  type PluginRunner,
  processPluginRunner,
} from "../lib/network/_cni.ts";
import { buildConfList, networkPaths } from "../lib/network/_networks.ts";
import { parseCidr } from "../lib/network/_subnet.ts";
import { libc } from "../lib/host/libc.ts";
import { denoRunner } from "../lib/host/process.ts";
import { freeTestSubnet, hasNetworking } from "./helpers.ts";
import { join } from "node:path";
import { loadNetworkFfi } from "../lib/network/_ffi.ts";

// Namespaces are made through FFI: the library is open before any test (the sanitizer).
loadNetworkFfi();

// Load libc's mount symbols now: the tests' sanitizers count a library opened inside a test.
try {
  libc.umount("/nonexistent-berth-stale-rules-test", 0);
} catch { /* EINVAL/ENOENT: loaded */ }

const GONE = "aaaaaaaa00000000000000f1"; // this root's tag, no attachment
const LIVE = "aaaaaaaa00000000000000f2"; // this root's tag, attached
const OTHER = "bbbbbbbb00000000000000f3"; // another root's

async function sample(): Promise<string> {
  const [gm, gd] = await containerChains("n1", `berth-${GONE}`);
  const [lm] = await containerChains("n1", `berth-${LIVE}`);
  const [om] = await containerChains("n2", `berth-${OTHER}`);
  const c = (net: string, t: string, pre = "") =>
    `-m comment --comment "${pre}name: \\"${net}\\" id: \\"berth-${t}\\""`;
  return [
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    `:${gm} - [0:0]`,
    `:${gd} - [0:0]`,
    `:${lm} - [0:0]`,
    `:${om} - [0:0]`,
    ":CNI-HOSTPORT-DNAT - [0:0]",
    `-A POSTROUTING -s 10.200.1.7/32 ${c("n1", GONE)} -j ${gm}`,
    `-A POSTROUTING -s 10.200.1.8/32 ${c("n1", LIVE)} -j ${lm}`,
    `-A POSTROUTING -s 10.201.1.7/32 ${c("n2", OTHER)} -j ${om}`,
    `-A ${gm} -d 10.200.1.0/24 ${c("n1", GONE)} -j ACCEPT`,
    `-A ${gm} ! -d 224.0.0.0/4 ${c("n1", GONE)} -j MASQUERADE`,
    `-A ${lm} ! -d 224.0.0.0/4 ${c("n1", LIVE)} -j MASQUERADE`,
    `-A ${om} ! -d 224.0.0.0/4 ${c("n2", OTHER)} -j MASQUERADE`,
    `-A ${gd} -d 127.0.0.1/32 -p tcp -m tcp --dport 23456 -j DNAT --to-destination 10.200.1.7:8080`,
    `-A CNI-HOSTPORT-DNAT -p tcp ${c("n1", GONE, "dnat ")} -m multiport --dports 23456 -j ${gd}`,
    "COMMIT",
    "*filter",
    ":CNI-FORWARD - [0:0]",
    "-A CNI-FORWARD -d 10.200.1.7/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A CNI-FORWARD -s 10.200.1.7/32 -j ACCEPT",
    "-A CNI-FORWARD -d 10.200.1.8/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A CNI-FORWARD -s 10.200.1.8/32 -j ACCEPT",
    "-A CNI-FORWARD -s 10.201.1.7/32 -j ACCEPT",
    "COMMIT",
    "",
  ].join("\n");
}

Deno.test("containerChains are the chain names the bridge and portmap plugins make", async () => {
  // As the bridge and portmap plugins (1.1.1) named them on this host for a real container.
  assertEquals(await containerChains("lx", "berth-7965e38f31a9461a"), [
    "CNI-6b9280baac5bb7f707a771fd",
    "CNI-DN-6b9280baac5bb7f707a77",
  ]);
});

Deno.test("planRemoval removes exactly the picked token's rules, chains and firewall rules", async () => {
  const dump = parseDump(await sample());
  const [gm, gd] = await containerChains("n1", `berth-${GONE}`);
  const plan = await planRemoval(dump, (t) => t === GONE);
  assertEquals([...plan.tokens], [[GONE, { network: "n1", ips: ["10.200.1.7"] }]]);
  const c = `-m comment --comment "name: \\"n1\\" id: \\"berth-${GONE}\\""`;
  assertEquals(plan.script.split("\n"), [
    "*filter",
    "-D CNI-FORWARD -d 10.200.1.7/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-D CNI-FORWARD -s 10.200.1.7/32 -j ACCEPT",
    "COMMIT",
    "*nat",
    `-D POSTROUTING -s 10.200.1.7/32 ${c} -j ${gm}`,
    `-D CNI-HOSTPORT-DNAT -p tcp ${
      c.replace('"name', '"dnat name')
    } -m multiport --dports 23456 -j ${gd}`,
    `-F ${gm}`,
    `-F ${gd}`,
    `-X ${gm}`,
    `-X ${gd}`,
    "COMMIT",
    "",
  ]);
});

Deno.test("planRemoval keeps the firewall rules of an address something else still holds", async () => {
  const text = await sample();
  const dump = parseDump(text);
  // An attachment of the root holds the address again.
  const held = await planRemoval(dump, (t) => t === GONE, (ip) => ip === "10.200.1.7");
  assertEquals(held.script.includes("CNI-FORWARD"), false);
  // Another masquerade (another root, another runtime) holds it.
  const again = parseDump(
    text.replace("-A POSTROUTING -s 10.200.1.8/32", "-A POSTROUTING -s 10.200.1.7/32"),
  );
  assertEquals((await planRemoval(again, (t) => t === GONE)).script.includes("CNI-FORWARD"), false);
  // Nothing picked, nothing to do.
  assertEquals((await planRemoval(dump, () => false)).script, "");
});

Deno.test({
  name: "tear-down: a DEL repeated after one that removed the interface and failed leaves no " +
    "masquerade (real plugins)",
  ignore: !hasNetworking(),
  fn: async () => {
    const base = await Deno.makeTempDir({ prefix: "berth-stale-" });
    const bridge = `bth-t${crypto.randomUUID().slice(0, 8)}`;
    const token = `${"c".repeat(8)}${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    let failedOnce = false;
    // The first bridge DEL runs for real but without its masquerade
    // tear-down (as one failing after it removed the interface), then fails.
    const runner: PluginRunner = {
      run(call: PluginCall) {
        if (call.env.CNI_COMMAND === "DEL" && call.binary.endsWith("/bridge") && !failedOnce) {
          failedOnce = true;
          const conf = { ...JSON.parse(call.stdin), ipMasq: false };
          return processPluginRunner.run({ ...call, stdin: JSON.stringify(conf) }).then(() => ({
            code: 1,
            stdout: '{"code":999,"msg":"injected after the interface went"}',
            stderr: "",
          }));
        }
        return processPluginRunner.run(call);
      },
    };
    const paths = networkPaths(join(base, "run"), join(base, "data"), join(base, "networks"));
    const conf = buildConfList("st", parseCidr(freeTestSubnet())!, bridge);
    conf.plugins = conf.plugins.filter((p) => p.type !== "portmap").map((p) =>
      p.type === "bridge"
        ? { ...p, ipam: { ...(p.ipam as object), dataDir: join(base, "run/networks/ipam") } }
        : p
    );
    const e: NetEnv = {
      paths,
      cni: new CniClient("/usr/lib/cni", runner),
      runner: denoRunner,
      libc,
      // berth's own isolation rules are not what this test is about.
      firewall: { ensure: () => Promise.resolve() },
    };
    try {
      await setUp(e, {
        token,
        ns: "default",
        id: "c1",
        network: "st",
        conf,
        ports: [],
        ownerAlive: () => true,
      });
      assertEquals((await rulesNaming(token)).length >= 3, true, "the masquerade is there");
      assertEquals(await tearDown(e, token), true);
      assertEquals(failedOnce, true);
      assertEquals(await rulesNaming(token), [], "rules left");
    } finally {
      await removeTokenRules(denoRunner, base, (t) => t === token);
      await new Deno.Command("ip", { args: ["link", "delete", bridge] }).output();
      const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
        .map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(base));
      for (const m of mounts) libc.umount(m, 2);
      await Deno.remove(base, { recursive: true });
    }
  },
});

async function rulesNaming(token: string): Promise<string[]> {
  const out = await new Deno.Command("iptables-save", { args: ["-t", "nat"], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
    l.includes(`berth-${token}`)
  );
}
