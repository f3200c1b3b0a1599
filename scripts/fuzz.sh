#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz, clang, -DNABLA_FUZZ=ON) and runs each for SECONDS
# (default 20) on a copy of its seed corpus (tests/fuzz/corpus/<target>: the committed corpus
# does not grow), with its dictionary, leak detection on, 2 GB of memory (one allocation at most
# 256 MB: the inputs are at most 8 KB) and a 10 s limit
# per input. First it replays the committed reproducers (tests/fuzz/crashes/<target>-*).
# Prints per target: executions, exec/s, coverage (libFuzzer's cov: and ft:) and findings;
# exits non-zero if any target crashed, leaked, ran out of memory or time, or a reproducer
# still fails. Findings and the last log are kept in build-fuzz/findings/<target>/.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     (targets: idx csv safetensors png text)
#   bash scripts/fuzz.sh 0                         (build only)
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS="-fork=1 -ignore_crashes=1" to go on past a
# known finding).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx csv safetensors png text)
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (bash scripts/deps.sh)" >&2; exit 2; }
CC=clang bash scripts/build.sh build-fuzz -DNABLA_FUZZ=ON
[ "$secs" -gt 0 ] || exit 0

# Longest input per target: a few times the largest seed.
declare -A maxlen=([idx]=8192 [csv]=2048 [safetensors]=4096 [png]=4096 [text]=4096)
# The targets write each input to a file in $TMPDIR: in memory (/dev/shm) that is 4-5 times
# faster than on disk. libFuzzer ends without atexit, so their folders go with ours.
fz_tmp=${TMPDIR:-/tmp}
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && fz_tmp=/dev/shm
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
work=$(mktemp -d "$fz_tmp/nabla-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work
bad=0
rows=()
for t in "${targets[@]}"; do
  bin=build-fuzz/tests/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  found=$PWD/build-fuzz/findings/$t
  mkdir -p "$found"
  # The reproducers of earlier findings must pass now.
  shopt -s nullglob
  repro=(tests/fuzz/crashes/"$t"-*)
  shopt -u nullglob
  if [ ${#repro[@]} -gt 0 ] && ! "$bin" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 "${repro[@]}" >"$work/$t.repro.log" 2>&1; then
    echo "fuzz_$t: a committed reproducer still fails:"
    grep -E "ERROR|SUMMARY|contract broken|Running:" "$work/$t.repro.log" | tail -5
    bad=1
  fi
  mkdir -p "$work/$t"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/"
  rc=0
  "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 -max_len="${maxlen[$t]}" \
    -dict=tests/fuzz/"$t".dict -artifact_prefix="$found/" -print_final_stats=1 \
    ${FUZZ_ARGS:-} "$work/$t" >"$work/$t.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -1 || true)
  if [ -z "$execs" ]; then # -fork=N prints no final stats: its last status line says it
    execs=$(grep -oE '^#[0-9]+' "$work/$t.log" | tail -1 | tr -d '#' || true)
    rate=$(grep -oE 'exec/s:? [0-9]+' "$work/$t.log" | tail -1 | grep -oE '[0-9]+$' || true)
  fi
  cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -1 | cut -d' ' -f2 || true)
  ft=$(grep -o 'ft: [0-9]*' "$work/$t.log" | tail -1 | cut -d' ' -f2 || true)
  what="nothing"
  if [ "$rc" -ne 0 ]; then
    bad=1
    art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -1 || true)
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)[^(]*|runtime error: .*|contract broken: .*' "$work/$t.log" || true)
    what="FOUND ${kind:-exit $rc}: ${art:-no artifact}"
  fi
  cp "$work/$t.log" "$found/fuzz.log"
  printf 'fuzz_%-12s %4ss  executions %-10s exec/s %-7s cov %-5s ft %-6s %s\n' \
    "$t" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$what"
  rows+=("| $t | $secs | ${execs:-?} | ${rate:-?} | ${cov:-?} / ${ft:-?} | $what |")
done
echo "| target | seconds | executions | exec/s | cov / ft | findings |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
[ "$bad" -eq 0 ] || echo "fuzz.sh: findings above (logs and inputs in build-fuzz/findings/)"
exit "$bad"
