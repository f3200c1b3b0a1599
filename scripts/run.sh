#!/usr/bin/env bash
# The main job: install, build, and train the demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
./build/examples/demo
