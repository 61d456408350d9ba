#!/bin/sh
# Installs the Debian packages moongrad needs, only those that are missing.
# Run as root on Debian 12 (make run / make test call it).
set -e
PKGS="luajit libluajit-5.1-dev llvm-19-dev doctest-dev libimgui-dev libstb-dev libglfw3-dev libgl-dev libgl1-mesa-dri premake4 dataset-fashion-mnist xvfb zlib1g-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages:$missing; run as root or install them" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
