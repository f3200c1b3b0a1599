#!/usr/bin/env bash
# End-to-end tests of the nabla command line on the committed MNIST slice (2000 train / 500
# test images): training writes every output, --resume is bit-identical to an uninterrupted
# run, eval and predict agree with training, and bad input gives a clear error and exit 1.
# usage: test_cli.sh path/to/nabla   (run from tests/)
set -uo pipefail
NABLA=$1
DATA=fixtures/mnist-small
T=$(mktemp -d /tmp/nabla_cli_XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
# Runs nabla expecting failure with a message containing $1.
expect_error() {
  local want=$1; shift
  local out
  out=$("$NABLA" "$@" 2>&1 >/dev/null); local rc=$?
  if [ $rc -ne 0 ] && grep -qF -- "$want" <<<"$out"; then ok; else bad "nabla $* -> rc $rc, '$out' (wanted '$want')"; fi
}
# The dtype and shape (one line), then the bytes, of tensor $2 of safetensors file $1: the
# file starts with the header's length (8 bytes, little-endian), then the JSON header, whose
# data_offsets count from its end. Fails if the file has no such tensor.
st_tensor() {
  local f=$1 name=$2 n loc
  n=$(st_header_len "$f")
  [ "${n:-0}" -gt 1 ] || return 1
  loc=$(head -c "$((8 + n))" "$f" | tail -c "$n" | awk -v k="\"$name\":{" -v base=$((8 + n)) '
    { i = index($0, k); if (!i) exit 1
      s = substr($0, i + length(k)); s = substr(s, 1, index(s, "}"))
      if (!match(s, /"data_offsets":\[[0-9]+,[0-9]+\]/)) exit 1
      split(substr(s, RSTART + 16, RLENGTH - 17), o, ",")
      if (!match(s, /"dtype":"[A-Z0-9]+"/)) exit 1
      dt = substr(s, RSTART + 9, RLENGTH - 10)
      if (!match(s, /"shape":\[[0-9,]*\]/)) exit 1
      print dt, substr(s, RSTART + 8, RLENGTH - 8), base + o[1], o[2] - o[1]; found = 1 }
    END { exit !found }') || return 1
  set -- $loc
  printf '%s %s\n' "$1" "$2"
  head -c "$(($3 + $4))" "$f" | tail -c "$4" # (tail reads all: no SIGPIPE under pipefail)
}
# Whether tensor $3 is the same (dtype, shape, bytes) in files $1 and $2: prints "same" or
# "differs", or "missing" when either file lacks it.
tensor_cmp() {
  st_tensor "$1" "$3" > "$T/t1" && st_tensor "$2" "$3" > "$T/t2" || { echo missing; return; }
  if cmp -s "$T/t1" "$T/t2"; then echo same; else echo differs; fi
}
# Checks that each tensor named after $3 is $3 ("same" or "differs") between files $1 and $2.
tensors_are() {
  local a=$1 b=$2 want=$3 name got; shift 3
  for name in "$@"; do
    got=$(tensor_cmp "$a" "$b" "$name")
    if [ "$got" = "$want" ]; then ok; else bad "$name: $got in $a and $b (wanted $want)"; fi
  done
}
# OpenMP threads that wait passively: spinning ones make a 2-thread run many times slower on a
# loaded 2-core machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
COMMON=(--model lenet5 --data mnist --data-dir "$DATA" --threads 2 --seed 3 --batch 20 --quiet)

# An uninterrupted run of 3 epochs (cosine learning rate), and one stopped after epoch 2 then
# resumed: the resumed run takes its plan (optimizer, lr, schedule, epochs) from the checkpoint.
"$NABLA" train "${COMMON[@]}" --epochs 3 --schedule cosine --out "$T/a" || bad "train a"
"$NABLA" train "${COMMON[@]}" --epochs 3 --schedule cosine --stop-after 2 --out "$T/b" || bad "train b"
check '[ "$(wc -l < "$T/b/metrics.jsonl")" -eq 2 ]' "--stop-after 2 trains 2 epochs"
cp "$T/b/checkpoint.safetensors" "$T/epoch1.safetensors"
"$NABLA" train --resume "$T/b/checkpoint.safetensors" --out "$T/b" --data-dir "$DATA" --threads 2 --quiet || bad "resume"
check 'cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors"' "resumed weights differ from the uninterrupted run"
check 'cmp -s "$T/a/checkpoint.safetensors" "$T/b/checkpoint.safetensors"' "resumed optimizer state differs"
check '! cmp -s "$T/epoch1.safetensors" "$T/b/checkpoint.safetensors"' "checkpoint not updated"
for f in model.safetensors checkpoint.safetensors metrics.jsonl curves.png predictions.png report.txt; do
  check '[ -s "$T/a/$f" ]' "missing output $f"
done
check '[ "$(wc -l < "$T/a/metrics.jsonl")" -eq 3 ]' "metrics.jsonl should have 3 lines"
check '[ "$(wc -l < "$T/b/metrics.jsonl")" -eq 3 ]' "resumed metrics.jsonl should have 3 lines"
for k in epoch train_loss test_loss test_accuracy seconds samples_per_s; do
  check 'grep -q "\"$k\": " "$T/a/metrics.jsonl"' "metrics.jsonl lacks $k"
done
check 'grep -q "weighted avg" "$T/a/report.txt" && grep -q "confusion matrix" "$T/a/report.txt"' "report.txt"
check '! ls "$T"/a/*.tmp.* >/dev/null 2>&1' "temporary files left behind"

# The slice must be learned: test accuracy after 2 epochs.
acc=$(tail -1 "$T/a/metrics.jsonl" | sed 's/.*"test_accuracy": \([0-9.]*\).*/\1/')
check 'awk -v a="$acc" "BEGIN{exit !(a >= 0.90)}"' "lenet5 on 2000 images, 3 epochs: test accuracy $acc < 0.90"

# eval reproduces the last epoch's test accuracy; predict classifies.
out=$("$NABLA" eval --checkpoint "$T/a/model.safetensors" --data-dir "$DATA") || bad "eval"
check 'grep -q "accuracy $(printf %.4f "$acc")" <<<"$out"' "eval accuracy differs from training's $acc: $out"
check 'grep -q "macro avg" <<<"$out"' "eval prints the report"
out=$("$NABLA" predict --checkpoint "$T/a/model.safetensors" fixtures/digit7.png) || bad "predict png"
check 'grep -q "digit7.png: 7 (p=" <<<"$out"' "predict png: $out"
out=$("$NABLA" predict --checkpoint "$T/a/model.safetensors" "$DATA/t10k-images-idx3-ubyte.gz") || bad "predict idx"
check '[ "$(grep -c "p=" <<<"$out")" -eq 500 ]' "predict idx gives 500 lines"
check 'grep -q "\[0\]: 7 (p=" <<<"$out"' "predict idx first image is a 7: $(head -1 <<<"$out")"

# Bad input: a message naming the problem, exit status 1.
expect_error "unknown value 'vgg'" train --model vgg --data mnist
expect_error "--model is required" train --data mnist --data-dir "$DATA"
expect_error "not all there" train --model mlp --data mnist --data-dir "$T/nothing" --out "$T/c"
expect_error "--epochs: 'x'" train --model mlp --data mnist --epochs x
expect_error "unknown option --epoch" train --model mlp --epoch 3
expect_error "$T/none.safetensors" eval --checkpoint "$T/none.safetensors" --data-dir "$DATA"
head -c 100 "$T/a/model.safetensors" > "$T/trunc.safetensors"
expect_error "$T/trunc.safetensors" predict --checkpoint "$T/trunc.safetensors" fixtures/digit7.png
expect_error "already trained 3 epochs" train --resume "$T/a/checkpoint.safetensors" --epochs 3 --out "$T/a"
expect_error "holds a lenet5 model, not --model mlp" train --resume "$T/a/checkpoint.safetensors" --model mlp --epochs 4
expect_error "already trained 2 epochs" train --resume "$T/epoch1.safetensors" --stop-after 2 --out "$T/d" --data-dir "$DATA"
expect_error "--optimizer sgd cannot continue it" train --resume "$T/epoch1.safetensors" --optimizer sgd --out "$T/d" --data-dir "$DATA"
expect_error "unexpected argument 'extra'" train --model mlp --data mnist extra
NABLA_DATA=$DATA expect_error "hold mnist, not fashion-mnist" train --model mlp --data fashion-mnist --out "$T/d"
# Without --out, a resumed run continues in the checkpoint's folder.
mkdir -p "$T/e" && cp "$T/epoch1.safetensors" "$T/e/checkpoint.safetensors"
head -2 "$T/b/metrics.jsonl" > "$T/e/metrics.jsonl"
"$NABLA" train --resume "$T/e/checkpoint.safetensors" --data-dir "$DATA" --threads 2 --quiet || bad "resume in place"
check 'cmp -s "$T/a/model.safetensors" "$T/e/model.safetensors"' "resume without --out writes next to the checkpoint"
check '[ "$(wc -l < "$T/e/metrics.jsonl")" -eq 3 ]' "resumed log continues the checkpoint's"
expect_error "nope.png" predict --checkpoint "$T/a/model.safetensors" "$T/nope.png"
expect_error "is required" predict fixtures/digit7.png

# PyTorch weights (a state_dict saved with safetensors in float32, float16 and bfloat16):
# eval gives PyTorch's own loss and accuracy on the slice's 500 test images.
PT=fixtures/pt/lenet5-f32.safetensors
for f in f32 f16 bf16; do
  want=$(awk -v f=$f '$1 == f && $2 == "slice-test" {printf "500 images, loss %.4f, accuracy %s", $6, $5}' \
    fixtures/pt/lenet5-expected.txt)
  check '[ -n "$want" ]' "no slice-test line for $f in lenet5-expected.txt"
  out=$("$NABLA" eval --checkpoint fixtures/pt/lenet5-$f.safetensors --model lenet5 --data mnist --data-dir "$DATA") ||
    bad "eval PyTorch $f"
  check 'grep -qxF "fixtures/pt/lenet5-$f.safetensors (lenet5, PyTorch weights) on mnist test: $want" <<<"$out"' \
    "eval PyTorch $f: '$(head -1 <<<"$out")', PyTorch: '$want'"
  out=$("$NABLA" predict --checkpoint fixtures/pt/lenet5-$f.safetensors --model lenet5 --data mnist fixtures/digit7.png) ||
    bad "predict PyTorch $f"
  check 'grep -q "^fixtures/digit7.png: 7 (p=" <<<"$out"' "predict PyTorch $f: $out"
done
expect_error "$PT is not a nabla checkpoint (format 'pt'): give --model NAME and --data NAME" eval --checkpoint "$PT" --data-dir "$DATA"
expect_error "$PT is not a nabla checkpoint (format 'pt'): give --model NAME and --data NAME" eval --checkpoint "$PT" --model lenet5 --data-dir "$DATA"
expect_error "$PT is not a nabla checkpoint (format 'pt'): give --model NAME and --data NAME" predict --checkpoint "$PT" --data mnist fixtures/digit7.png
expect_error "$PT: tensor 'fc1.weight' has shape (120,400) in the file" eval --checkpoint "$PT" --model mlp --data mnist --data-dir "$DATA"
expect_error "$PT: tensor 'fc1.weight'" predict --checkpoint "$PT" --model mlp --data mnist fixtures/digit7.png

# Fine-tuning from the run's own model and from the PyTorch weights: the parameters under
# --freeze come out bit-identical, the others are trained; the plan keeps --freeze, so a
# resumed run keeps them frozen.
FT=(--model lenet5 --data mnist --data-dir "$DATA" --threads 1 --seed 5 --batch 20 --limit-train 200 --limit-test 100 --quiet)
FROZEN=(conv1.weight conv1.bias conv2.weight conv2.bias)
TRAINED=(fc1.weight fc1.bias fc2.weight fc3.weight fc3.bias)
"$NABLA" train "${FT[@]}" --epochs 2 --stop-after 1 --init "$T/a/model.safetensors" --freeze conv1,conv2 --out "$T/f1" ||
  bad "train --init model.safetensors --freeze"
tensors_are "$T/a/model.safetensors" "$T/f1/checkpoint.safetensors" same "${FROZEN[@]}"
tensors_are "$T/a/model.safetensors" "$T/f1/checkpoint.safetensors" differs "${TRAINED[@]}"
"$NABLA" train --resume "$T/f1/checkpoint.safetensors" --data-dir "$DATA" --threads 1 --quiet || bad "resume a frozen run"
tensors_are "$T/a/model.safetensors" "$T/f1/model.safetensors" same "${FROZEN[@]}"
tensors_are "$T/f1/checkpoint.safetensors" "$T/f1/model.safetensors" same "${FROZEN[@]}"
tensors_are "$T/a/model.safetensors" "$T/f1/model.safetensors" differs "${TRAINED[@]}"
check '[ "$(wc -l < "$T/f1/metrics.jsonl")" -eq 2 ]' "the resumed fine-tuning run logs 2 epochs"
"$NABLA" train "${FT[@]}" --epochs 1 --init "$PT" --freeze conv1,conv2 --head-lr 0.01 --out "$T/f2" ||
  bad "train --init PyTorch --freeze --head-lr"
tensors_are "$PT" "$T/f2/model.safetensors" same "${FROZEN[@]}"
tensors_are "$PT" "$T/f2/model.safetensors" differs "${TRAINED[@]}"
out=$("$NABLA" eval --checkpoint "$T/f2/model.safetensors" --data-dir "$DATA") || bad "eval of a fine-tuned model"
acc=$(sed -n '1s/.*accuracy \([0-9.]*\)$/\1/p' <<<"$out")
check 'awk -v a="$acc" "BEGIN{exit !(a >= 0.95)}"' "fine-tuned PyTorch LeNet-5: accuracy '$acc' < 0.95"
# --reset: fc3 starts from a fresh initialization (frozen here, so it stays that one), the
# other layers from the file.
"$NABLA" train "${FT[@]}" --epochs 1 --init "$PT" --reset fc3 --freeze conv1,conv2,fc3 --out "$T/f3" ||
  bad "train --init --reset"
tensors_are "$PT" "$T/f3/model.safetensors" same "${FROZEN[@]}"
tensors_are "$PT" "$T/f3/model.safetensors" differs fc3.weight fc3.bias fc1.weight
"$NABLA" train "${FT[@]}" --epochs 1 --init "$PT" --freeze conv1,conv2,fc3 --out "$T/f4" || bad "train --init, fc3 frozen"
tensors_are "$PT" "$T/f4/model.safetensors" same fc3.weight fc3.bias
check '[ "$(st_tensor "$T/f3/model.safetensors" fc3.weight | head -1)" = "F32 [10,84]" ]' "fc3.weight's dtype and shape"
# Fine-tuning errors.
"$NABLA" train --model mlp --data mnist --data-dir "$DATA" --threads 1 --epochs 1 --limit-train 20 --limit-test 20 \
  --quiet --out "$T/m" || bad "train mlp"
expect_error "--init $T/m/model.safetensors holds a mlp model, not --model lenet5" train "${FT[@]}" --init "$T/m/model.safetensors" --out "$T/x"
expect_error "--init $PT: shape fc1.weight: file (120,400), model (512,784)" train --model mlp --data mnist --data-dir "$DATA" --init "$PT" --out "$T/x"
expect_error "no parameter is named 'convX'" train "${FT[@]}" --init "$PT" --freeze conv1,convX --out "$T/x"
expect_error "no module named 'conv9'" train "${FT[@]}" --init "$PT" --reset conv9 --out "$T/x"
expect_error "--reset and --head-lr fine-tune the weights of --init FILE; give --init" train "${FT[@]}" --reset fc3 --out "$T/x"
expect_error "--reset and --head-lr fine-tune the weights of --init FILE; give --init" train "${FT[@]}" --head-lr 0.01 --out "$T/x"
expect_error "--resume continues a run; --init starts a new one" train --resume "$T/epoch1.safetensors" --init "$PT" --out "$T/x" --data-dir "$DATA"
expect_error "every parameter would be frozen" train "${FT[@]}" --init "$PT" --freeze conv1,conv2,fc1,fc2,fc3 --out "$T/x"
expect_error "--freeze: at most 255 characters" train "${FT[@]}" --init "$PT" --freeze "$(printf 'conv1,%.0s' {1..50})conv2" --out "$T/x"
expect_error "--lr: '1e-50'" train "${FT[@]}" --lr 1e-50 --out "$T/x"
check '[ ! -e "$T/x/checkpoint.safetensors" ]' "a refused run wrote a checkpoint"

# nabla bench: the per-layer table (every layer of lenet5) and the whole step's throughput, and
# its bad input (--repeat keeps it short).
out=$("$NABLA" bench --model lenet5 --batch 8 --threads 1 --repeat 3 2>&1); rc=$?
check '[ $rc -eq 0 ]' "bench --model lenet5 --batch 8 -> rc $rc: $out"
for layer in conv1 relu1 pool1 conv2 relu2 pool2 flatten fc1 relu3 fc2 relu4 fc3; do
  check 'grep -q "^$layer " <<<"$out"' "bench: no row for layer $layer in: $out"
done
check 'grep -qE "^throughput: [0-9]+ samples/s$" <<<"$out"' "bench: no samples/s line in: $out"
check 'grep -q "^whole step: forward" <<<"$out"' "bench: no whole-step line in: $out"
expect_error "--model: unknown value 'nope'" bench --model nope
expect_error "--batch: '0' is not an integer in 1..1048576" bench --model lenet5 --batch 0
expect_error "bench: --model NAME is required" bench
expect_error "bench: times the image classifiers (mlp, lenet5, seedcnn, lstm-rows); 'vae' is not one" bench --model vae
expect_error "'ner' is not one: time its training with \`nabla train --model ner" bench --model ner
expect_error "bench: --data is not an option of this command" bench --model mlp --data mnist

# Every value the command line accepts is one its checkpoints load back with: extreme
# values of the flags kept in the plan, then eval and --resume of the checkpoint.
EX=(--model lenet5 --data mnist --data-dir "$DATA" --threads 1 --limit-train 20 --limit-test 20 --quiet)
extreme() {
  local d=$1; shift
  if ! "$NABLA" train "${EX[@]}" "$@" --out "$d"; then bad "train $*"; return; fi
  "$NABLA" eval --checkpoint "$d/checkpoint.safetensors" --data-dir "$DATA" >/dev/null || bad "eval after train $*"
  "$NABLA" eval --checkpoint "$d/model.safetensors" --data-dir "$DATA" >/dev/null || bad "eval model after train $*"
  "$NABLA" train --resume "$d/checkpoint.safetensors" --epochs 1000 --stop-after 2 --data-dir "$DATA" --threads 1 \
    --quiet || bad "resume after train $*"
}
extreme "$T/x1" --epochs 2 --stop-after 1 --warmup 5
extreme "$T/x2" --epochs 1 --warmup 1000 --clip 1e6 --lr 1e-30 --seed 9223372036854775807 --batch 1048576 \
  --schedule cosine --optimizer adamw
extreme "$T/x3" --epochs 1000 --stop-after 1 --warmup 0 --lr 1e6 --clip 1e-6 --seed 0 --batch 1 --optimizer sgd \
  --schedule step --limit-test 9223372036854775807
extreme "$T/x4" --epochs 1 --lr 1e-6 --optimizer rmsprop --limit-train 0 --batch 2000 --init "$PT" --freeze conv1.weight

echo "test_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
