/**
 * Times and sizes in podman's words, shared by `ps`, `images` and
 * `history`: docker/go-units' `HumanDuration` (`About a minute`,
 * `2 hours`, `3 weeks`) and `HumanSizeWithPrecision(n, 3)` with the space
 * podman puts before the unit (`81.4 MB`).
 *
 * @module
 */

/** A duration as go-units' `HumanDuration` says it: `3 seconds`, `About an hour`, `2 weeks`. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.floor(ms / 3_600_000 + 0.5);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/**
 * How long before `now` the ISO time `iso` was, as podman's `CREATED`
 * column says it (`2 hours ago`); `fallback` when there is no time or it
 * does not parse.
 */
export function ago(iso: string | null | undefined, now: Date | number, fallback = ""): string {
  const t = typeof iso === "string" ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return fallback;
  return `${humanDuration((typeof now === "number" ? now : now.getTime()) - t)} ago`;
}

/** Go's `%.3g`: three significant digits, trailing zeros dropped, `1e+03` past them. */
function g3(x: number): string {
  const p = x.toPrecision(3);
  const e = /^(-?[\d.]+)e([+-])(\d+)$/.exec(p);
  const strip = (d: string) => d.includes(".") ? d.replace(/\.?0+$/, "") : d;
  if (e === null) return strip(p);
  return `${strip(e[1]!)}e${e[2]}${e[3]!.padStart(2, "0")}`;
}

/** Bytes as podman's `SIZE` columns say them (decimal units): `800 B`, `4.87 kB`, `81.4 MB`. */
export function humanSize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${g3(n)} ${units[u]}`;
}
