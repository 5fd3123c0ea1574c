#!/usr/bin/env bash
# Installs berth on a host, non-interactively and idempotently.
#
#   scripts/install.sh --binary PATH   install a berth binary (from deno task compile)
#   scripts/install.sh --from-source   install a launcher that runs this checkout with Deno
#   scripts/install.sh --uninstall     remove exactly what an earlier run installed
#
# Options:
#   --prefix DIR      where the berth command goes (default /usr/local/bin)
#   --root DIR        volatile root to create (default /run/berth)
#   --data-root DIR   persistent root to create (default /var/lib/berth)
#   --state-dir DIR   where this script records what it installed (default /var/lib/berth-install)
#   --no-doctor       do not run berth doctor afterwards
#
# Exit codes: 0 installed (or nothing to do), 1 failure, 2 usage,
#   3 installed but runc is missing (the command to install it is printed),
#   4 uninstall refused (a root still holds containers),
#   5 installed but berth doctor reports a failed check.
set -uo pipefail

prefix=/usr/local/bin root=/run/berth data_root=/var/lib/berth state_dir=/var/lib/berth-install
mode="" binary="" doctor=1
say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: %s\n' "$2" >&2; exit "$1"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || die 2 "--binary needs a path"; mode=binary; binary=$2; shift 2 ;;
    --from-source) mode=source; shift ;;
    --uninstall) mode=uninstall; shift ;;
    --prefix) [ $# -ge 2 ] || die 2 "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --root) [ $# -ge 2 ] || die 2 "--root needs a directory"; root=$2; shift 2 ;;
    --data-root) [ $# -ge 2 ] || die 2 "--data-root needs a directory"; data_root=$2; shift 2 ;;
    --state-dir) [ $# -ge 2 ] || die 2 "--state-dir needs a directory"; state_dir=$2; shift 2 ;;
    --no-doctor) doctor=0; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown argument \"$1\" (see --help)" ;;
  esac
done
[ -n "$mode" ] || die 2 "give --binary PATH, --from-source or --uninstall (see --help)"
[ "$(id -u)" = 0 ] || die 1 "run as root"
for d in "$prefix" "$root" "$data_root" "$state_dir"; do
  case "$d" in /*) ;; *) die 2 "\"$d\" must be an absolute path" ;; esac
done

manifest="$state_dir/manifest"
target="$prefix/berth"
berth_env=(env "BERTH_ROOT=$root" "BERTH_DATA_ROOT=$data_root")

# ---- uninstall -------------------------------------------------------------
if [ "$mode" = uninstall ]; then
  [ -f "$manifest" ] || { say "nothing was installed by this script ($manifest is missing)"; exit 0; }
  # Refuse while a root it created still holds containers.
  while read -r kind path _; do
    [ "$kind" = dir ] || continue
    busy=$(find "$path/ns" -mindepth 3 -maxdepth 3 -path '*/containers/*' ! -name '.*' 2>/dev/null | head -5)
    [ -z "$busy" ] || die 4 "refusing to uninstall: $path still holds containers ($(basename -a $busy | tr '\n' ' '))- delete them first"
  done < "$manifest"
  while read -r kind path sum; do
    case "$kind" in
      file)
        if [ ! -e "$path" ]; then continue; fi
        if [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sum" ]; then rm -f "$path" && say "removed $path"
        else say "kept $path: it changed since it was installed"; fi ;;
    esac
  done < "$manifest"
  while read -r kind path _; do
    [ "$kind" = dir ] || continue
    # The monitor of a root without containers exits by itself within seconds.
    for _ in $(seq 50); do fuser -s "$path/monitor.lock" 2>/dev/null || break; sleep 0.1; done
    rm -rf "$path" && say "removed $path"
  done < "$manifest"
  rm -f "$manifest"
  rmdir "$state_dir" 2>/dev/null || true
  say "uninstalled"
  exit 0
fi

# ---- install ---------------------------------------------------------------
changed=0
mkdir -p "$state_dir" && chmod 0700 "$state_dir" || die 1 "cannot create $state_dir"
touch "$manifest"
record() { # kind path [sum]: replace any earlier line for path
  grep -v -F " $2 " "$manifest" | grep -v -x -F "$1 $2" > "$manifest.tmp" || true
  printf '%s %s %s\n' "$1" "$2" "${3:-}" >> "$manifest.tmp"
  mv "$manifest.tmp" "$manifest"
}

tmp=$(mktemp) || die 1 "mktemp failed"
trap 'rm -f "$tmp"' EXIT
if [ "$mode" = binary ]; then
  [ -f "$binary" ] && [ -x "$binary" ] || die 2 "--binary $binary is not an executable file"
  cp "$binary" "$tmp"
else
  src=$(cd "$(dirname "$0")/.." && pwd)
  deno=$(command -v deno) || die 1 "deno not found: run scripts/setup.sh first"
  printf '#!/bin/sh\n# berth launcher, installed by %s\nexec %s run -A --quiet %s "$@"\n' \
    "$src/scripts/install.sh" "$deno" "$src/main.ts" > "$tmp"
fi
mkdir -p "$prefix" || die 1 "cannot create $prefix"
if [ -f "$target" ] && cmp -s "$tmp" "$target"; then
  say "$target is up to date"
else
  install -m 0755 "$tmp" "$target" || die 1 "cannot write $target"
  say "installed $target"
  changed=1
fi
record file "$target" "$(sha256sum "$target" | cut -d' ' -f1)"

for d in "$root" "$data_root"; do
  if [ ! -d "$d" ]; then
    mkdir -p "$d" && chmod 0711 "$d" && chown root:root "$d" || die 1 "cannot create $d"
    say "created $d (0711)"
    record dir "$d"
    changed=1
  elif [ "$(stat -c '%u' "$d")" != 0 ] || [ $(( 0$(stat -c '%a' "$d") & 022 )) != 0 ]; then
    chown root:root "$d" && chmod go-w "$d" || die 1 "cannot make $d safe"
    say "made $d owned by root and not group/world-writable"
    changed=1
  fi
done

[ "$changed" = 1 ] || say "berth is already installed: nothing to do"

if ! "${berth_env[@]}" sh -c 'command -v "${BERTH_RUNTIME:-runc}"' >/dev/null 2>&1; then
  say "runc is missing; install it with:"
  say "  apt-get install -y runc      # Debian, Ubuntu"
  say "  dnf install -y runc          # Fedora, RHEL"
  exit 3
fi
if [ "$doctor" = 1 ]; then
  "${berth_env[@]}" "$target" doctor || exit 5
fi
exit 0
