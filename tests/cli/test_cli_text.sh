#!/usr/bin/env bash
# End-to-end tests of the sequence models on the command line (issue 8), on small committed
# slices of the real data (tests/fixtures/{mnist-small,langid-small,spam-small,moby-small}, made by
# tests/make_text_slices.py): lstm-rows, langid, spam and charlm train to a stated accuracy (bits
# per character for charlm) and write every output; eval agrees with training's last epoch;
# predict classifies lines of text and sample draws text; --resume of an interrupted langid and
# charlm run is bit-identical to an uninterrupted run; bad text input gives a clear error and
# exit 1.
#
# The thresholds were measured with these exact commands (seeds 0-4, --threads 2) and set with a
# margin (see the numbers beside each check); the test runs one seed, which is bit-for-bit
# repeatable on one machine and thread count.
# usage: test_cli_text.sh path/to/nabla   (run from tests/)
set -uo pipefail
NABLA=$1
F=fixtures
T=$(mktemp -d /tmp/nabla_clitext_XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# Runs nabla expecting exit status 1 and a message containing $1 (fixed string).
expect_error() {
  local want=$1; shift
  local out
  out=$("$NABLA" "$@" 2>&1 >/dev/null); local rc=$?
  if [ $rc -eq 1 ] && grep -qF -- "$want" <<<"$out"; then ok; else bad "nabla $* -> rc $rc, '$out' (wanted '$want')"; fi
}
# The value of key $2 on line $3 (default: the last) of metrics file $1.
metric() {
  local line
  if [ $# -ge 3 ]; then line=$(sed -n "${3}p" "$1"); else line=$(tail -1 "$1"); fi
  sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" <<<"$line"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a != "" && a + 0 >= b + 0)}'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a != "" && a + 0 <= b + 0)}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a != "" && b != "" && a + 0 < b + 0)}'; }
# The JSON header of safetensors file $1.
st_header() {
  local n
  n=$(st_header_len "$1")
  head -c "$((8 + n))" "$1" | tail -c "$n"
}
# Checks the outputs of a finished run in folder $1 ($2: its epochs; $3: "images" for lstm-rows).
outputs() {
  local d=$1 epochs=$2 kind=${3:-text} f
  for f in model.safetensors checkpoint.safetensors metrics.jsonl curves.png report.txt; do
    check '[ -s "$d/$f" ]' "$d: missing output $f"
  done
  check '[ "$(head -c 4 "$d/curves.png" | od -An -c | tr -d " ")" = "211PNG" ]' "$d/curves.png is not a PNG"
  if [ "$kind" = images ]; then check '[ -s "$d/predictions.png" ]' "$d: missing predictions.png"
  else check '[ ! -e "$d/predictions.png" ]' "$d: a text model wrote predictions.png"; fi
  check '[ "$(wc -l < "$d/metrics.jsonl")" -eq "$epochs" ]' "$d/metrics.jsonl should have $epochs lines"
  for f in epoch train_loss test_loss test_accuracy seconds samples_per_s; do
    check 'grep -q "\"$f\": " "$d/metrics.jsonl"' "$d/metrics.jsonl lacks $f"
  done
  check '! ls "$d"/*.tmp.* >/dev/null 2>&1' "$d: temporary files left behind"
}
# eval of checkpoint $1 (data in $2) prints training's last test loss and accuracy ($3: metrics).
eval_agrees() {
  local out acc loss
  out=$("$NABLA" eval --checkpoint "$1" --data-dir "$2" 2>&1) || { bad "eval $1: $out"; return; }
  acc=$(printf %.4f "$(metric "$3" test_accuracy)")
  loss=$(printf %.4f "$(metric "$3" test_loss)")
  check 'grep -q "loss $loss, accuracy $acc$" <<<"$(head -1 <<<"$out")"' \
    "eval of $1: '$(head -1 <<<"$out")', training's last epoch: loss $loss, accuracy $acc"
  check 'grep -q "macro avg" <<<"$out" && grep -q "confusion matrix" <<<"$out"' "eval of $1 prints no report"
}
COMMON=(--threads 2 --quiet --seed 0)

# ---- lstm-rows on the MNIST slice (2000 / 500 images) ----------------------------------------
# Test accuracy after epoch 5, seeds 0-4: 0.896 0.876 0.894 0.890 0.904 (after epoch 4: 0.812-0.876).
D=$F/mnist-small
"$NABLA" train --model lstm-rows --data mnist --data-dir "$D" --batch 32 --lr 0.002 --epochs 5 "${COMMON[@]}" \
  --out "$T/rows" || bad "train lstm-rows"
outputs "$T/rows" 5 images
acc=$(metric "$T/rows/metrics.jsonl" test_accuracy)
check 'ge "$acc" 0.85' "lstm-rows on 2000 images, 5 epochs: test accuracy $acc < 0.85"
check 'grep -q "weighted avg" "$T/rows/report.txt"' "lstm-rows report.txt"
# PyTorch's names and shapes: nn.LSTM(28, 128, batch_first=True) + nn.Linear(128, 10).
hdr=$(st_header "$T/rows/model.safetensors")
for t in 'lstm.weight_ih_l0":{"dtype":"F32","shape":[512,28]' 'lstm.weight_hh_l0":{"dtype":"F32","shape":[512,128]' \
  'lstm.bias_ih_l0":{"dtype":"F32","shape":[512]' 'lstm.bias_hh_l0":{"dtype":"F32","shape":[512]' \
  'fc.weight":{"dtype":"F32","shape":[10,128]' 'fc.bias":{"dtype":"F32","shape":[10]'; do
  check 'grep -qF "\"$t" <<<"$hdr"' "lstm-rows model.safetensors lacks $t"
done
eval_agrees "$T/rows/model.safetensors" "$D" "$T/rows/metrics.jsonl"
out=$("$NABLA" predict --checkpoint "$T/rows/model.safetensors" fixtures/digit7.png) || bad "predict lstm-rows"
check 'grep -q "^fixtures/digit7.png: 7 (p=" <<<"$out"' "lstm-rows predict digit7.png: $out"

# ---- langid on 500 words of each language (400 train / 100 test) -----------------------------
# Test accuracy after epoch 3, seeds 0-3: 0.705 0.731 0.700 0.753 (chance: 0.125).
D=$F/langid-small
"$NABLA" train --model langid --data langid --data-dir "$D" --batch 64 --lr 0.005 --epochs 3 "${COMMON[@]}" \
  --out "$T/lang" || bad "train langid"
outputs "$T/lang" 3
acc=$(metric "$T/lang/metrics.jsonl" test_accuracy)
check 'ge "$acc" 0.60' "langid on 3200 words, 3 epochs: test accuracy $acc < 0.60 (chance 0.125)"
for c in english german french spanish italian portuguese dutch swedish; do
  check 'grep -q "^ *$c " "$T/lang/report.txt"' "langid report.txt lacks the class $c"
done
check 'grep -q "confusion matrix" "$T/lang/report.txt"' "langid report.txt has no confusion matrix"
eval_agrees "$T/lang/model.safetensors" "$D" "$T/lang/metrics.jsonl"
L=$T/lang/model.safetensors
# predict: one line per non-empty line ("FILE:LINE: class (p=...)"), CRLF and blank lines too.
printf 'the\r\nhouse\n\nwindow\n   \nzzzz\nωmega-42!\n' > "$T/words.txt"
out=$("$NABLA" predict --checkpoint "$L" "$T/words.txt") || bad "predict langid words.txt: $out"
check '[ "$(grep -c " (p=" <<<"$out")" -eq 6 ]' "predict: 6 lines of text (the blank one left out), got: $out"
for n in 1 2 4 5 6 7; do
  check 'grep -qE "^$T/words.txt:$n: (english|german|french|spanish|italian|portuguese|dutch|swedish) \(p=[01]\.[0-9]{4}\)" <<<"$out"' \
    "predict: no line for words.txt:$n in: $out"
done
out=$(printf 'svenska\nmaison\n' | "$NABLA" predict --checkpoint "$L" -) || bad "predict langid from stdin"
check '[ "$(grep -c "^stdin:[12]: " <<<"$out")" -eq 2 ]' "predict -: $out"
# The model agrees with itself: most words of the English list (4/5 of them seen in training) are
# English (measured 0.87 at seed 0).
out=$("$NABLA" predict --checkpoint "$L" "$D/american-english") || bad "predict the English list"
n=$(grep -c ": english (p=" <<<"$out")
check '[ "$(grep -c " (p=" <<<"$out")" -eq 500 ] && [ "$n" -ge 350 ]' "predict american-english: $n of 500 english"
# Bad text input.
: > "$T/empty.txt"
printf '\n \n\r\n' > "$T/blank.txt"
printf 'hello\nabc\xe9def\n' > "$T/latin1.txt"
printf 'hello\n\xed\xa0\x80x\n' > "$T/surrogate.txt"
maxtok=$(st_header "$L" | sed -n 's/.*"max_tokens":"\([0-9]*\)".*/\1/p')
check '[ -n "$maxtok" ] && [ "$maxtok" -ge 10 ]' "langid checkpoint's max_tokens: '$maxtok'"
head -c "$((maxtok + 1))" /dev/zero | tr '\0' a > "$T/long.txt"; echo >> "$T/long.txt"
head -c "$maxtok" /dev/zero | tr '\0' a > "$T/longest.txt"; echo >> "$T/longest.txt"
expect_error "$T/empty.txt: no text to classify (the file is empty)" predict --checkpoint "$L" "$T/empty.txt"
expect_error "$T/blank.txt: no text to classify" predict --checkpoint "$L" "$T/blank.txt"
expect_error "$T/latin1.txt:2: invalid UTF-8 at byte 3" predict --checkpoint "$L" "$T/latin1.txt"
expect_error "$T/surrogate.txt:2: invalid UTF-8 at byte 0: a surrogate" predict --checkpoint "$L" "$T/surrogate.txt"
# the real Swedish list is ISO-8859-1: read as UTF-8 by predict, its first non-ASCII word fails
line=$(LC_ALL=C grep -n -m1 '[^ -~]' "$D/swedish" | cut -d: -f1)
expect_error "$D/swedish:$line: invalid UTF-8" predict --checkpoint "$L" "$D/swedish"
expect_error "$T/long.txt:1: more than $maxtok tokens, the longest sequence the model was trained on" \
  predict --checkpoint "$L" "$T/long.txt"
"$NABLA" predict --checkpoint "$L" "$T/longest.txt" > /dev/null || bad "predict: a line of max_tokens ($maxtok) characters"
expect_error "$T/nope.txt: cannot open" predict --checkpoint "$L" "$T/nope.txt"
expect_error "fixtures/digit7.png:1: invalid UTF-8 at byte 0" predict --checkpoint "$L" fixtures/digit7.png
expect_error "give one or more" predict --checkpoint "$L"
expect_error "sample: $L holds a langid model; sample draws text from a charlm checkpoint" sample --checkpoint "$L"
# A data folder whose vocabulary differs (the made-up lists of tests/fixtures/text), an empty
# one, and data of the wrong kind.
mkdir -p "$T/emptydir"
expect_error "$L: the checkpoint's vocabulary (" eval --checkpoint "$L" --data-dir fixtures/text/langid
expect_error "was the model trained on other data?" eval --checkpoint "$L" --data-dir fixtures/text/langid
expect_error "--data-dir $T/emptydir: the word lists (american-english, ngerman, ...) not there" \
  eval --checkpoint "$L" --data-dir "$T/emptydir"
expect_error "$L holds a langid model, which reads text; --data mnist holds images" \
  eval --checkpoint "$L" --data mnist --data-dir "$F/mnist-small"
expect_error "$L holds a langid model; --data moby-dick is a character stream" \
  eval --checkpoint "$L" --data moby-dick --data-dir "$F/moby-small"
expect_error "--data langid is text; $T/rows/model.safetensors holds a lstm-rows model, which reads images" \
  eval --checkpoint "$T/rows/model.safetensors" --data langid --data-dir "$D"
expect_error "$T/words.txt: bad magic" predict --checkpoint "$T/rows/model.safetensors" "$T/words.txt"

# --resume of an interrupted langid run (a quarter of the words, 2 epochs) is bit-identical.
R=(--model langid --data langid --data-dir "$D" --batch 64 --lr 0.005 --epochs 2 --limit-train 800 --limit-test 200)
"$NABLA" train "${R[@]}" "${COMMON[@]}" --out "$T/la" || bad "train langid a"
"$NABLA" train "${R[@]}" "${COMMON[@]}" --stop-after 1 --out "$T/lb" || bad "train langid b --stop-after 1"
check '[ "$(wc -l < "$T/lb/metrics.jsonl")" -eq 1 ]' "langid --stop-after 1 trains 1 epoch"
"$NABLA" train --resume "$T/lb/checkpoint.safetensors" --data-dir "$D" --threads 2 --quiet || bad "resume langid"
check 'cmp -s "$T/la/model.safetensors" "$T/lb/model.safetensors"' "langid: resumed weights differ from the uninterrupted run"
check 'cmp -s "$T/la/checkpoint.safetensors" "$T/lb/checkpoint.safetensors"' "langid: resumed optimizer state differs"
check 'cmp -s "$T/la/metrics.jsonl" "$T/lb/metrics.jsonl" || [ "$(cut -d, -f1-5 "$T/la/metrics.jsonl")" = "$(cut -d, -f1-5 "$T/lb/metrics.jsonl")" ]' \
  "langid: the resumed run's losses differ"
expect_error "--resume $T/lb/checkpoint.safetensors was trained on 800 sequences; langid gives" \
  train --resume "$T/lb/checkpoint.safetensors" --epochs 3 --data-dir fixtures/text/langid --out "$T/lc"
# The same number of words with another letter in them: the ids would mean other characters.
cp -r "$D" "$T/lq"
for f in american-english ngerman french spanish italian portuguese dutch; do sed -i 's/q/ŧ/g' "$T/lq/$f"; done
expect_error "the checkpoint's vocabulary is not the one --data langid gives here" \
  train --resume "$T/lb/checkpoint.safetensors" --epochs 3 --data-dir "$T/lq" --out "$T/lc"
# Another thread count is noted (the result will not be bit-identical).
out=$("$NABLA" train --resume "$T/lb/checkpoint.safetensors" --epochs 3 --data-dir "$D" --threads 1 --out "$T/ld" 2>&1 >/dev/null)
check 'grep -q "written with 2 threads, this run uses 1" <<<"$out"' "langid: resuming with another thread count is not noted: $out"

# ---- spam on 560 mails of the spam-assassin set (448 train / 112 test) -----------------------
# Test accuracy after epoch 4, seeds 0-4: 0.830 0.768 0.821 0.768 0.804 (all ham: 0.643).
D=$F/spam-small
"$NABLA" train --model spam --data spam --data-dir "$D" --batch 32 --lr 0.003 --epochs 4 "${COMMON[@]}" \
  --out "$T/spam" || bad "train spam"
outputs "$T/spam" 4
acc=$(metric "$T/spam/metrics.jsonl" test_accuracy)
check 'ge "$acc" 0.72' "spam on 448 mails, 4 epochs: test accuracy $acc < 0.72 (all ham: 0.643)"
check 'grep -q "^ *ham " "$T/spam/report.txt" && grep -q "^ *spam " "$T/spam/report.txt"' "spam report.txt lacks ham/spam"
eval_agrees "$T/spam/model.safetensors" "$D" "$T/spam/metrics.jsonl"
# spam reads bytes (the mails are in many charsets): Latin-1 is no error, and a line longer
# than 200 words is cut to its first 200 as in training.
{ printf 'Caf\xe9 au lait, click here to claim your FREE prize\n\n'; printf 'word %.0s' $(seq 300); echo; } > "$T/mail.txt"
out=$("$NABLA" predict --checkpoint "$T/spam/model.safetensors" "$T/mail.txt") || bad "predict spam: $out"
check '[ "$(grep -cE "^$T/mail.txt:[13]: (ham|spam) \(p=" <<<"$out")" -eq 2 ]' "predict spam: $out"
expect_error "$T/empty.txt: no text to classify" predict --checkpoint "$T/spam/model.safetensors" "$T/empty.txt"
expect_error "--data-dir $T/emptydir: the spam-assassin folders (easy-ham-1, ..., spam-2) not there" \
  train --model spam --data spam --data-dir "$T/emptydir" --out "$T/x"
expect_error "the checkpoint's vocabulary (" eval --checkpoint "$T/spam/model.safetensors" --data-dir fixtures/text/spam

# ---- charlm on the first 40 KB of Moby-Dick ---------------------------------------------------
# 20,000 training characters, batches of 8 windows of 100; validation: the last 3,939 characters.
# test_bpc after epochs 1 and 2, seeds 0-3: 3.99 3.51, 4.09 3.61, 3.97 3.50, 3.84 3.39 (a unigram
# model of the training text: 4.52 on the validation text; uniform over 70 characters: 6.13).
D=$F/moby-small
"$NABLA" train --model charlm --data moby-dick --data-dir "$D" --batch 8 --lr 0.005 --epochs 2 --limit-train 20000 \
  "${COMMON[@]}" --out "$T/lm" || bad "train charlm"
outputs "$T/lm" 2
b1=$(metric "$T/lm/metrics.jsonl" test_bpc 1)
b2=$(metric "$T/lm/metrics.jsonl" test_bpc 2)
check 'lt "$b2" "$b1"' "charlm: test_bpc did not decrease: $b1 then $b2"
check 'le "$b2" 3.9' "charlm after 2 epochs: test_bpc $b2 > 3.9 (a unigram model: 4.52)"
check 'grep -q "\"train_bpc\": " "$T/lm/metrics.jsonl"' "charlm metrics.jsonl lacks train_bpc"
check 'grep -q "bits per character" "$T/lm/report.txt" && grep -q "^sample (prime \"The \"" "$T/lm/report.txt"' \
  "charlm report.txt: $(head -3 "$T/lm/report.txt")"
M=$T/lm/model.safetensors
out=$("$NABLA" eval --checkpoint "$M" --data-dir "$D") || bad "eval charlm: $out"
want="loss $(printf %.4f "$(metric "$T/lm/metrics.jsonl" test_loss)"), $(printf %.4f "$b2") bits per character"
check 'grep -qF "$want" <<<"$out"' "eval charlm: '$out', training: '$want'"
# sample: starts with the prime, repeats with the seed, --length characters more.
s1=$("$NABLA" sample --checkpoint "$M" --prime "Call me" --length 60 --seed 7) || bad "sample"
s2=$("$NABLA" sample --checkpoint "$M" --prime "Call me" --length 60 --seed 7) || bad "sample again"
s3=$("$NABLA" sample --checkpoint "$M" --prime "Call me" --length 60 --seed 8) || bad "sample seed 8"
check '[ "${s1:0:7}" = "Call me" ]' "sample does not start with the prime: '$s1'"
check '[ "$s1" = "$s2" ]' "sample with the same seed differs: '$s1' / '$s2'"
check '[ "$s1" != "$s3" ]' "samples with seeds 7 and 8 are the same: '$s1'"
nb=$(printf %s "$s1" | wc -c)
check '[ "$nb" -ge 67 ] && [ "$nb" -le 187 ]' "sample --length 60 after a 7-character prime: $nb bytes"
s4=$("$NABLA" sample --checkpoint "$M" --length 20 --temperature 0.05 --seed 1) || bad "sample --temperature 0.05"
check '[ "${s4:0:4}" = "The " ]' "sample's default prime is 'The ': '$s4'"
expect_error '--prime: byte 1: "~" is not in the vocabulary' sample --checkpoint "$M" --prime "a~b"
expect_error '--prime: byte 0: "ü" is not in the vocabulary' sample --checkpoint "$M" --prime "über"
expect_error "--prime: invalid UTF-8 at byte 1" sample --checkpoint "$M" --prime "$(printf 'a\xff')"
expect_error "--temperature: '0' is not a number > 0" sample --checkpoint "$M" --temperature 0
expect_error "--length: '0' is not an integer" sample --checkpoint "$M" --length 0
expect_error "predict: $M holds a language model; draw text from it with nabla sample" predict --checkpoint "$M" "$T/words.txt"
# Another text: a vocabulary that differs; an empty folder; too little text; wrong pairings.
mkdir -p "$T/moby2" && cp fixtures/text/moby.txt "$T/moby2/data.txt"
expect_error "$M: the checkpoint's vocabulary (" eval --checkpoint "$M" --data-dir "$T/moby2"
expect_error "--data-dir $T/emptydir: data.txt (the text of Moby-Dick) not there" eval --checkpoint "$M" --data-dir "$T/emptydir"
expect_error "$M holds a charlm model; --data langid is not a character stream" \
  eval --checkpoint "$M" --data langid --data-dir "$F/langid-small"
expect_error "too few for a language model" \
  train --model charlm --data moby-dick --data-dir "$D" --limit-train 1 --out "$T/x"
: > "$T/moby3.txt"; mkdir -p "$T/moby3" && mv "$T/moby3.txt" "$T/moby3/data.txt"
expect_error "$T/moby3/data.txt" train --model charlm --data moby-dick --data-dir "$T/moby3" --out "$T/x"
printf 'Call me Ishmael.\n\xc3(\n' > "$T/badutf.txt"; mkdir -p "$T/moby4" && mv "$T/badutf.txt" "$T/moby4/data.txt"
expect_error "invalid UTF-8 at byte 17" train --model charlm --data moby-dick --data-dir "$T/moby4" --out "$T/x"
mkdir -p "$T/moby5" && printf 'Call me\0 Ishmael. Some years ago, never mind how long precisely.\n' > "$T/moby5/data.txt"
expect_error "$T/moby5/data.txt: a NUL byte at byte 7: not text" train --model charlm --data moby-dick --data-dir "$T/moby5" --out "$T/x"

# --resume of an interrupted charlm run (stateful truncated BPTT: states carried across batches
# within an epoch) is bit-identical: 3,200 characters, 4 batches an epoch, 2 epochs.
R=(--model charlm --data moby-dick --data-dir "$D" --batch 8 --lr 0.005 --epochs 2 --limit-train 3200 --limit-test 1000)
"$NABLA" train "${R[@]}" "${COMMON[@]}" --out "$T/ma" || bad "train charlm a"
"$NABLA" train "${R[@]}" "${COMMON[@]}" --stop-after 1 --out "$T/mb" || bad "train charlm b --stop-after 1"
check '[ "$(wc -l < "$T/mb/metrics.jsonl")" -eq 1 ]' "charlm --stop-after 1 trains 1 epoch"
"$NABLA" train --resume "$T/mb/checkpoint.safetensors" --data-dir "$D" --threads 2 --quiet || bad "resume charlm"
check 'cmp -s "$T/ma/model.safetensors" "$T/mb/model.safetensors"' "charlm: resumed weights differ from the uninterrupted run"
check 'cmp -s "$T/ma/checkpoint.safetensors" "$T/mb/checkpoint.safetensors"' "charlm: resumed optimizer state differs"
check '[ "$(metric "$T/ma/metrics.jsonl" test_bpc)" = "$(metric "$T/mb/metrics.jsonl" test_bpc)" ] && [ "$(wc -l < "$T/mb/metrics.jsonl")" -eq 2 ]' \
  "charlm: the resumed run's test_bpc differs"
check 'cmp -s "$T/ma/report.txt" "$T/mb/report.txt"' "charlm: the resumed run's report (and sample) differs"
expect_error "--resume $T/mb/checkpoint.safetensors was trained on 3200 characters; moby-dick gives" \
  train --resume "$T/mb/checkpoint.safetensors" --epochs 3 --data-dir "$T/moby2" --out "$T/mc"

# ---- the command line: unknown data, wrong pairings ------------------------------------------
expect_error "--data: unknown value 'nope' (expected one of: mnist, fashion-mnist, spam, langid, moby-dick, sotu, sotu,moby-dick)" \
  train --model langid --data nope
expect_error "--data: unknown value 'imdb'" eval --checkpoint "$L" --data imdb
expect_error "--model langid reads text; --data mnist holds images (try --data langid)" train --model langid --data mnist
expect_error "--model charlm reads text; --data fashion-mnist holds images (try --data moby-dick)" \
  train --model charlm --data fashion-mnist
expect_error "--model lstm-rows reads images; --data langid is text (try --model langid)" train --model lstm-rows --data langid
expect_error "--model lenet5 reads images; --data moby-dick is text (try --model charlm)" train --model lenet5 --data moby-dick
expect_error "--model charlm and --data langid do not go together" train --model charlm --data langid
expect_error "--model spam and --data moby-dick do not go together" train --model spam --data moby-dick
expect_error "--data-dir $T/emptydir: data.txt (the text of Moby-Dick) not there" \
  train --model charlm --data moby-dick --data-dir "$T/emptydir" --out "$T/x"
expect_error "--data-dir $T/emptydir: the word lists" train --model langid --data langid --data-dir "$T/emptydir" --out "$T/x"
check '[ ! -e "$T/x/checkpoint.safetensors" ]' "a refused run wrote a checkpoint"

echo "test_cli_text: $pass passed, $fail failed"
[ $fail -eq 0 ]
