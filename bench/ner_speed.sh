#!/usr/bin/env bash
# Training speed of the ner Transformer (issue 12), nabla against PyTorch in one run: sentences
# per second of training (batch 32 of the sotu NER split, Adam, dropout on), nabla at 1 and 2
# threads over one epoch of an evenly spaced slice, PyTorch 1.13 (bench/ner_torch.py --time-only,
# the twin model, the same batches' sizes) at 1 and 2 threads; the ratio puts each at its best
# setting, then both at one thread.
#   bash bench/ner_speed.sh [path/to/nabla] [sentences]      (default build/nabla, 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
NABLA=${1:-build/nabla}
N=${2:-2000}
T=$(mktemp -d /tmp/nabla_nerspeed_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
rate() { sed -n 's/.*"samples_per_s": \([0-9.]*\).*/\1/p' "$1/metrics.jsonl" | tail -1; }
declare -A NB PT
for th in 1 2; do
  "$NABLA" train --model ner --data sotu --epochs 1 --limit-train "$N" --limit-test 32 --threads "$th" --quiet \
    --out "$T/n$th" >/dev/null
  NB[$th]=$(rate "$T/n$th")
done
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 bench/ner_torch.py ner --data data/sotu --time-only $((N / 32)) --threads 1,2 --json "$T/pt.json" \
    --quiet >/dev/null
  for th in 1 2; do
    PT[$th]=$(/usr/bin/python3 -c "import json,sys; r=[x for x in json.load(open('$T/pt.json'))['timing'] if x['threads']==$th][0]; print('%.1f' % r['sentences_per_s'])")
  done
else
  echo "PyTorch (python3-torch) is missing: nabla's figures only"
fi
printf '%-6s %14s %14s %14s %14s %18s %10s\n' model "nabla 1t" "nabla 2t" "PyTorch 1t" "PyTorch 2t" "best vs best" "1t vs 1t"
best() { awk -v a="$1" -v b="$2" 'BEGIN{print (a > b ? a : b)}'; }
if [ -n "${PT[1]:-}" ]; then
  nb=$(best "${NB[1]}" "${NB[2]}") pt=$(best "${PT[1]}" "${PT[2]}")
  printf '%-6s %14s %14s %14s %14s %18s %10s\n' ner "${NB[1]}" "${NB[2]}" "${PT[1]}" "${PT[2]}" \
    "$(awk -v a="$pt" -v b="$nb" 'BEGIN{printf "%.2f", a / b}')" "$(awk -v a="${PT[1]}" -v b="${NB[1]}" 'BEGIN{printf "%.2f", a / b}')"
  echo "(sentences of training per second; the ratios are nabla's time over PyTorch's: below 1, nabla is faster)"
else
  printf '%-6s %14s %14s\n' ner "${NB[1]}" "${NB[2]}"
fi
