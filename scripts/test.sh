#!/usr/bin/env bash
# Installs, builds and runs every test: first under AddressSanitizer and UBSan, then a short
# libFuzzer run of the readers (scripts/fuzz.sh), then the optimized build (whose ctest
# summary is the last line).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
echo "== sanitizer build (address, undefined)"
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DNABLA_SANITIZE=ON
(cd build-asan && LSAN_OPTIONS=suppressions=$PWD/../tests/lsan.supp ctest --output-on-failure -j2)
echo "== fuzzing the readers (libFuzzer, 12 s per target)"
bash scripts/fuzz.sh 12
echo "== release build"
bash scripts/build.sh build
cd build && ctest --output-on-failure -j2
