#!/usr/bin/env bash
# Transfer learning with the CLI: LeNet-5 pre-trained on MNIST, then trained on Fashion-MNIST
#   scratch          fresh weights
#   frozen, new head --init MNIST --freeze conv1,conv2 --reset fc3
#   frozen, MNIST head --init MNIST --freeze conv1,conv2 (fc3 starts from the digit classifier)
#   full fine-tune   --init MNIST, nothing frozen
# on the whole training set (1 and 3 epochs, seed $SEED) and on 1000 training images (3 and 10
# epochs, seeds $SMALL_SEEDS: mean and range). Prints markdown tables (docs/finetune.md holds a run).
#
#   bash bench/finetune.sh     NABLA=path/to/nabla (default build/nabla), OUT=dir (default
#                              /tmp/nabla-finetune), SEED (1), SMALL_SEEDS ("1 2 3"), THREADS (2)
#
# Every run uses batch 64, Adam lr 1e-3 with the constant schedule; the MNIST model is trained
# with seed $SEED. With a constant learning rate epoch k of a longer run is the same computation
# as a k-epoch run (same seed, same shuffles), so "1 epoch" is read from epoch 1 of the 3-epoch
# run and "3 epochs" of the small budget from epoch 3 of the 10-epoch run. "s/epoch" comes from
# metrics.jsonl "seconds" (training only, the test pass is not counted): the mean over the
# epochs and, as the machine may be shared, the fastest epoch.
set -euo pipefail
cd "$(dirname "$0")/.."

NABLA=${NABLA:-build/nabla}
OUT=${OUT:-/tmp/nabla-finetune}
SEED=${SEED:-1}
SMALL_SEEDS=${SMALL_SEEDS:-1 2 3}
THREADS=${THREADS:-2}
[ -x "$NABLA" ] || { echo "finetune.sh: no CLI at $NABLA (build nabla_cli, or set NABLA=)" >&2; exit 1; }
for d in mnist fashion-mnist; do
    [ -d "data/$d" ] || [ -n "${NABLA_DATA:-}" ] || { echo "finetune.sh: data/$d missing: bash scripts/data.sh" >&2; exit 1; }
done
mkdir -p "$OUT"
COMMON=(--model lenet5 --batch 64 --optimizer adam --lr 1e-3 --schedule constant
        --threads "$THREADS" --quiet)
T0=$(date +%s)

train() {  # train DIR ARGS...
    local dir=$1; shift
    echo "[$(( $(date +%s) - T0 ))s] nabla train ${*} --out $dir" >&2
    "$NABLA" train "${COMMON[@]}" "$@" --overwrite --out "$dir"
}
acc() {  # acc DIR EPOCH: test accuracy in percent
    sed -n "${2}p" "$1/metrics.jsonl" | sed 's/.*"test_accuracy": \([0-9.]*\).*/\1/' | awk '{printf "%.2f", 100 * $1}'
}
secs() {  # secs DIR...: mean / fastest training seconds per epoch over all epochs of the DIRs
    for d in "$@"; do sed 's/.*"seconds": \([0-9.]*\).*/\1/' "$d/metrics.jsonl"; done |
        awk 'NR == 1 || $1 < m {m = $1} {s += $1; n++} END {printf (m < 1 ? "%.3f / %.3f" : "%.1f / %.1f"), s / n, m}'
}
accs() {  # accs EPOCH DIR...: mean test accuracy in percent and the range over the DIRs
    local e=$1; shift
    for d in "$@"; do acc "$d" "$e"; echo; done |
        awk 'NR == 1 || $1 < lo {lo = $1} NR == 1 || $1 > hi {hi = $1} {s += $1; n++}
             END {if (n == 1) printf "%.2f", s; else printf "%.2f (%.2f-%.2f)", s / n, lo, hi}'
}

