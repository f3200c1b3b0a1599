#!/usr/bin/env bash
# The README's figures for the generative models (issue 9), one run: trains the five models and
# a lenet5 judge on the full sets, then draws 1,000 images from each GAN and the VAEs and has the
# lenet5 judge them. Usage: bash bench/gen_figures.sh [OUT=/tmp/nabla-gen] [NABLA=build/nabla]
# About 35 minutes on 2 cores. Every command is printed before it runs.
set -euo pipefail
OUT=${1:-/tmp/nabla-gen}
NABLA=${2:-build/nabla}
mkdir -p "$OUT"
run() { echo "+ $*"; "$@"; }
train() { local dir=$1; shift; run "$NABLA" train "$@" --out "$OUT/$dir" --overwrite --quiet; tail -n 2 "$OUT/$dir/metrics.jsonl"; }

train lenet5 --model lenet5 --data mnist --epochs 3 --schedule cosine
for s in 0 1 2; do train ae-s$s --model autoencoder --data fashion-mnist --epochs 1 --seed $s; done
train cae-denoise --model conv-autoencoder --data fashion-mnist --epochs 5 --denoise 0.3
train vae2 --model vae --latent 2 --data mnist --epochs 10
train vae16 --model vae --latent 16 --data mnist --epochs 10
train gan --model gan --data mnist --epochs 20
train dcgan --model dcgan --data mnist --epochs 5
for m in gan dcgan vae16 vae2; do
  run "$NABLA" sample --checkpoint "$OUT/$m/model.safetensors" --n 1000 --seed 0 --out "$OUT/$m/judged.png" \
    --judge "$OUT/lenet5/model.safetensors"
done
