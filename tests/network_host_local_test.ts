// berth's in-process host-local allocation (lib/network/_host_local.ts) on
// the same files as the real plugin (/usr/lib/cni/host-local): each sees
// the other's addresses and continues after the other's last one.

import { assertEquals, assertThrows, assertTrue as assert } from "./assert.ts";
import { join } from "node:path";
import { allocate, allocatedTo, release } from "../lib/network/_host_local.ts";
import { parseCidr } from "../lib/network/_subnet.ts";
import { RuntimeError, WrongState } from "../lib/host/errors.ts";

const PLUGIN = "/usr/lib/cni/host-local";
const havePlugin = (() => {
  try {
    return Deno.statSync(PLUGIN).isFile;
  } catch {
    return false;
  }
})();

/** The real plugin's ADD (or DEL) for `id`; returns the address it gave. */
async function plugin(cmd: "ADD" | "DEL", dataDir: string, id: string): Promise<string> {
  const child = new Deno.Command(PLUGIN, {
    env: {
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: id,
      CNI_NETNS: "/proc/self/ns/net",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/usr/lib/cni",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(
    new TextEncoder().encode(JSON.stringify({
      cniVersion: "1.0.0",
      name: "hl",
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: "10.199.7.0/24", gateway: "10.199.7.1" }]],
        dataDir,
      },
    })),
  );
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, text);
  if (cmd === "DEL") return "";
  return (JSON.parse(text).ips[0].address as string).split("/")[0]!;
}

Deno.test({
  name: "host-local in-process and the real plugin share one allocation (files, order, release)",
  ignore: !havePlugin,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "berth-hl-" });
    try {
      const subnet = parseCidr("10.199.7.0/24")!;
      const mine = (id: string, req: string | null = null) =>
        allocate(dataDir, "hl", subnet, "10.199.7.1", id, "eth0", req);
      // The gateway (.1) is never handed out.
      assertEquals(mine("berth-a"), "10.199.7.2");
      assertEquals(await plugin("ADD", dataDir, "berth-b"), "10.199.7.3");
      assertEquals(mine("berth-c"), "10.199.7.4");
      // The files read as the plugin's: it releases berth's allocation by ID.
      assertEquals(
        Deno.readTextFileSync(join(dataDir, "hl", "10.199.7.4")),
        "berth-c\r\neth0",
      );
      await plugin("DEL", dataDir, "berth-c");
      assertEquals(allocatedTo(dataDir, "hl", "berth-c"), null);
      // Round robin after the last one handed out, whoever did.
      assertEquals(await plugin("ADD", dataDir, "berth-d"), "10.199.7.5");
      assertEquals(mine("berth-e"), "10.199.7.6");
      assertEquals(allocatedTo(dataDir, "hl", "berth-b"), "10.199.7.3");
      release(dataDir, "hl", "berth-b");
      assertEquals(allocatedTo(dataDir, "hl", "berth-b"), null);
      // A requested address: given when free, refused when taken.
      assertEquals(mine("berth-f", "10.199.7.3"), "10.199.7.3");
      assertThrows(() => mine("berth-g", "10.199.7.3"), WrongState);
      assert(allocatedTo(dataDir, "hl", "berth-g") === null);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test("host-local in-process: a full range is refused in one line; release frees it", () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "berth-hl-" });
  try {
    const subnet = parseCidr("10.199.8.0/29")!; // .1 gateway, .2–.6 hosts
    const got = [1, 2, 3, 4, 5].map((i) =>
      allocate(dataDir, "s", subnet, "10.199.8.1", `berth-${i}`, "eth0")
    );
    assertEquals(got, ["10.199.8.2", "10.199.8.3", "10.199.8.4", "10.199.8.5", "10.199.8.6"]);
    assertThrows(
      () => allocate(dataDir, "s", subnet, "10.199.8.1", "berth-x", "eth0"),
      RuntimeError,
      "no free address",
    );
    release(dataDir, "s", "berth-3");
    assertEquals(allocate(dataDir, "s", subnet, "10.199.8.1", "berth-x", "eth0"), "10.199.8.4");
  } finally {
    Deno.removeSync(dataDir, { recursive: true });
  }
});
