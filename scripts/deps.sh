#!/usr/bin/env bash
# Installs what nabla needs from Debian's archive (as root; skipped when already there).
set -euo pipefail
PKGS=(build-essential cmake libopenblas-dev libopenblas-openmp-dev libdnnl-dev pkg-config zlib1g-dev libpng-dev
      libcairo2-dev libjansson-dev clang libclang-rt-dev libomp-dev # clang: the fuzz targets
      libopenmpi-dev openmpi-bin) # MPI: data-parallel training (src/dist/) and its tests
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
