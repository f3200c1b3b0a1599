#!/usr/bin/env bash
# Configures and builds nabla into build/ (or the folder given as $1, with extra cmake args).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
