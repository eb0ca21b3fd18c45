#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what osbi needs, builds it with its tests and runs the whole suite twice: a Release build
# with warnings as errors (plus the static checks and the installed-package consumer test), then a
# build under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/test.sh                 both configurations
#   scripts/test.sh --no-sanitize   the Release configuration only (quick local loop)
#   OSBI_BUILD_DIR=...              where the builds go (default: build/ in the checkout)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    *) echo "usage: scripts/test.sh [--no-sanitize]" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
kokkos_root=$("$root/scripts/install-deps.sh")
build=${OSBI_BUILD_DIR:-$root/build}
jobs=${OSBI_JOBS:-$(nproc)}
kokkos_arg=()
[ -n "$kokkos_root" ] && kokkos_arg=(-DKokkos_ROOT="$kokkos_root")

run_suite() { # name, extra cmake args...
  local name=$1; shift
  echo "=== osbi: $name build ==="
  cmake -S "$root" -B "$build/$name" "${kokkos_arg[@]}" -DOSBI_BUILD_BENCHMARKS=OFF "$@"
  cmake --build "$build/$name" -j "$jobs"
  echo "=== osbi: $name tests ==="
  (cd "$build/$name" && ctest --output-on-failure -j "$jobs" --timeout 900)
}

run_suite release -DCMAKE_BUILD_TYPE=Release -DOSBI_ENABLE_MPI=ON
if [ "$sanitize" = 1 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_suite sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOSBI_SANITIZE=address,undefined \
            -DOSBI_STATIC_CHECKS=OFF -DOSBI_BUILD_EXAMPLES=OFF
fi
echo "=== osbi: all suites passed in $(( $(date +%s) - start )) s ==="
