#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it as an outside project would: builds
# app.c with pkg-config (shared, static, and the whole static archive) and with
# find_package(nabla) (CMakeLists.txt here), runs each program and checks its output.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR C_COMPILER CBLAS_LIB [plain|sanitize]
set -euo pipefail
build=$1 src=$2 cc=$3 cblas=$4 mode=${5:-plain}
if [ "$mode" = sanitize ]; then
  echo "install_consumer: skipped in the sanitizer build (its libraries need the sanitizer" \
       "runtime loaded first, which an outside program does not do); the release build runs it"
  exit 77
fi
here=$src/tests/install
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "install_consumer: $*" >&2; exit 1; }
expected="sum 163 grad 3 7 11 3 7 11"
check_run() { # name, command...: runs it and compares its output with $expected
  local name=$1 out
  shift
  out=$("$@") || fail "$name: exited with status $?"
  [ "$out" = "$expected" ] || fail "$name: printed '$out', expected '$expected'"
  echo "install_consumer: $name: $out"
}

cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=
for d in "$prefix"/lib*/pkgconfig "$prefix"/lib/*/pkgconfig; do
  [ -f "$d/nabla.pc" ] && PKG_CONFIG_PATH=$d
done
[ -n "$PKG_CONFIG_PATH" ] || fail "no nabla.pc under $prefix"
libdir=$(pkg-config --variable=libdir nabla)
incdir=$(pkg-config --variable=includedir nabla)
for f in "$incdir/nabla/nabla.h" "$incdir/nabla/nn.h" "$libdir/libnabla.a" "$libdir/libnabla.so" \
         "$libdir/libnabla.so.0" "$libdir/cmake/nabla/nablaConfig.cmake" \
         "$libdir/cmake/nabla/nablaConfigVersion.cmake" "$prefix/bin/nabla"; do
  [ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done
[ "$(readlink "$libdir/libnabla.so")" = libnabla.so.0 ] || fail "libnabla.so does not link to libnabla.so.0"
"$prefix/bin/nabla" --help >/dev/null || fail "the installed nabla --help failed"
# The installed library loads the BLAS it was built with (OpenBLAS's OpenMP build, not the
# default pthread one that libopenblas.so.0 resolves to without its RUNPATH).
blas_dir=$(dirname "$(readlink -f "$cblas")")
if [[ $(basename "$cblas") == libopenblas* ]]; then
  loaded=$(ldd "$libdir/libnabla.so.0" | awk '/libopenblas/ { print $3 }')
  [ "$(dirname "$(readlink -f "$loaded")")" = "$blas_dir" ] ||
    fail "the installed libnabla.so.0 loads $loaded, not the BLAS in $blas_dir"
fi

# pkg-config, shared: needs libnabla.so.0 at run time.
# shellcheck disable=SC2046
"$cc" "$here/app.c" -o "$tmp/app_pc_shared" $(pkg-config --cflags --libs nabla)
readelf -d "$tmp/app_pc_shared" | grep -q 'NEEDED.*\[libnabla.so.0\]' ||
  fail "app_pc_shared does not need libnabla.so.0"
check_run pkg-config-shared env LD_LIBRARY_PATH="$libdir" "$tmp/app_pc_shared"
# pkg-config, static: the archive by name, then everything --static lists.
static_libs=$(pkg-config --static --libs nabla | sed 's/-lnabla\b/-l:libnabla.a/')
# shellcheck disable=SC2046,SC2086
"$cc" "$here/app.c" -o "$tmp/app_pc_static" $(pkg-config --cflags nabla) $static_libs
readelf -d "$tmp/app_pc_static" | grep -q 'libnabla' && fail "app_pc_static needs a shared libnabla"
check_run pkg-config-static "$tmp/app_pc_static"
# Every object of the archive resolves with what --static lists (not only those app.c pulls in).
whole=$(pkg-config --static --libs nabla | sed 's/-lnabla\b/-Wl,--whole-archive -l:libnabla.a -Wl,--no-whole-archive/')
# shellcheck disable=SC2046,SC2086
"$cc" "$here/app.c" -o "$tmp/app_pc_whole" $(pkg-config --cflags nabla) $whole ||
  fail "the whole libnabla.a does not link with 'pkg-config --static --libs nabla'"
check_run pkg-config-whole-archive "$tmp/app_pc_whole"

# CMake: find_package(nabla) with the prefix on CMAKE_PREFIX_PATH.
cmake -S "$here" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "configure with find_package(nabla) failed"; }
cmake --build "$tmp/cmake" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build with nabla::nabla failed"; }
check_run find_package-shared "$tmp/cmake/app_shared"
check_run find_package-static "$tmp/cmake/app_static"
