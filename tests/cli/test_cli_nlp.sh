#!/usr/bin/env bash
# End-to-end tests of the Transformer text models on the command line (issue 12), on the committed
# slices tests/fixtures/sotu-small (ten State of the Union excerpts with small name lists) and
# moby-small: mlm pre-trains and writes its outputs; ner trains from scratch and from the masked
# LM (--init) with LoRA adapters (--lora), writes the entity report (seqeval's layout) and
# test_f1; a LoRA run's model.safetensors is plain (merged) and its checkpoint resumes
# bit-identically; word dropout (--word-dropout) is kept in the plan, changes the training and
# resumes bit-identically; eval and predict read both; charlm --arch transformer trains and samples;
# bad input gives a clear error and exit 1.
#
# The slices are too small for a tagger to learn many entities: the checks here are about the
# machinery (the figures of the real set are in the README); learning is checked by the
# training loss falling between the two epochs.
# usage: test_cli_nlp.sh path/to/nabla   (run from tests/)
set -uo pipefail
NABLA=$1
S=fixtures/sotu-small
T=$(mktemp -d /tmp/nabla_clinlp_XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
expect_error() { # expect_error TEXT ARGS...: exit status 1 and TEXT in the message
  local want=$1; shift
  local out
  out=$("$NABLA" "$@" 2>&1 >/dev/null); local rc=$?
  if [ $rc -eq 1 ] && grep -qF -- "$want" <<<"$out"; then ok; else bad "nabla $* -> rc $rc, '$out' (wanted '$want')"; fi
}
metric() { # metric FILE KEY [LINE]: the value of KEY on LINE (default: the last) of metrics.jsonl
  local line
  if [ $# -ge 3 ]; then line=$(sed -n "${3}p" "$1"); else line=$(tail -1 "$1"); fi
  sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" <<<"$line"
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a != "" && b != "" && a + 0 < b + 0)}'; }
header() { local n; n=$(st_header_len "$1"); head -c "$((8 + n))" "$1" | tail -c "$n"; }
outputs() { # outputs DIR EPOCHS: the run's outputs
  local d=$1 epochs=$2 f
  for f in model.safetensors checkpoint.safetensors metrics.jsonl report.txt curves.png; do
    check '[ -s "$d/$f" ]' "$d: no $f"
  done
  check '[ "$(wc -l < "$d/metrics.jsonl")" -eq "$epochs" ]' "$d/metrics.jsonl should have $epochs lines"
  check '! ls "$d"/*.tmp.* >/dev/null 2>&1' "$d: temporary files left behind"
}
falls() { # falls DIR: the training loss of epoch 2 is below epoch 1's
  local a b
  a=$(metric "$1/metrics.jsonl" train_loss 1) b=$(metric "$1/metrics.jsonl" train_loss 2)
  check 'lt "$b" "$a"' "$1: training loss $a -> $b should fall"
}
COMMON=(--data sotu --data-dir "$S" --threads 2 --seed 0 --epochs 2 --limit-train 96) # 3 batches an epoch

# ---- mlm: masked-LM pre-training on the slice's sentences
"$NABLA" train --model mlm "${COMMON[@]}" --quiet --out "$T/mlm" || bad "train mlm"
outputs "$T/mlm" 2
falls "$T/mlm"
check 'grep -q "masked-token accuracy" "$T/mlm/report.txt"' "mlm report: masked-token accuracy"
check 'header "$T/mlm/model.safetensors" | grep -q "\"encoder.layers.3.self_attn.in_proj_weight\""' \
  "mlm: PyTorch's TransformerEncoder names"
out=$("$NABLA" eval --checkpoint "$T/mlm/model.safetensors" --data-dir "$S" 2>&1)
check 'grep -q "masked-token accuracy" <<<"$out"' "eval of mlm: $out"
expect_error "masked language model" predict --checkpoint "$T/mlm/model.safetensors" "$S/README.md"

# ---- ner from scratch: the entity report in seqeval's layout, test_f1 per epoch
"$NABLA" train --model ner "${COMMON[@]}" --quiet --out "$T/ner" || bad "train ner"
outputs "$T/ner" 2
falls "$T/ner"
check 'grep -q "precision    recall  f1-score   support" "$T/ner/report.txt" && grep -q "   micro avg " "$T/ner/report.txt" &&
       grep -q "^token accuracy: " "$T/ner/report.txt"' "ner report.txt: the entity report"
check '[ -n "$(metric "$T/ner/metrics.jsonl" test_f1)" ] && [ -n "$(metric "$T/ner/metrics.jsonl" test_unseen_f1)" ]' \
  "ner metrics.jsonl: test_f1, test_unseen_f1"
# the unseen entities' table: the fixture's held-out names (William, Florida, Louisiana, May)
# make test entities no training entity had
check 'grep -Eq "^unseen entities \(their words never form an entity in training; [1-9][0-9]* surfaces learned\):$" "$T/ner/report.txt" &&
       [ "$(sed -n "/^unseen entities/,\$p" "$T/ner/report.txt" | grep -c "micro avg")" = 1 ]' "ner report.txt: the unseen table"
out=$("$NABLA" eval --checkpoint "$T/ner/model.safetensors" --data-dir "$S" 2>&1)
check 'grep -q "weighted avg" <<<"$out" && grep -q "$(grep "^token accuracy" "$T/ner/report.txt")" <<<"$out" &&
       [ "$(sed -n "/^unseen entities/,\$p" <<<"$out")" = "$(sed -n "/^unseen entities/,\$p" "$T/ner/report.txt")" ]' \
  "eval of ner gives training's last token accuracy and unseen table: $out"
# predict: every sentence of the text, as written (entity marks aside), one a line
printf 'President George Washington went to New York on May 1, 1789. He came back.\n\nThen John Adams wrote.\n' > "$T/in.txt"
out=$("$NABLA" predict --checkpoint "$T/ner/model.safetensors" "$T/in.txt" 2>&1)
plain=$(sed -E 's/\[([^]]*)\]\((PER|LOC|DATE)\)/\1/g' <<<"$out")
check '[ "$plain" = "$(printf "President George Washington went to New York on May 1, 1789.\nHe came back.\nThen John Adams wrote.")" ]' \
  "predict of ner: '$out'"
: > "$T/empty.txt"
expect_error "no text to tag" predict --checkpoint "$T/ner/model.safetensors" "$T/empty.txt"

# ---- word dropout: in the plan (checkpoint metadata), the training differs from the plain run's;
# --resume takes the value from the plan and is bit-identical to the uninterrupted run
out=$("$NABLA" train --model ner "${COMMON[@]}" --word-dropout 0.2 --out "$T/wd" 2>&1) || bad "word dropout run: $out"
check 'grep -q "^word dropout 0.2: " <<<"$out"' "word dropout: the run says so: $out"
outputs "$T/wd" 2
falls "$T/wd"
check 'header "$T/wd/checkpoint.safetensors" | grep -q "\"word_dropout\":\"0.2" && ! header "$T/ner/checkpoint.safetensors" | grep -q word_dropout' \
  "word dropout: word_dropout in the plan of the run that has it, absent from the others"
a=$(metric "$T/ner/metrics.jsonl" train_loss 1) b=$(metric "$T/wd/metrics.jsonl" train_loss 1)
check '[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]' "word dropout changes the training: train_loss $a vs $b"
"$NABLA" train --model ner "${COMMON[@]}" --word-dropout 0.2 --quiet --stop-after 1 --out "$T/wd2" || bad "word dropout first epoch"
"$NABLA" train --resume "$T/wd2/checkpoint.safetensors" --data-dir "$S" --threads 2 --quiet || bad "word dropout resume"
check 'cmp -s "$T/wd/checkpoint.safetensors" "$T/wd2/checkpoint.safetensors" && cmp -s "$T/wd/model.safetensors" "$T/wd2/model.safetensors"' \
  "word dropout: --resume is bit-identical to the uninterrupted run"

# ---- LoRA from the masked LM (the encoder loaded, the head fresh): only the adapters and the
# head train; model.safetensors plain, the checkpoint resumes
out=$("$NABLA" train --model ner "${COMMON[@]}" --init "$T/mlm/model.safetensors" --lora 4 --out "$T/lora" 2>&1) ||
  bad "lora run: $out"
check 'grep -q "head.weight re-initialized" <<<"$out"' "fine-tuning from the masked LM: the head re-initialized: $out"
out=$(grep "LoRA" <<<"$out")
check 'grep -q "LoRA rank 4, alpha 4 on 12 Linear layers of the encoder" <<<"$out"' "lora: $out"
trainable=$(sed -n 's/.*: \([0-9]*\) of \([0-9]*\) parameters train/\1/p' <<<"$out")
total=$(sed -n 's/.*: \([0-9]*\) of \([0-9]*\) parameters train/\2/p' <<<"$out")
check 'lt "$trainable" "$((total / 10))"' "lora: $trainable of $total parameters train (should be < 10%)"
outputs "$T/lora" 2
check '! header "$T/lora/model.safetensors" | grep -q lora_ && header "$T/lora/checkpoint.safetensors" | grep -q "layers.0.linear1.lora_A"' \
  "lora: the model file is merged (no adapters), the checkpoint keeps them"
m1=$("$NABLA" eval --checkpoint "$T/lora/model.safetensors" --data-dir "$S" 2>&1 | grep "micro avg")
m2=$("$NABLA" eval --checkpoint "$T/lora/checkpoint.safetensors" --data-dir "$S" 2>&1 | grep "micro avg")
check '[ -n "$m1" ] && [ "$m1" = "$m2" ]' "lora: the merged model scores as the adapters do: '$m1' vs '$m2'"
"$NABLA" train --model ner "${COMMON[@]}" --quiet --init "$T/mlm/model.safetensors" --lora 4 --stop-after 1 --out "$T/lora2" ||
  bad "lora first epoch"
"$NABLA" train --resume "$T/lora2/checkpoint.safetensors" --data-dir "$S" --threads 2 --quiet || bad "lora resume"
check 'cmp -s "$T/lora/checkpoint.safetensors" "$T/lora2/checkpoint.safetensors" && cmp -s "$T/lora/model.safetensors" "$T/lora2/model.safetensors"' \
  "lora: --resume is bit-identical to the uninterrupted run"

# ---- charlm --arch transformer: a causal Transformer on the characters
"$NABLA" train --model charlm --arch transformer --data moby-dick --data-dir fixtures/moby-small --epochs 1 \
  --limit-train 20000 --threads 2 --quiet --out "$T/clt" || bad "train charlm --arch transformer"
outputs "$T/clt" 1
check '[ -n "$(metric "$T/clt/metrics.jsonl" test_bpc)" ] && grep -q "bits per character" "$T/clt/report.txt"' \
  "charlm-transformer: bits per character"
out=$("$NABLA" sample --checkpoint "$T/clt/model.safetensors" --length 300 --seed 1)
check '[ "${#out}" -ge 300 ]' "sample of charlm-transformer: ${#out} characters"

# ---- bad input
expect_error "--lora R [--lora-alpha X] fine-tunes a pre-trained encoder" train --model ner "${COMMON[@]}" --lora 4 --out "$T/x"
expect_error "--word-dropout: 1.5 is not a probability in [0, 1)" train --model ner "${COMMON[@]}" --word-dropout 1.5 --out "$T/wdx"
expect_error "--word-dropout P replaces training words by their unknowns in the tagger: --model ner, not --model mlm" \
  train --model mlm "${COMMON[@]}" --word-dropout 0.1 --out "$T/wdx"
check '[ ! -e "$T/wdx" ]' "a refused --word-dropout run writes nothing"
expect_error "ner and mlm read sotu" train --model ner --data moby-dick --out "$T/x"
expect_error "--model ner reads --data sotu" train --model ner --data sotu,moby-dick --out "$T/x"
expect_error "--arch chooses the network of --model charlm" train --model spam --data spam --arch transformer --out "$T/x"
expect_error "holds a charlm-transformer model, not --model ner" train --model ner "${COMMON[@]}" \
  --init "$T/clt/model.safetensors" --out "$T/x"
mkdir -p "$T/nosotu"
expect_error "--data-dir $T/nosotu" train --model ner --data sotu --data-dir "$T/nosotu" --out "$T/x"

echo "test_cli_nlp: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
