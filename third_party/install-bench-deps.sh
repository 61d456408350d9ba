#!/bin/sh
# Installs the Debian packages that `make bench` needs beyond install-deps.sh, only those
# that are missing: OpenBLAS, the reference that tests/bench/cpu_ops.lua measures matmul
# against. Run as root on Debian 12 (make bench calls it).
set -e
PKGS="libopenblas-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-bench-deps: installing$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-bench-deps: missing packages:$missing; run as root or install them" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-bench-deps: done"
