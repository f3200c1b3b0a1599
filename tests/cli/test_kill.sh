#!/usr/bin/env bash
# Kills, interruptions and full disks during nabla train, on the committed MNIST slice:
# - SIGKILL at many moments of a run (timed, and while a temporary file of a save is there):
#   the checkpoint left behind loads, the next start removes the dead process's temporary
#   files, and --resume (or a new run where no epoch was saved) completes the run bit-identically
#   to an uninterrupted one;
# - a run killed during its final writes (simulated: model missing or older, a half-written
#   temporary file of a dead pid): --resume writes the final outputs instead of refusing;
# - a new run refuses an --out holding another run's files; --overwrite replaces them;
# - SIGINT / SIGTERM: exit 130 / 143 after the current step, a message naming the checkpoint,
#   which loads and resumes to the uninterrupted result;
# - pictures that cannot be written are a warning;
# - as root where mount works: a small tmpfs refused up front for lack of space, a full disk
#   while writing the checkpoint and metrics.jsonl (the real error, the old checkpoint intact).
# usage: test_kill.sh path/to/nabla   (run from tests/)
set -uo pipefail
NABLA=$1
DATA=fixtures/mnist-small
T=$(mktemp -d /tmp/nabla_kill_XXXXXX)
M=$T/disk
trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
RUN=(--model lenet5 --data mnist --data-dir "$DATA" --threads 2 --seed 3 --batch 20 --limit-train 300
     --limit-test 100 --epochs 3 --quiet)
RESUME=(--data-dir "$DATA" --threads 2 --quiet)
tmps() { compgen -G "$1/*.tmp.*"; } # the temporary files in folder $1 (status 1: none)
# A pid that is surely not running: a finished child's.
dead_pid() { sh -c 'exit 0' & local p=$!; wait $p; echo $p; }

"$NABLA" train "${RUN[@]}" --out "$T/ref" || bad "reference run"
REF=$T/ref

# Whether folder $1 holds the uninterrupted run's results and no temporary file.
same_as_ref() {
  local d=$1 why=$2
  check 'cmp -s "$REF/model.safetensors" "$d/model.safetensors"' "$why: model differs from the uninterrupted run's"
  check 'cmp -s "$REF/checkpoint.safetensors" "$d/checkpoint.safetensors"' "$why: checkpoint differs"
  check 'cmp -s "$REF/report.txt" "$d/report.txt"' "$why: report differs"
  check '[ -s "$d/curves.png" ] && [ -s "$d/predictions.png" ] && [ "$(wc -l < "$d/metrics.jsonl")" -eq 3 ]' \
    "$why: pictures or 3 epochs of metrics missing: $(ls "$d")"
  check '! tmps "$d" >/dev/null' "$why: temporary files left: $(tmps "$d")"
}

# Finishes the run in $1 after a kill: --resume from its checkpoint, or a new run when none
# was saved (with --overwrite where the folder keeps an epoch's log).
finish_run() {
  local d=$1 why=$2 out
  if [ -e "$d/checkpoint.safetensors" ]; then
    "$NABLA" eval --checkpoint "$d/checkpoint.safetensors" --data-dir "$DATA" >/dev/null ||
      bad "$why: the checkpoint left by the kill does not load"
    out=$("$NABLA" train --resume "$d/checkpoint.safetensors" "${RESUME[@]}" 2>&1)
    if [ $? -ne 0 ]; then
      # only a run killed after every output was written has nothing left to do
      if grep -q "already trained 3 epochs" <<<"$out" && [ -e "$d/model.safetensors" ]; then
        "$NABLA" train --resume "$d/checkpoint.safetensors" "${RESUME[@]}" 2>/dev/null # cleans the temp files
      else
        bad "$why: resume: $out"
      fi
    fi
  else
    out=$("$NABLA" train "${RUN[@]}" --out "$d" 2>&1)
    if [ $? -ne 0 ]; then
      if grep -q "holds another run's files" <<<"$out"; then
        "$NABLA" train "${RUN[@]}" --overwrite --out "$d" || bad "$why: new run with --overwrite"
      else
        bad "$why: new run: $out"
      fi
    fi
  fi
  same_as_ref "$d" "$why"
}

