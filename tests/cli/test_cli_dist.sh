#!/usr/bin/env bash
# nabla train under mpirun (issue 11), on the committed slices, 2 processes of 1 thread each:
#  - mpirun -np 1 writes the same checkpoint bytes as a plain run;
#  - LeNet-5 on 2 processes reaches the figures of one process (same global batches) within float
#    tolerance, prints once, writes once, and says the world size;
#  - --resume on 2 processes is byte-identical to an uninterrupted 2-process run; a 2-process
#    checkpoint resumes on 1 process and a 1-process one on 2 (with a note);
#  - the sequence models (charlm: stateful rows and per-token labels; langid: lengths) and the
#    generative ones (gan: both models averaged; dcgan: batch norm; vae) train under mpirun, the
#    language models to the one-process figures;
#  - a process given other data or other flags ends the job with an error, not a hang; SIGTERM
#    to one process stops both after the same step, with rank 0's message and a checkpoint to
#    resume from; eval refuses 2 processes.
# Skipped (77) when nabla was built without MPI or mpirun is missing.
# usage: test_cli_dist.sh path/to/nabla MPI_BUILT   (run from tests/)
set -uo pipefail
NABLA=$1
here=$(dirname "$0")
# shellcheck source=tests/dist/mpirun.sh
source "$here/../dist/mpirun.sh"
mpi_skip_unless_ready "$2"
# shellcheck source=tests/cli/harness.sh
source "$here/harness.sh"
F=$PWD/fixtures
D=$F/mnist-small
T=$(mktemp -d /tmp/nabla_clidist_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
metric() { # metric FILE KEY [LINE]: the value of KEY on LINE (default: the last) of metrics.jsonl
  local line
  if [ $# -ge 3 ]; then line=$(sed -n "${3}p" "$1"); else line=$(tail -1 "$1"); fi
  sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" <<<"$line"
}
close() { # close A B RTOL: |A - B| <= RTOL |B|
  awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN{d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && b != "" && d <= r * m)}'
}
same_figures() { # same_figures DIR_A DIR_B KEYS...: every epoch's KEYS agree to 1e-5
  local da=$1 db=$2 k e n a b
  n=$(wc -l <"$db/metrics.jsonl")
  check '[ "$(wc -l <"$da/metrics.jsonl")" -eq "$n" ]' "$da and $db: different numbers of epochs"
  for ((e = 1; e <= n; e++)); do
    for k in "${@:3}"; do
      a=$(metric "$da/metrics.jsonl" "$k" "$e") b=$(metric "$db/metrics.jsonl" "$k" "$e")
      check 'close "$a" "$b" 1e-5' "$da vs $db: epoch $e $k: $a on 2 processes, $b on 1"
    done
  done
}
mpi2() { mpi_run 2 "$NABLA" "$@"; }
L=(--model lenet5 --data mnist --data-dir "$D" --limit-train 512 --limit-test 200 --seed 0)

# ---- one process under mpirun: the bytes of a plain run ----------------------------------------
"$NABLA" train "${L[@]}" --epochs 1 --threads 1 --quiet --out "$T/plain" || bad "plain lenet5"
mpi_run 1 "$NABLA" train "${L[@]}" --epochs 1 --threads 1 --quiet --out "$T/np1" || bad "mpirun -np 1 lenet5"
check 'cmp -s "$T/plain/checkpoint.safetensors" "$T/np1/checkpoint.safetensors"' \
  "mpirun -np 1 wrote another checkpoint than a plain run"

# ---- lenet5 on 2 processes against 1 ----------------------------------------------------------------
"$NABLA" train "${L[@]}" --epochs 2 --threads 1 --quiet --out "$T/one" || bad "lenet5 on one process"
out=$(mpi2 train "${L[@]}" --epochs 2 --out "$T/two" 2>&1) || bad "lenet5 on 2 processes: $out"
same_figures "$T/two" "$T/one" train_loss train_accuracy test_loss test_accuracy
check '[ "$(grep -c "^epoch 2/2" <<<"$out")" -eq 1 ] && [ "$(grep -c "^lenet5 on mnist" <<<"$out")" -eq 1 ]' \
  "2 processes should print once: $out"
check 'grep -q "^distributed: world size 2 (2 on this machine), 1 threads each; each global batch of 64 gives 32 samples" <<<"$out"' \
  "the world size line: $(grep distributed <<<"$out")"
check 'grep -q "^data-parallel: 2 processes; rank 0 spent .* in the gradient all-reduce" <<<"$out"' "the all-reduce summary"
check '! grep -q "weights differ" <<<"$out"' "the processes' weights differed: $out"
for f in model.safetensors checkpoint.safetensors metrics.jsonl report.txt curves.png predictions.png; do
  check '[ -s "$T/two/$f" ]' "2 processes: no $f"
done
check '! ls "$T/two"/*.tmp.* >/dev/null 2>&1' "2 processes: temporary files left behind"
check 'grep -q "\"processes\":\"2\"" <(head -c 4096 "$T/two/checkpoint.safetensors")' "the plan should say processes 2"
check 'grep -q "accuracy .* 200$" "$T/two/report.txt"' "the report should count the 200 test images of both processes"

# ---- resume: 2 processes byte-identical; 2 -> 1 and 1 -> 2 --------------------------------------
mpi2 train "${L[@]}" --epochs 2 --stop-after 1 --quiet --out "$T/r2" || bad "2 processes, --stop-after 1"
mpi2 train --resume "$T/r2/checkpoint.safetensors" --data-dir "$D" --quiet || bad "2 processes, --resume"
check 'cmp -s "$T/two/checkpoint.safetensors" "$T/r2/checkpoint.safetensors"' \
  "a resumed 2-process run is not byte-identical to an uninterrupted one"
mpi2 train "${L[@]}" --epochs 2 --stop-after 1 --quiet --out "$T/r21" || bad "2 processes, --stop-after 1 (2)"
err=$("$NABLA" train --resume "$T/r21/checkpoint.safetensors" --data-dir "$D" --threads 1 2>&1 >/dev/null) ||
  bad "a 2-process checkpoint resumed on 1 process: $err"
check 'grep -q "written by a run of 2 processes, this one has 1" <<<"$err"' "2 -> 1: the note: $err"
same_figures "$T/r21" "$T/one" train_loss test_loss
"$NABLA" train "${L[@]}" --epochs 2 --stop-after 1 --threads 1 --quiet --out "$T/r12" || bad "1 process, --stop-after 1"
err=$(mpi2 train --resume "$T/r12/checkpoint.safetensors" --data-dir "$D" 2>&1 >/dev/null) ||
  bad "a 1-process checkpoint resumed on 2 processes: $err"
check 'grep -q "written by a run of 1 process, this one has 2" <<<"$err"' "1 -> 2: the note: $err"
same_figures "$T/r12" "$T/one" train_loss test_loss

# ---- the sequence models -------------------------------------------------------------------------
CL=(--model charlm --data moby-dick --data-dir "$F/moby-small" --batch 8 --epochs 1 --limit-train 6000 --seed 0 --quiet)
"$NABLA" train "${CL[@]}" --threads 1 --out "$T/lm1" || bad "charlm on one process"
mpi2 train "${CL[@]}" --out "$T/lm2" || bad "charlm on 2 processes"
same_figures "$T/lm2" "$T/lm1" train_loss train_bpc test_loss test_bpc test_accuracy
LI=(--model langid --data langid --data-dir "$F/langid-small" --epochs 1 --limit-train 600 --limit-test 200 --seed 0 --quiet)
"$NABLA" train "${LI[@]}" --threads 1 --out "$T/li1" || bad "langid on one process"
mpi2 train "${LI[@]}" --out "$T/li2" || bad "langid on 2 processes"
same_figures "$T/li2" "$T/li1" train_loss train_accuracy test_loss test_accuracy
# the tagger: the entity report (and its unseen table) counts both processes' test sentences
NE=(--model ner --data sotu --data-dir "$F/sotu-small" --epochs 1 --limit-train 96 --seed 0 --quiet)
"$NABLA" train "${NE[@]}" --threads 1 --out "$T/ne1" || bad "ner on one process"
mpi2 train "${NE[@]}" --out "$T/ne2" || bad "ner on 2 processes"
# (its dropout draws from each process's own stream, so the figures differ from one process's;
# the gold supports of both tables and the token count do not depend on the predictions)
sup() { awk '/micro avg/ {print $NF}' "$1/report.txt" | tr '\n' ' '; grep -o "of [0-9]* tokens" "$1/report.txt"; }
check '[ "$(grep -c "micro avg" "$T/ne2/report.txt")" = 2 ] && [ "$(sup "$T/ne2")" = "$(sup "$T/ne1")" ]' \
  "ner on 2 processes: the entity report counts every test sentence: $(sup "$T/ne2") vs $(sup "$T/ne1")"

# ---- the generative models ---------------------------------------------------------------------------
G=(--data mnist --data-dir "$D" --seed 0 --epochs 1 --limit-test 64)
out=$(mpi2 train --model gan "${G[@]}" --limit-train 320 --out "$T/gan" 2>&1) || bad "gan on 2 processes: $out"
check '[ -s "$T/gan/samples-epoch001.png" ] && grep -q "\"d_loss\"" "$T/gan/metrics.jsonl"' "gan: samples and d_loss"
check 'grep -q "all-reduce of 1[0-9][0-9][0-9] KB per step" <<<"$out"' "gan: both models' gradients: $(grep distributed <<<"$out")"
out=$(mpi2 train --model dcgan "${G[@]}" --limit-train 130 --quiet --out "$T/dcgan" 2>&1) || bad "dcgan on 2 processes: $out"
check '[ -s "$T/dcgan/model.safetensors" ] && ! grep -q "weights differ" <<<"$out"' "dcgan on 2 processes: $out"
mpi2 train --model vae "${G[@]}" --limit-train 256 --quiet --out "$T/vae" || bad "vae on 2 processes"
check '[ -s "$T/vae/lattice.png" ]' "vae on 2 processes: no lattice.png"

# ---- failures end the job -----------------------------------------------------------------------------
mpmd() { # mpmd ARGS_RANK0 -- ARGS_RANK1: one process each, with their own arguments
  local a=() b=()
  while [ "$1" != -- ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  MPI_TIMEOUT=120 mpi_launch -np 1 "$NABLA" "${a[@]}" : -np 1 "$NABLA" "${b[@]}"
}
out=$(mpmd train "${L[@]}" --epochs 1 --quiet --out "$T/f1" -- train "${L[@]}" --data-dir /nonexistent --epochs 1 --quiet \
  --out "$T/f1" 2>&1); rc=$?
check '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "nabla (process 1 of 2): --data-dir /nonexistent" <<<"$out"' \
  "a process without its data: rc $rc: $out"
out=$(mpmd train "${L[@]}" --epochs 1 --quiet --out "$T/f2" -- train "${L[@]}" --batch 32 --epochs 1 --quiet \
  --out "$T/f2" 2>&1); rc=$?
check '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "the run (its flags, its data or a resumed checkpoint) differs between the processes" <<<"$out"' \
  "processes given other flags: rc $rc: $out"
check '[ ! -e "$T/f2/checkpoint.safetensors" ]' "a refused run wrote a checkpoint"

# SIGTERM to rank 1 in the middle of a run: both stop after the same step, rank 0 says how to resume
mpi_run 2 "$NABLA" train --model lenet5 --data mnist --data-dir "$D" --seed 0 --epochs 50 --out "$T/sig" \
  >"$T/sig.out" 2>"$T/sig.err" &
job=$!
for _ in $(seq 300); do [ -s "$T/sig/metrics.jsonl" ] && break; sleep 0.1; done
killed=
for p in $(pgrep -f -- "--out $T/sig\$"); do
  r=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
  if [ "$r" = 1 ]; then kill -TERM "$p" && killed=$p; fi
done
wait $job; rc=$?
check '[ -n "$killed" ] && [ $rc -eq 143 ]' "SIGTERM to rank 1 (pid ${killed:-none}): mpirun's status $rc, expected 143"
# (an epoch of this slice is short: the signal may land between two epochs, "after epoch N")
check 'grep -Eq "^nabla: interrupted \(SIGTERM\) (during|after) epoch [0-9]*; the checkpoint of epoch [0-9]* is .*resume with" "$T/sig.err"' \
  "rank 0's message: $(cat "$T/sig.err")"
check '[ "$(grep -c "nabla: interrupted" "$T/sig.err")" -eq 1 ]' "one message for both processes: $(cat "$T/sig.err")"
done_epochs=$(wc -l <"$T/sig/metrics.jsonl")
mpi2 train --resume "$T/sig/checkpoint.safetensors" --data-dir "$D" --epochs $((done_epochs + 1)) --quiet >/dev/null 2>&1 ||
  bad "the interrupted run does not resume"
check '[ "$(wc -l <"$T/sig/metrics.jsonl")" -eq $((done_epochs + 1)) ]' "the resumed run should log epoch $((done_epochs + 1))"

out=$(mpi2 eval --checkpoint "$T/two/model.safetensors" --data-dir "$D" 2>&1); rc=$?
check '[ $rc -ne 0 ] && grep -q "eval runs in one process, not 2: start it without mpirun" <<<"$out"' "eval on 2 processes: $out"

echo "test_cli_dist: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
