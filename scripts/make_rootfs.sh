#!/usr/bin/env bash
# Builds a minimal busybox root filesystem in DIR (idempotent).
# Usage: scripts/make_rootfs.sh DIR
set -euo pipefail
dir=${1:?usage: make_rootfs.sh DIR}
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "make_rootfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if [ -x "$dir/bin/busybox" ]; then exit 0; fi
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"/{bin,etc,tmp,proc,sys,dev,root,var}
chmod 1777 "$tmp/tmp"
cp "$busybox" "$tmp/bin/busybox"
for applet in $("$tmp/bin/busybox" --list); do
  [ -e "$tmp/bin/$applet" ] || ln -s busybox "$tmp/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$tmp/etc/group"
mkdir -p "$(dirname "$dir")"
mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"   # lost a race: another run made it
