import { assertTrue as assert } from "./assert.ts";
import {
  FIRST_GARBAGE,
  GARBAGE_EVERY,
  GIVE_BACK_EVERY,
  giveBack,
  streamed,
} from "../lib/image/_garbage.ts";
import { loadNode } from "../lib/image/_node.ts";

/** This process's resident file pages, in kB (/proc/self/status). */
function rssFileKb(): number {
  const m = /^RssFile:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"));
  if (m === null) throw new Error("no RssFile in /proc/self/status");
  return Number(m[1]);
}

const OPTS = { sanitizeResources: false }; // the libc calls' library stays loaded

// Each drop is several MB: the test process has touched tens of MB of the Deno binary by now
// (type-checking aside, node compatibility is loaded first). Without the trim nothing drops.

Deno.test("giveBack drops the clean file pages the process touched", OPTS, async () => {
  await loadNode();
  const before = rssFileKb();
  const dropped = giveBack();
  const after = rssFileKb();
  assert(dropped >= 4096, `dropped ${dropped} kB (RssFile ${before} → ${after} kB)`);
  assert(after <= before - 4096, `RssFile ${before} → ${after} kB`);
});

Deno.test(
  "streaming gives the file pages back: after the first MB, then every 32 MB",
  OPTS,
  async () => {
    await loadNode();
    // Touch pages again (node's zlib, a fresh context), so there is something to drop.
    const { zlib } = (await import("../lib/image/_node.ts")).nodeSync();
    zlib.gunzipSync(zlib.gzipSync(new Uint8Array(1 << 20)));
    const touched = rssFileKb();
    streamed(FIRST_GARBAGE);
    const first = rssFileKb();
    assert(first <= touched - 2048, `first step: RssFile ${touched} → ${first} kB`);
    zlib.gunzipSync(zlib.gzipSync(new Uint8Array(1 << 20)));
    const again = rssFileKb();
    // The next collections (every 8 MB) keep the pages until the GIVE_BACK_EVERYth.
    for (let i = 1; i < GIVE_BACK_EVERY; i++) streamed(GARBAGE_EVERY);
    streamed(GARBAGE_EVERY - 1);
    assert(rssFileKb() >= again - 1024, "dropped before 32 MB more had passed");
    streamed(1);
    const next = rssFileKb();
    assert(next <= again - 2048, `next step: RssFile ${again} → ${next} kB`);
  },
);
