#!/usr/bin/env bash
# End-to-end tests of the generative models on the command line (issue 9), on the committed MNIST
# slice (tests/fixtures/mnist-small, 2000 / 500 images): the autoencoder, the denoising
# conv-autoencoder and the VAE train to stated test figures and write their pictures; the GAN's
# checkpoint holds generator.* and discriminator.* with both optimizers, and --resume of an
# interrupted GAN run is byte-identical to an uninterrupted one; the DCGAN trains; sample writes
# PNG grids and IDX files and judges them with a classifier; bad input gives a clear error and
# exit 1.
#
# Thresholds were measured with these exact commands (seeds 0-4, --threads 2) and set with a
# margin (the numbers are beside each check); the test runs seed 0.
# usage: test_cli_gen.sh path/to/nabla   (run from tests/)
set -uo pipefail
NABLA=$1
D=fixtures/mnist-small
T=$(mktemp -d /tmp/nabla_cligen_XXXXXX)
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
le() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a != "" && a + 0 <= b + 0)}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a != "" && b != "" && a + 0 < b + 0)}'; }
png() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ]; }
header() { local n; n=$(st_header_len "$1"); head -c "$((8 + n))" "$1" | tail -c "$n"; }
outputs() { # outputs DIR EPOCHS FILES...: the run's common outputs and the given pictures
  local d=$1 epochs=$2 f; shift 2
  for f in model.safetensors checkpoint.safetensors metrics.jsonl report.txt; do check '[ -s "$d/$f" ]' "$d: no $f"; done
  for f in curves.png "$@"; do check 'png "$d/$f"' "$d: $f is missing or not a PNG"; done
  check '[ ! -e "$d/predictions.png" ]' "$d: a generative model wrote predictions.png"
  check '[ "$(wc -l < "$d/metrics.jsonl")" -eq "$epochs" ]' "$d/metrics.jsonl should have $epochs lines"
  check '! ls "$d"/*.tmp.* >/dev/null 2>&1' "$d: temporary files left behind"
}
COMMON=(--data mnist --data-dir "$D" --threads 2 --quiet --seed 0)

# ---- autoencoder: 3 epochs; test MSE seeds 0-4: 0.0562 0.0545 0.0582 0.0537 0.0551 (0.23 untrained)
"$NABLA" train --model autoencoder --epochs 3 "${COMMON[@]}" --out "$T/ae" || bad "train autoencoder"
outputs "$T/ae" 3 reconstructions.png latent.png
mse=$(metric "$T/ae/metrics.jsonl" test_mse)
check 'le "$mse" 0.065' "autoencoder: test MSE $mse > 0.065 after 3 epochs"
check '[ "$mse" = "$(metric "$T/ae/metrics.jsonl" test_loss)" ] && grep -q "test_mse" "$T/ae/report.txt"' "test_mse = test_loss, in the report"
check 'header "$T/ae/model.safetensors" | grep -q "\"encoder.1.weight\"" && header "$T/ae/model.safetensors" | grep -q "\"decoder.2.weight\""' \
  "autoencoder names (encoder.1, decoder.2)"

# ---- conv-autoencoder, --denoise 0.3: 2 epochs; test MSE against the clean image, epoch 1 -> 2,
# seeds 0-4: 0.0719 -> 0.0659, 0.0774 -> 0.0697, 0.0772 -> 0.0686, 0.0710 -> 0.0664, 0.0750 -> 0.0667
"$NABLA" train --model conv-autoencoder --denoise 0.3 --epochs 2 "${COMMON[@]}" --out "$T/cae" || bad "train conv-autoencoder"
outputs "$T/cae" 2 reconstructions.png latent.png
m1=$(metric "$T/cae/metrics.jsonl" test_mse 1) m2=$(metric "$T/cae/metrics.jsonl" test_mse 2)
check 'lt "$m2" "$m1" && le "$m2" 0.08' "denoising: test MSE $m1 -> $m2 (should fall, <= 0.08)"
check 'header "$T/cae/model.safetensors" | grep -q "\"noise\":\"0.300000012\""' "the noise in the checkpoint's plan"

# ---- vae, --latent 2: 3 epochs; test -ELBO seeds 0-4: 190.1 189.0 190.1 188.1 192.0 (550 untrained)
"$NABLA" train --model vae --latent 2 --epochs 3 "${COMMON[@]}" --out "$T/vae" || bad "train vae"
outputs "$T/vae" 3 reconstructions.png latent.png lattice.png
elbo=$(metric "$T/vae/metrics.jsonl" test_loss) rec=$(metric "$T/vae/metrics.jsonl" test_recon) kl=$(metric "$T/vae/metrics.jsonl" test_kl)
check 'le "$elbo" 200 && awk -v a="$elbo" -v r="$rec" -v k="$kl" "BEGIN{d=a-r-k; exit !(d < 1e-3 && d > -1e-3 && k > 1)}"' \
  "vae: test -ELBO $elbo (<= 200) = recon $rec + kl $kl"
for k in train_recon train_kl test_mse; do check 'grep -q "\"$k\": [0-9]" "$T/vae/metrics.jsonl"' "vae metrics.jsonl lacks $k"; done

# ---- sample from the VAE; a lenet5 of one epoch on the slice judges ---------------------------
"$NABLA" train --model lenet5 --epochs 1 "${COMMON[@]}" --out "$T/lenet" || bad "train lenet5"
out=$("$NABLA" sample --checkpoint "$T/vae/model.safetensors" --n 16 --out "$T/v.png" 2>&1) || bad "sample vae png: $out"
check 'png "$T/v.png"' "sample: no PNG"
"$NABLA" sample --checkpoint "$T/vae/model.safetensors" --n 16 --seed 3 --out "$T/v.idx" >/dev/null || bad "sample vae idx"
check '[ "$(stat -c %s "$T/v.idx")" -eq $((16 + 16 * 784)) ] && [ "$(od -An -tx1 -N4 "$T/v.idx" | tr -d " ")" = 00000803 ]' \
  "sample: an IDX file of 16 28x28 images"
