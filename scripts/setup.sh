#!/usr/bin/env bash
# Installs what berth needs, only what is missing (idempotent), prepares a
# busybox demo root filesystem, and runs a demo container.
#   - Deno 2.x from the npm registry (pinned below)
#   - runc and busybox-static from apt; tmux (the terminal tests drive a real terminal with it)
#   - containernetworking-plugins (CNI: bridge, host-local, portmap, firewall, loopback),
#     iptables (portmap and the bridge's masquerade use it) and iproute2 for bridge networks
#   - docker-registry, skopeo, umoci (the image tests run a real registry on loopback)
#   - util-linux (setpriv, prlimit) and perl for the security tests (both in a stock Debian 12)
#   - strace: crash_test kills real runc at one system call with it (its fault injection)
# Usage: scripts/setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
DENO_VERSION=2.9.6
DEMO_ROOTFS=${BERTH_DEMO_ROOTFS:-/var/lib/berth-demo/busybox}
say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then echo "setup: run as root (berth manages containers)" >&2; exit 1; fi

if command -v deno >/dev/null 2>&1 && deno --version | head -1 | grep -q '^deno 2\.'; then
  say "deno present: $(deno --version | head -1)"
else
  command -v npm >/dev/null 2>&1 || { echo "setup: npm not found: install Node.js first" >&2; exit 1; }
  say "installing deno@$DENO_VERSION from the npm registry"
  npm install -g --no-audit --no-fund "deno@$DENO_VERSION" >/dev/null
fi

missing=()
command -v runc >/dev/null 2>&1 || missing+=(runc)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/portmap ] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
# The image tests run a real registry and push with skopeo; umoci builds images by hand.
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v umoci >/dev/null 2>&1 || missing+=(umoci)
# The security tests act as an unprivileged user (setpriv), cap a monitor's
# descriptors (prlimit) and speak to its socket with perl.
{ command -v setpriv && command -v prlimit; } >/dev/null 2>&1 || missing+=(util-linux)
# crash_test makes real runc die between its bind mount and its unmount (strace -e inject).
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v perl >/dev/null 2>&1 || missing+=(perl-base)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  say "runc, busybox-static, tmux, the CNI plugins, iptables, iproute2, docker-registry, skopeo and umoci present"
fi

bash scripts/make_rootfs.sh "$DEMO_ROOTFS"
say "demo rootfs: $DEMO_ROOTFS"

[ "${1:-}" = "--no-demo" ] && exit 0
say "berth version"
deno run -A main.ts version
say "berth run --rm --network none --rootfs $DEMO_ROOTFS demo -- sh -c 'echo hello from \$(hostname); exit 42'"
set +e
deno run -A main.ts run --rm --network none --rootfs "$DEMO_ROOTFS" demo -- sh -c 'echo hello from $(hostname); exit 42'
code=$?
set -e
say "the container exited with $code"
[ "$code" = 42 ] || { echo "setup: demo container failed" >&2; exit 1; }
deno run -A main.ts list
