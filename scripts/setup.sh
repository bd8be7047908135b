#!/bin/bash
# Installs dbx's build dependencies (Debian 12 packages) and builds dbx in ./build.
# Usage: scripts/setup.sh [extra cmake args...]   Environment: BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
pkgs=(build-essential cmake pkg-config libopenblas-dev libdnnl-dev libcunit1-dev libopenmpi-dev
      openmpi-bin libhwloc-dev hwloc slurm-wlm munge iproute2 procps python3 bc gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
fi
echo "== configuring ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@"
echo "== building"
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "== built: $BUILD_DIR/dbx"