"$NABLA" sample --checkpoint "$T/vae/model.safetensors" --n 16 --seed 3 --out "$T/v2.idx" >/dev/null
check 'cmp -s "$T/v.idx" "$T/v2.idx"' "sample: one seed, the same images"
out=$("$NABLA" sample --checkpoint "$T/vae/model.safetensors" --n 200 --out "$T/j.png" --judge "$T/lenet/model.safetensors" 2>&1)
check '[ $? -eq 0 ] && grep -qE "judged by .*: [0-9.]+% of 200 images classified with probability >= 0.9; entropy of the predicted classes [0-9.]+ bits" <<<"$out"' \
  "sample --judge: $out"

# ---- gan: 2 epochs, and the same run stopped after 1 and resumed: byte-identical -------------
"$NABLA" train --model gan --epochs 2 "${COMMON[@]}" --out "$T/gan" || bad "train gan"
outputs "$T/gan" 2 samples-epoch001.png samples-epoch002.png
for k in d_loss g_loss d_real d_fake; do check 'grep -q "\"$k\": [0-9]" "$T/gan/metrics.jsonl"' "gan metrics.jsonl lacks $k"; done
h=$(header "$T/gan/checkpoint.safetensors")
check 'grep -q "\"generator.0.weight\"" <<<"$h" && grep -q "\"discriminator.3.bias\"" <<<"$h" && grep -q "_nabla.optim.generator.exp_avg\"" <<<"$h" && grep -q "_nabla.optim.discriminator.exp_avg_sq\"" <<<"$h"' \
  "gan checkpoint: generator.*, discriminator.* and both optimizers"
check '! grep -q "_nabla" <<<"$(header "$T/gan/model.safetensors" | tr "," "\n" | grep -v "__metadata__\|\"_nabla.optimizer\|\"_nabla.lr")"' \
  "gan model.safetensors holds no optimizer state"
"$NABLA" train --model gan --epochs 2 --stop-after 1 "${COMMON[@]}" --out "$T/gan2" || bad "gan --stop-after 1"
"$NABLA" train --resume "$T/gan2/checkpoint.safetensors" --data-dir "$D" --quiet || bad "gan --resume"
check 'cmp -s "$T/gan/checkpoint.safetensors" "$T/gan2/checkpoint.safetensors" && cmp -s "$T/gan/model.safetensors" "$T/gan2/model.safetensors" && cmp -s "$T/gan/samples-epoch002.png" "$T/gan2/samples-epoch002.png"' \
  "gan: resumed run differs from the uninterrupted one"
"$NABLA" sample --checkpoint "$T/gan/model.safetensors" --n 10 --out "$T/g.png" >/dev/null || bad "sample gan"
check 'png "$T/g.png"' "sample gan: no PNG"

# ---- dcgan: one short epoch, and its samples judged -------------------------------------------
"$NABLA" train --model dcgan --epochs 1 --limit-train 256 --limit-test 64 "${COMMON[@]}" --out "$T/dc" || bad "train dcgan"
outputs "$T/dc" 1 samples-epoch001.png
check 'header "$T/dc/model.safetensors" | grep -q "\"generator.2.running_var\""' "dcgan: BatchNorm buffers under generator."
out=$("$NABLA" sample --checkpoint "$T/dc/model.safetensors" --n 20 --out "$T/d.png" --judge "$T/lenet/model.safetensors" 2>&1)
check '[ $? -eq 0 ] && grep -q "judged by" <<<"$out"' "sample dcgan --judge: $out"

# ---- bad input ----------------------------------------------------------------------------------
expect_error "--denoise and --latent are options of the autoencoders" train --model lenet5 --denoise 0.1 "${COMMON[@]}" --out "$T/x1"
expect_error "--denoise and --latent are options of the autoencoders" train --model gan --latent 4 "${COMMON[@]}" --out "$T/x2"
expect_error "learns images; --data spam is text" train --model vae --data spam --out "$T/x3"
expect_error "trains from scratch" train --model gan --init "$T/gan/model.safetensors" "${COMMON[@]}" --out "$T/x4"
expect_error "no distribution of codes" sample --checkpoint "$T/ae/model.safetensors"
expect_error "give a .png" sample --checkpoint "$T/gan/model.safetensors" --out "$T/x.jpg"
expect_error "are for text (charlm)" sample --checkpoint "$T/gan/model.safetensors" --length 5
expect_error "holds a generative model (gan)" eval --checkpoint "$T/gan/model.safetensors"
expect_error "holds a generative model (vae)" predict --checkpoint "$T/vae/model.safetensors" fixtures/digit7.png
expect_error "cannot judge" sample --checkpoint "$T/gan/model.safetensors" --n 4 --out "$T/x.png" --judge "$T/vae/model.safetensors"
expect_error "are for images" sample --checkpoint "$T/lenet/model.safetensors" --n 4
expect_error "not an integer in 1..256" train --model vae --latent 0 "${COMMON[@]}" --out "$T/x5"
cp "$T/gan/model.safetensors" "$T/cut.safetensors" && truncate -s 5000 "$T/cut.safetensors"
expect_error "cut.safetensors" sample --checkpoint "$T/cut.safetensors"
check '[ ! -e "$T/x.jpg" ] && [ ! -e "$T/x.png" ]' "a refused sample wrote a file"

echo "test_cli_gen: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
