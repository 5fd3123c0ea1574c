import { assertEquals } from "./assert.ts";
import { ago, humanDuration, humanSize } from "../lib/cli/commands/human.ts";

const S = 1000;
const H = 3600 * S;
const D = 24 * H;

Deno.test("humanDuration: go-units' HumanDuration words, boundary by boundary", () => {
  const cases: [number, string][] = [
    [0, "Less than a second"],
    [999, "Less than a second"],
    [1 * S, "1 second"],
    [59 * S, "59 seconds"],
    [60 * S, "About a minute"],
    [119 * S, "About a minute"],
    [120 * S, "2 minutes"],
    [59 * 60 * S, "59 minutes"],
    [60 * 60 * S, "About an hour"],
    [89 * 60 * S, "About an hour"], // hours round: 1.48 -> 1
    [90 * 60 * S, "2 hours"], // 1.5 -> 2
    [47 * H, "47 hours"],
    [48 * H, "2 days"],
    [13 * D, "13 days"],
    [14 * D, "2 weeks"],
    [59 * D, "8 weeks"],
    [60 * D, "2 months"],
    [729 * D, "24 months"],
    [730 * D, "2 years"],
    [3 * 365 * D, "3 years"],
  ];
  for (const [ms, want] of cases) assertEquals(humanDuration(ms), want, `${ms} ms`);
});

Deno.test("ago: podman's CREATED words; a missing or bad time gives the fallback", () => {
  const now = new Date("2020-01-01T02:00:00Z");
  assertEquals(ago("2020-01-01T00:00:00Z", now), "2 hours ago");
  assertEquals(ago("2020-01-01T01:00:00Z", now), "About an hour ago");
  assertEquals(ago("2020-01-01T01:58:30Z", now), "About a minute ago");
  assertEquals(ago("2020-01-01T02:00:00Z", now.getTime()), "Less than a second ago");
  assertEquals(ago(null, now, "<unknown>"), "<unknown>");
  assertEquals(ago("yesterday", now), "");
});

Deno.test("humanSize: podman's %.3g decimal sizes with a space before the unit", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [800, "800 B"],
    [1000, "1 kB"],
    [4866, "4.87 kB"],
    [81_400_000, "81.4 MB"],
    [214_700_000, "215 MB"],
    [192_000_000, "192 MB"],
    [1_230_000_000, "1.23 GB"],
    [999_600, "1e+03 kB"], // go-units divides before rounding, as podman prints it
  ];
  for (const [n, want] of cases) assertEquals(humanSize(n), want, `${n} B`);
});
