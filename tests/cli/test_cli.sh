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
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
# Runs nabla expecting failure with a message containing $1.
expect_error() {
  local want=$1; shift
  local out
  out=$("$NABLA" "$@" 2>&1 >/dev/null); local rc=$?
  if [ $rc -ne 0 ] && grep -qF -- "$want" <<<"$out"; then ok; else bad "nabla $* -> rc $rc, '$out' (wanted '$want')"; fi
}
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

echo "test_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
