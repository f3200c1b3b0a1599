#!/usr/bin/env bash
# Whether two nabla binaries train the same bits: short seeded runs of every zoo model (a slice of
# each one's data set, one epoch, seed 0), and the checkpoints (weights, optimizer state, RNG
# state, metadata) compared byte for byte. For speed work that must keep results (issue 13).
#   bash scripts/bitcheck.sh OLD_NABLA NEW_NABLA [threads...]      (default threads: 1 2)
# Run from anywhere; data/ as scripts/data.sh leaves it. Exit status 1 when any checkpoint differs.
set -uo pipefail
OLD=$(realpath "$1") NEW=$(realpath "$2"); shift 2
TH=${*:-1 2}
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/nabla_bitcheck_XXXXXX)
trap 'rm -rf "$T"' EXIT
runs=("mlp mnist 1000" "lenet5 mnist 1000" "seedcnn mnist 1000" "gan mnist 640" "dcgan mnist 256"
      "vae fashion-mnist 640" "autoencoder fashion-mnist 640" "conv-autoencoder fashion-mnist 256"
      "lstm-rows mnist 512" "langid langid 640" "spam spam 128" "charlm moby-dick 64" "ner sotu 96" "mlm sotu 96")
fail=0
for t in $TH; do
  for r in "${runs[@]}"; do
    set -- $r
    for b in old new; do
      bin=$OLD; [ $b = new ] && bin=$NEW
      "$bin" train --model "$1" --data "$2" --epochs 1 --limit-train "$3" --limit-test 64 --threads "$t" \
        --out "$T/$b" --quiet >"$T/$b.log" 2>&1 || echo "  $b: $1 failed: $(tail -1 "$T/$b.log")"
    done
    if cmp -s "$T/old/checkpoint.safetensors" "$T/new/checkpoint.safetensors"; then echo "same    threads $t  $1"
    else echo "DIFFERS threads $t  $1"; fail=1; fi
    rm -rf "$T/old" "$T/new"
  done
done
exit $fail