# Parameter counts from the CLI's own model summary (a throwaway 64-image run).
"$NABLA" train --model lenet5 --data fashion-mnist --epochs 1 --limit-train 64 --limit-test 64 \
    --threads "$THREADS" --out "$OUT/summary" > "$OUT/summary.txt"
TOTAL=$(awk '/^total parameters:/ {print $3}' "$OUT/summary.txt")
CONV=$(awk '$1 == "conv1" || $1 == "conv2" {s += $NF} END {print s}' "$OUT/summary.txt")
FROZEN_TRAINABLE=$((TOTAL - CONV))

# 1. The pre-trained model.
PRE="$OUT/mnist"
train "$PRE" --data mnist --epochs 3 --seed "$SEED"
INIT="$PRE/model.safetensors"

# 2. Fashion-MNIST: the four settings on the full training set and on 1000 images.
SETTINGS=(scratch frozen-reset frozen-keep full)
label() {
    case $1 in
        scratch) echo "from scratch" ;;
        frozen-reset) echo "MNIST init, conv1+conv2 frozen, fc3 re-initialized (--reset fc3)" ;;
        frozen-keep) echo "MNIST init, conv1+conv2 frozen, MNIST fc3 kept" ;;
        full) echo "MNIST init, nothing frozen (full fine-tuning)" ;;
    esac
}
args() {
    case $1 in
        scratch) ;;
        frozen-reset) echo "--init $INIT --freeze conv1,conv2 --reset fc3" ;;
        frozen-keep) echo "--init $INIT --freeze conv1,conv2" ;;
        full) echo "--init $INIT" ;;
    esac
}
params() { case $1 in frozen-*) echo "$FROZEN_TRAINABLE" ;; *) echo "$TOTAL" ;; esac; }

for s in "${SETTINGS[@]}"; do
    # shellcheck disable=SC2046
    train "$OUT/full-$s" --data fashion-mnist --epochs 3 --seed "$SEED" $(args "$s")
done
for s in "${SETTINGS[@]}"; do
    for seed in $SMALL_SEEDS; do
        # shellcheck disable=SC2046
        train "$OUT/small-$s-$seed" --data fashion-mnist --epochs 10 --limit-train 1000 --seed "$seed" $(args "$s")
    done
done

# 3. Tables.
echo
echo "Pre-trained model: LeNet-5 on MNIST, 3 epochs, seed $SEED: MNIST test accuracy $(acc "$PRE" 3)%" \
     "(s/epoch mean / fastest: $(secs "$PRE"))."
echo
echo "Fashion-MNIST, all 60,000 training images, seed $SEED (test accuracy on the 10,000 test images, %):"
echo
echo "| setting | trainable params | 1 epoch | 3 epochs | s/epoch (mean / fastest) |"
echo "|---|---:|---:|---:|---:|"
for s in "${SETTINGS[@]}"; do
    d="$OUT/full-$s"
    printf '| %s | %s | %s | %s | %s |\n' "$(label "$s")" "$(params "$s")" "$(acc "$d" 1)" "$(acc "$d" 3)" "$(secs "$d")"
done
echo
echo "Fashion-MNIST, 1,000 training images (--limit-train 1000), seeds $SMALL_SEEDS: mean (min-max) test" \
     "accuracy on the 10,000 test images, %:"
echo
echo "| setting | trainable params | 3 epochs | 10 epochs | s/epoch (mean / fastest) |"
echo "|---|---:|---:|---:|---:|"
for s in "${SETTINGS[@]}"; do
    dirs=()
    for seed in $SMALL_SEEDS; do dirs+=("$OUT/small-$s-$seed"); done
    printf '| %s | %s | %s | %s | %s |\n' "$(label "$s")" "$(params "$s")" "$(accs 3 "${dirs[@]}")" \
        "$(accs 10 "${dirs[@]}")" "$(secs "${dirs[@]}")"
done
echo
echo "total wall time: $(( $(date +%s) - T0 )) s, $(nproc) cores, threads $THREADS"