# SIGKILL at timed moments, and at the n-th time a temporary file is seen (a save in progress).
kills=0 in_write=0
kill_at() { # kill_at DIR (sleep SECONDS | tmp N)
  local d=$1 how=$2 arg=$3 p seen=0 was=0
  "$NABLA" train "${RUN[@]}" --out "$d" 2>/dev/null & p=$!
  if [ "$how" = sleep ]; then
    sleep "$arg"
  else
    while kill -0 $p 2>/dev/null; do
      if tmps "$d" >/dev/null; then
        [ $was -eq 0 ] && seen=$((seen + 1))
        was=1
        [ $seen -ge "$arg" ] && break
      else
        was=0
      fi
    done
  fi
  kill -KILL $p 2>/dev/null && kills=$((kills + 1))
  wait $p 2>/dev/null
  if tmps "$d" >/dev/null; then in_write=$((in_write + 1)); fi
  # the next start removes the dead process's temporary files
  finish_run "$d" "SIGKILL ($how $arg)"
}
for s in 0.3 0.6 0.9 1.2; do kill_at "$T/k$s" sleep $s; done
for n in 2 3 5 8; do kill_at "$T/t$n" tmp $n; done
echo "test_kill: $kills kills landed, $in_write of them left a temporary file"

# A kill during the final writes: no model (a half-written temporary file of a dead process
# instead), or one older than the checkpoint. --resume writes them; a finished run refuses.
cp -r "$REF" "$T/fin"
head -c 1000 "$REF/model.safetensors" > "$T/fin/model.safetensors.tmp.$(dead_pid)"
rm "$T/fin/model.safetensors" "$T/fin/report.txt"
out=$("$NABLA" train --resume "$T/fin/checkpoint.safetensors" "${RESUME[@]}" 2>&1) || bad "resume of a run killed in its final writes: $out"
same_as_ref "$T/fin" "resume after a kill in the final writes"
touch -d '-1 hour' "$T/fin/predictions.png"
"$NABLA" train --resume "$T/fin/checkpoint.safetensors" "${RESUME[@]}" || bad "resume with an older picture"
check '[ ! "$T/fin/predictions.png" -ot "$T/fin/checkpoint.safetensors" ]' "resume did not rewrite the older picture"
out=$("$NABLA" train --resume "$T/fin/checkpoint.safetensors" "${RESUME[@]}" 2>&1)
check '[ $? -eq 1 ] && grep -q "already trained 3 epochs" <<<"$out"' "resume of a finished run: $out"

# A new run in another run's folder is refused; --overwrite replaces every file of the old one.
out=$("$NABLA" train "${RUN[@]}" --seed 9 --out "$T/fin" 2>&1)
check '[ $? -eq 1 ] && grep -qF "$T/fin holds another run" <<<"$out" && grep -q -- "--resume" <<<"$out" && grep -q -- "--overwrite" <<<"$out"' \
  "new run in a used --out: $out"
check 'cmp -s "$REF/model.safetensors" "$T/fin/model.safetensors"' "a refused run changed the folder"
"$NABLA" train "${RUN[@]}" --seed 9 --epochs 1 --overwrite --out "$T/fin" || bad "--overwrite"
check 'head -c 400 "$T/fin/checkpoint.safetensors" | grep -q "\"seed\":\"9\"" && [ "$(wc -l < "$T/fin/metrics.jsonl")" -eq 1 ]' \
  "--overwrite left the old run's checkpoint or log"
check 'head -c 400 "$T/fin/model.safetensors" | grep -q "\"seed\":\"9\""' "--overwrite left the old run's model"
out=$("$NABLA" train --resume "$T/fin/checkpoint.safetensors" --epochs 2 --overwrite "${RESUME[@]}" 2>&1)
check '[ $? -eq 1 ] && grep -q "give one of them" <<<"$out"' "--resume with --overwrite: $out"

