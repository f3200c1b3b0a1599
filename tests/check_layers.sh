#!/usr/bin/env bash
# The layering of docs/architecture.md, checked on the built objects: a folder of src/ may use
# only symbols defined in its own folder or in folders below it.
# usage: check_layers.sh BUILD/CMakeFiles/nabla_obj.dir/src SOURCE/src
# (objects whose source file is gone, left by an older build, are ignored)
set -uo pipefail
src=$2
cd "$1" || exit 1
objects() { for o in "$1"/*.o; do [ -f "$src/${o%.o}" ] && echo "$o"; done; }
# Bottom to top; folders on one line form one layer (autograd and ops use each other).
order=("core" "kernels" "autograd ops" "nn" "optim" "data" "metrics plot" "train" "io" "dist")
declare -A rank
for i in "${!order[@]}"; do for d in ${order[$i]}; do rank[$d]=$i; done; done
declare -A where
for d in */; do
  d=${d%/}
  [ -n "${rank[$d]+x}" ] || { echo "check_layers: src/$d is not in the layer order of this script"; exit 1; }
  for o in $(objects "$d"); do
    while read -r s; do where[$s]=$d; done < <(nm --defined-only "$o" | awk '$2 ~ /^[TDBR]$/ {print $3}')
  done
done
bad=0 uses=0
for d in */; do
  d=${d%/}
  for o in $(objects "$d"); do
    while read -r s; do
      def=${where[$s]:-}
      [ -n "$def" ] && [ "$def" != "$d" ] || continue
      uses=$((uses + 1))
      if [ "${rank[$def]}" -gt "${rank[$d]}" ]; then
        echo "upward arrow: src/$d (${o#*/}) uses $s from src/$def"
        bad=$((bad + 1))
      fi
    done < <(nm -u "$o" | awk '{print $2}')
  done
done
echo "check_layers: $uses uses across folders, $bad upward"
[ "$uses" -gt 0 ] && [ "$bad" -eq 0 ]
