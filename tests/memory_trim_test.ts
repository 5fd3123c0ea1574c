import { assertEquals } from "./assert.ts";
import { droppableMappings } from "../lib/host/memory_trim.ts";

const SMAPS = `55d0a0000000-55d0a0100000 r--p 00000000 fd:01 123 /usr/bin/deno
Rss:                 400 kB
Anonymous:             0 kB
55d0a0100000-55d0a2000000 r-xp 00100000 fd:01 123 /usr/bin/deno
Rss:                9000 kB
Anonymous:             0 kB
55d0a2000000-55d0a2100000 r--p 02000000 fd:01 123 /usr/bin/deno
Rss:                 800 kB
Anonymous:           600 kB
55d0a2100000-55d0a2200000 rw-p 02100000 fd:01 123 /usr/bin/deno
Rss:                 500 kB
Anonymous:           500 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Rss:                1000 kB
Anonymous:          1000 kB
7f0000100000-7f0000200000 r-xp 00000000 00:00 0
Rss:                  64 kB
Anonymous:            64 kB
7f0000200000-7f0000300000 r--s 00000000 fd:01 456 /root/.cache/deno/v8_code_cache_v2
Rss:                 700 kB
Anonymous:             0 kB
7f0000300000-7f0000400000 r-xp 00000000 fd:01 789 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                   0 kB
Anonymous:             0 kB
7ffc00000000-7ffc00100000 rw-p 00000000 00:00 0 [stack]
Rss:                 100 kB
Anonymous:           100 kB
`;

Deno.test("only clean, private, read-only file pages are dropped", () => {
  const got = droppableMappings(SMAPS).map((m) => [m.start.toString(16), m.path, m.rssKb]);
  assertEquals(got, [
    ["55d0a0000000", "/usr/bin/deno", 400],
    ["55d0a0100000", "/usr/bin/deno", 9000],
  ]);
});
