#!/usr/bin/env bash
# Divergence at the command line, on the committed MNIST slice: a run that diverges exits 1
# naming the epoch (and the batch when it is seen in training), the last good checkpoint stays
# byte for byte, no checkpoint is ever written from non-finite weights, and eval / predict refuse
# a checkpoint whose weights hold a NaN, naming the file and the tensor.
# usage: test_nan.sh path/to/nabla   (run from tests/)
set -uo pipefail
NABLA=$1
DATA=fixtures/mnist-small
T=$(mktemp -d /tmp/nabla_nan_XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
# Runs nabla expecting exit 1 with a message matching the extended regex $1.
expect_error() {
  local want=$1; shift
  local out
  out=$("$NABLA" "$@" 2>&1 >/dev/null); local rc=$?
  if [ $rc -eq 1 ] && grep -qE -- "$want" <<<"$out"; then ok; else bad "nabla $* -> rc $rc, '$out' (wanted '$want')"; fi
}
# Byte offset in file $1 of tensor $2's data: 8 + the header's length + its data_offsets start.
st_offset() {
  local n s
  n=$(st_header_len "$1")
  s=$(head -c "$((8 + n))" "$1" | tail -c "$n" | grep -ao "\"$2\":{[^}]*}" | sed -n 's/.*"data_offsets":\[\([0-9]*\),.*/\1/p')
  [ -n "$s" ] && echo $((8 + n + s))
}
# Writes a float NaN (0x7fc00000, little-endian) over element $3 of tensor $2 of file $1.
poke_nan() {
  local off
  off=$(st_offset "$1" "$2") || return 1
  printf '\x00\x00\xc0\x7f' | dd of="$1" bs=1 seek=$((off + 4 * $3)) conv=notrunc status=none
}

C=(--data mnist --data-dir "$DATA" --threads 1 --quiet --limit-test 100)
A=$T/a/checkpoint.safetensors
# A good first epoch (2 batches of 64), kept as the reference.
"$NABLA" train --model mlp "${C[@]}" --optimizer sgd --lr 0.01 --epochs 3 --stop-after 1 --limit-train 128 \
  --out "$T/a" >/dev/null 2>&1
check "[ -s '$A' ]" "the first epoch writes $A"
cp "$A" "$T/ref"

# lr 1e6 for the second epoch: its two steps leave the weights finite but so large that the test
# loss is NaN; the run stops before that epoch's checkpoint replaces the good one.
expect_error "training diverged: the test loss is -?nan after epoch 2" train --resume "$A" --lr 1e6 "${C[@]}"
check "cmp -s '$T/ref' '$A'" "the diverged epoch left $A byte-identical"
# --max-loss stops at the step whose loss passes it.
expect_error "loss exploded to .* \(above max_loss 10\) at epoch 2, batch 2" train --resume "$A" --lr 1e6 --max-loss 10 \
  "${C[@]}"
check "cmp -s '$T/ref' '$A'" "--max-loss left $A byte-identical"
expect_error "--max-loss: '0' is not a number > 0" train --resume "$A" --max-loss 0 "${C[@]}"
# Four steps at lr 1e6 from scratch: the NaN is seen in training (batch 3), nothing is written.
expect_error "loss is -?nan at epoch 1, batch 3" train --model mlp "${C[@]}" --optimizer sgd --lr 1e6 --epochs 2 \
  --limit-train 256 --out "$T/b"
check "[ ! -e '$T/b/checkpoint.safetensors' ] && [ ! -e '$T/b/model.safetensors' ]" "a diverged first epoch writes no checkpoint"
# Whatever was written holds finite weights: eval (which refuses non-finite ones) accepts it.
"$NABLA" eval --checkpoint "$A" --data-dir "$DATA" --limit-test 100 --threads 1 >/dev/null 2>&1
check "[ $? -eq 0 ]" "eval of the kept checkpoint"

# A NaN in fc2.bias feeds a ReLU (which used to turn it into 0 and evaluate fine): eval and
# predict refuse the file, naming it and the tensor.
cp "$T/ref" "$T/nan.safetensors"
check "poke_nan '$T/nan.safetensors' fc2.bias 3" "writing a NaN into fc2.bias"
expect_error "$T/nan.safetensors: tensor 'fc2.bias' is not finite \(-?nan at element 3\)" eval --checkpoint \
  "$T/nan.safetensors" --data-dir "$DATA" --limit-test 100 --threads 1
expect_error "$T/nan.safetensors: tensor 'fc2.bias' is not finite" predict --checkpoint "$T/nan.safetensors" \
  fixtures/digit7.png
# A checkpoint with a NaN weight cannot be resumed into a new checkpoint either.
expect_error "training diverged" train --resume "$T/nan.safetensors" --out "$T/c" "${C[@]}"
check "[ ! -e '$T/c/checkpoint.safetensors' ]" "no checkpoint from a NaN-weight resume"

echo "test_nan.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