# SIGINT once the first checkpoint is there, SIGTERM a moment later: the step in progress
# ends, the command exits 128 + the signal naming the checkpoint, which resumes to the end.
interrupt() { # interrupt SIGNAL STATUS DELAY
  local sig=$1 want=$2 d=$T/int$1 p rc
  "$NABLA" train "${RUN[@]}" --out "$d" 2>"$T/err$1" & p=$!
  while [ ! -e "$d/checkpoint.safetensors" ] && kill -0 $p 2>/dev/null; do sleep 0.01; done
  sleep "$3"
  kill -"$1" $p
  wait $p; rc=$?
  check '[ $rc -eq $want ]' "$1: exit status $rc, wanted $2: $(cat "$T/err$1")"
  check 'grep -q "interrupted (SIG$sig) .* epoch [12]; the checkpoint of epoch [12] is $d/checkpoint.safetensors: resume with nabla train --resume $d/checkpoint.safetensors" "$T/err$sig"' \
    "$1: message: $(cat "$T/err$1")"
  "$NABLA" eval --checkpoint "$d/checkpoint.safetensors" --data-dir "$DATA" >/dev/null || bad "$1: checkpoint does not load"
  "$NABLA" train --resume "$d/checkpoint.safetensors" "${RESUME[@]}" || bad "$1: resume"
  same_as_ref "$d" "resume after $1"
}
interrupt INT 130 0
# 5 ms later: an epoch of this run now takes 20-25 ms on the 2-core machine (2026-12-02), and a
# TERM 0.1 s after the first checkpoint could land after the last epoch.
interrupt TERM 143 0.005

# A picture that cannot be written (here a folder in its place) is a warning, not a lost run.
mkdir -p "$T/pic/curves.png" "$T/pic/predictions.png"
"$NABLA" train "${RUN[@]}" --epochs 1 --out "$T/pic" 2>"$T/errpic"
check '[ $? -eq 0 ] && [ "$(grep -c "nabla: warning: .*curves.png" "$T/errpic")" -eq 1 ] && grep -q "nabla: warning: .*predictions.png" "$T/errpic"' \
  "pictures that cannot be written: $(cat "$T/errpic")"
check '[ -s "$T/pic/model.safetensors" ] && [ -s "$T/pic/report.txt" ]' "a failed picture lost the model or report"

# Full disks, on a small tmpfs (needs root and a mount that works, as in CI).
mkdir -p "$M"
if ! mount -t tmpfs -o size=1m tmpfs "$M" 2>/dev/null; then
  echo "test_kill: skipping the full-disk tests: cannot mount a tmpfs here (needs root)"
else
  out=$("$NABLA" train "${RUN[@]}" --out "$M/run" 2>&1)
  check '[ $? -eq 1 ] && grep -q "MB free; this run needs about" <<<"$out" && [ ! -e "$M/run/checkpoint.safetensors" ]' \
    "too little space is found before training: $out"
  umount "$M"
  mount -t tmpfs -o size=4m tmpfs "$M"
  d=$M/run
  "$NABLA" train "${RUN[@]}" --out "$d" 2>"$T/errdisk" & p=$!
  # once epoch 1 is saved (checkpoint and curves there, no write in progress): leave 64 KB,
  # room for metrics.jsonl but not for the next checkpoint
  # (the run is stopped while the disk is filled: a write of it between the fill and the
  # truncate would meet a disk with no room at all, whatever file it was writing)
  while ! { [ -e "$d/curves.png" ] && ! tmps "$d" >/dev/null; } && kill -0 $p 2>/dev/null; do sleep 0.005; done
  kill -STOP $p 2>/dev/null
  dd if=/dev/zero of="$M/fill" bs=64k 2>/dev/null
  truncate -s -64k "$M/fill"
  kill -CONT $p 2>/dev/null
  wait $p; rc=$?
  check '[ $rc -eq 1 ] && grep -q "checkpoint.safetensors: .*No space left on device" "$T/errdisk"' \
    "full disk while writing the checkpoint: rc $rc, $(cat "$T/errdisk")"
  check '! grep -q "Inappropriate ioctl" "$T/errdisk" && ! tmps "$d" >/dev/null' "full disk: wrong error or temp files left"
  "$NABLA" eval --checkpoint "$d/checkpoint.safetensors" --data-dir "$DATA" >/dev/null ||
    bad "the checkpoint before the full disk does not load"
  # a full disk for metrics.jsonl: the real error, before any training
  dd if=/dev/zero of="$M/fill2" bs=4k 2>/dev/null
  out=$("$NABLA" train --resume "$d/checkpoint.safetensors" "${RESUME[@]}" 2>&1)
  check '[ $? -eq 1 ] && grep -q "metrics.jsonl: .*No space left on device" <<<"$out" && ! grep -q "Inappropriate ioctl" <<<"$out"' \
    "full disk while writing metrics.jsonl: $out"
  rm -f "$M/fill" "$M/fill2"
  "$NABLA" train --resume "$d/checkpoint.safetensors" "${RESUME[@]}" || bad "resume once there is room again"
  same_as_ref "$d" "resume after a full disk"
fi

echo "test_kill: $pass passed, $fail failed"
[ $fail -eq 0 ]
