#!/usr/bin/env bash
# Checks the shared library's interface: SONAME libnabla.so.0, and every exported (dynamic,
# defined) symbol is public API: it starts with nb_ and not nb__ (the internals shared across
# files). The linker's own markers (_init, _fini, _edata, __bss_start, _end) are allowed.
# Usage: check_exports.sh path/to/libnabla.so
set -euo pipefail
lib=${1:?usage: check_exports.sh libnabla.so}
fail() { echo "check_exports: $lib: $*" >&2; exit 1; }

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libnabla.so.0 ] || fail "SONAME is '${soname}', expected libnabla.so.0"

syms=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u)
internal=$(grep '^nb__' <<<"$syms" || true)
foreign=$(grep -v '^nb_' <<<"$syms" | grep -v -x -E '_init|_fini|_edata|__bss_start|_end' || true)
[ -z "$internal" ] || fail "exports $(wc -l <<<"$internal") internal nb__ symbols:
$(head -20 <<<"$internal")"
[ -z "$foreign" ] || fail "exports $(wc -l <<<"$foreign") symbols without the nb_ prefix:
$(head -20 <<<"$foreign")"
# The public API is still there (the version script hides nothing it should export).
for s in nb_tensor_new nb_matmul nb_backward nb_last_error nb_step_reset; do
  grep -q -x "$s" <<<"$syms" || fail "public function $s is not exported"
done
echo "check_exports: $(grep -c . <<<"$syms") exported symbols, all nb_ public API; SONAME $soname"
