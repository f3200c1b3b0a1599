#!/usr/bin/env bash
# Data-parallel training on this machine (issue 11): samples/s of one epoch of MNIST (60,000
# images) for lenet5 and mlp, on 1 process (1 thread, and as many threads as the 2 processes
# have together) and on 2 processes of 1 thread each, with the share of rank 0's training time
# spent in the gradient all-reduce ("all-reduce": waiting for the slower process included) and
# the size of one all-reduce (4 bytes per parameter).
# Then bench_dist (bench/bench_dist.c) times a step of each process's share and the all-reduce
# alone, with the processes lined up first: the communication's share of a step when neither
# waits for the other.
# Usage: bash bench/dist_bench.sh [NABLA=build/nabla] [REPEAT=3] [EPOCH_LIMIT=0 (all 60,000)]
# Each configuration runs REPEAT times; the best (highest samples/s) run is reported, as the
# machine may be shared. Every command is printed before it runs.
set -euo pipefail
NABLA=${1:-build/nabla}
REPEAT=${2:-3}
LIMIT=${3:-0}
OUT=$(mktemp -d /tmp/nabla-dist-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
BENCH_DIST=$(dirname "$NABLA")/bench/bench_dist
MPI=(mpirun --oversubscribe --bind-to none --mca btl self,vader -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=passive)
[ "$(id -u)" -eq 0 ] && MPI+=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
rate() { sed -n 's/.*"samples_per_s": \([0-9.]*\).*/\1/p' "$1/metrics.jsonl" | tail -1; }
best() { # best LABEL COMMAND...: the best samples/s (and its all-reduce share) of REPEAT runs
  local label=$1 r b=0 share=- kb=- out
  shift
  for ((i = 0; i < REPEAT; i++)); do
    echo "+ $*" >&2
    out=$("$@" --out "$OUT/run" --overwrite 2>&1)
    r=$(rate "$OUT/run")
    if awk -v a="$r" -v b="$b" 'BEGIN{exit !(a > b)}'; then
      b=$r
      share=$(sed -n 's/.*in the gradient all-reduce (\([0-9.]*%\).*/\1/p' <<<"$out")
      kb=$(sed -n 's/.* all-reduces of \([0-9]*\) KB$/\1/p' <<<"$out")
      [ -n "$share" ] || share=-
      [ -n "$kb" ] || kb=-
    fi
  done
  printf "| %-7s | %-22s | %9.0f | %10s | %16s |\n" "$model" "$label" "$b" "$share" "$kb"
}
echo "| model   | processes x threads    | samples/s | all-reduce | KB per all-reduce |"
echo "|---------|------------------------|-----------|------------|------------------|"
for model in lenet5 mlp; do
  args=(train --model "$model" --data mnist --epochs 1 --limit-train "$LIMIT" --limit-test 1000 --seed 0)
  best "1 x 1" "$NABLA" "${args[@]}" --threads 1
  best "1 x 2" "$NABLA" "${args[@]}" --threads 2
  best "2 x 1 (mpirun -np 2)" "${MPI[@]}" -np 2 "$NABLA" "${args[@]}"
done
echo
echo "+ ${MPI[*]} -np 2 $BENCH_DIST 200" >&2
"${MPI[@]}" -np 2 "$BENCH_DIST" 200
