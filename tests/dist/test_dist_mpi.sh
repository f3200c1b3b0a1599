#!/usr/bin/env bash
# The library's data-parallel training on 2 and 3 processes of this machine (tests/test_dist.c:
# the same weights on every process, and those of a one-process run within float tolerance),
# and a process that fails mid-epoch while the others wait in the all-reduce: the job must end
# with an error, not hang.
# Then examples/dist_train.c on 2 processes.
# Usage: test_dist_mpi.sh TEST_DIST_PROGRAM MPI_BUILT [DIST_TRAIN_EXAMPLE]   (run from tests/)
set -uo pipefail
prog=$1
here=$(dirname "$0")
# shellcheck source=tests/dist/mpirun.sh
. "$here/mpirun.sh"
mpi_skip_unless_ready "$2"
fail=0
for n in 2 3; do
  echo "== $n processes"
  if ! mpi_run $n "$prog"; then
    echo "FAIL: test_dist on $n processes" >&2
    fail=1
  fi
done
if [ -n "${3:-}" ]; then
  echo "== examples/dist_train on 2 processes"
  ex=$(mktemp -d)
  if ! mpi_run 2 "$3" fixtures/mnist-small "$ex" || [ ! -s "$ex/dist_train.safetensors" ]; then
    echo "FAIL: examples/dist_train on 2 processes" >&2
    fail=1
  fi
  rm -rf "$ex"
fi
echo "== rank 1 fails in the middle of an epoch"
t0=$(date +%s)
out=$(MPI_TIMEOUT=120 mpi_run 2 "$prog" fail 2>&1)
rc=$? t=$(($(date +%s) - t0))
if [ $rc -eq 124 ]; then
  echo "FAIL: a failing process left the job hanging (killed after 120 s)" >&2
  fail=1
elif [ $rc -eq 0 ]; then
  echo "FAIL: the job of a failing process exited 0" >&2
  fail=1
elif ! grep -q "rank 1 fails at its third step: ending the job" <<<"$out" || grep -q "finished its epoch" <<<"$out"; then
  echo "FAIL: the failing process did not end the job as expected:" >&2
  echo "$out" >&2
  fail=1
else
  echo "the job ended with status $rc after $t s"
fi
[ $fail -eq 0 ] && echo "test_dist_mpi: all passed"
exit $fail
