# Shared by the command-line test scripts (sourced): pass/fail counters and checks.
#   ok / bad MESSAGE      count a passed / failed check (bad prints MESSAGE)
#   check 'COND' MESSAGE  evaluates the shell condition COND
# shellcheck shell=bash
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
# The length of a safetensors file's JSON header: its first 8 bytes, little-endian.
st_header_len() {
  od -An -v -t u1 -N 8 "$1" | awk '{for (i = NF; i >= 1; i--) v = v * 256 + $i} END {print v + 0}'
}
