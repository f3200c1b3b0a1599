#!/usr/bin/env bash
# Out of memory is an error, not a crash (issue 10): under `ulimit -v`, training LeNet-5 with a
# batch of the whole 2000-image slice (about 280 MB of activations) must exit 1 with an
# out-of-memory message, never die by a signal. Not run in the sanitizer build (ASan reserves
# terabytes of virtual memory, so no `ulimit -v` leaves it room).
# usage: test_lowmem.sh path/to/nabla [sanitized: 1 or 0]   (run from tests/)
set -uo pipefail
NABLA=$1
if [ "${2:-0}" = 1 ]; then echo "test_lowmem: skipped in the sanitizer build"; exit 77; fi
DATA=fixtures/mnist-small
T=$(mktemp -d /tmp/nabla_lowmem_XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
# One thread for OpenMP and OpenBLAS, one malloc arena: the fixed virtual memory of the
# process (thread stacks, OpenBLAS's buffers) stays small and steady.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MALLOC_ARENA_MAX=1
# run LIMIT_KB BATCH: trains one epoch under the limit; sets rc and out. OpenBLAS spins forever
# when its own buffer cannot be had, so a timeout stands guard.
run() {
  out=$( (ulimit -v "$1"; timeout 120 "$NABLA" train --model lenet5 --data mnist --data-dir "$DATA" \
    --epochs 1 --batch "$2" --threads 1 --limit-test 100 --out "$T/out" --overwrite --quiet) 2>&1 >/dev/null)
  rc=$?
}
# The smallest limit (in 100 MB steps) under which a batch of 64 trains: the fixed memory of
# the process plus a little. A whole-slice batch needs about 280 MB more than that.
limit=
for kb in 400000 500000 600000 700000 800000; do
  run "$kb" 64
  if [ $rc -eq 0 ]; then limit=$kb; break; fi
done
if [ -z "$limit" ]; then
  bad "a batch of 64 does not train under ulimit -v 800000 (rc $rc: $out)"
else
  ok
  run "$limit" 2000
  if [ $rc -eq 1 ] && grep -q "out of memory" <<<"$out" && grep -q -- "--batch" <<<"$out"; then
    ok
  else
    bad "batch 2000 under ulimit -v $limit: rc $rc (want 1; >128 is a signal), '$out'"
  fi
fi
echo "test_lowmem: $pass passed, $fail failed"
[ $fail -eq 0 ]
