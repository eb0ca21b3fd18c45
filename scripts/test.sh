#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what osbi needs, builds it with its tests and runs the suite in three stages, all with warnings
# as errors: a Release build of the examples, the static checks, the installed-package consumer test and
# the test areas that hold statistical cases (all their cases); then every test area under
# AddressSanitizer + UndefinedBehaviorSanitizer, without the statistical cases; then the concurrent tests
# (the sample buffer, the online pipeline) once more under ThreadSanitizer. So every case runs once at
# least, and the areas without statistical cases are not compiled a second time for the Release stage
# (on 2 cores the whole suite took longer than CI's 90 minutes when both stages built everything).
#
# The Release stage compiles at -O2 (what distributions build with): on 2 cores -O3 took a third longer to
# compile the tests. The files that hold only statistical cases (tests/*/*_statistical.cpp: the long
# trainings) compile at -O3 there, and the timed code (examples, benchmarks) gets -O3 -march=native in
# the builds of scripts/demo.sh and scripts/bench.sh.
# The sanitizer builds use -O1 -g1 (ASan's recommended level; line tables for the reports): they compile in
# half the time of -O2 -g. Their runs skip the test cases labelled `statistical` (long trainings that
# check accuracy, e.g. two_moons C2ST), and they do not compile the files that hold only such cases
# (tests/*/*_statistical.cpp): the Release stage runs those, and each names the shorter test that takes the
# same code path under the sanitizers (README.md).
# UBSan runs without its null and alignment checks: they instrument every member access and doubled the
# compile time of a test file (232 s against 118 s for test_layers.cpp); ASan already reports a null
# dereference, and a misaligned vector load faults in every build. ASan runs without use-after-scope
# (-fno-sanitize-address-use-after-scope): its poisoning of every scoped local cost a quarter of the stage's
# compile time (test_adam.cpp 42 s against 31 s), and the stage took 36 of CI's 90 minutes on 2 cores.
# Heap, global and stack-buffer overflows, use-after-free and leaks are still reported.
#
#   scripts/test.sh                 all three
#   scripts/test.sh --no-tsan       Release and ASan/UBSan, no ThreadSanitizer stage
#   scripts/test.sh --no-sanitize   the Release configuration only, every test area (quick local loop)
#   OSBI_BUILD_DIR=...              where the builds go (default: build/ in the checkout)
#   OSBI_STRESS_OPS=...             operations per buffer stress configuration (TSan stage: 10^5)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=1
tsan=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    --no-tsan) tsan=0 ;;
    *) echo "usage: scripts/test.sh [--no-sanitize] [--no-tsan]" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
kokkos_root=$("$root/scripts/install-deps.sh")
build=${OSBI_BUILD_DIR:-$root/build}
jobs=${OSBI_JOBS:-$(nproc)}
kokkos_arg=()
[ -n "$kokkos_root" ] && kokkos_arg=(-DKokkos_ROOT="$kokkos_root")

stage_done() { echo "=== osbi: $1 done at $(( $(date +%s) - start )) s ==="; }

run_suite() { # name, extra cmake args...
  local name=$1; shift
  echo "=== osbi: $name build ==="
  cmake -S "$root" -B "$build/$name" "${kokkos_arg[@]}" -DOSBI_BUILD_BENCHMARKS=OFF "$@"
  cmake --build "$build/$name" -j "$jobs"
  stage_done "$name build"
  echo "=== osbi: $name tests ==="
  (cd "$build/$name" && ctest --output-on-failure -j "$jobs" --timeout 900)
  stage_done "$name tests"
}

sanitizer_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")

release_scope=statistical
[ "$sanitize" = 1 ] || release_scope=all
run_suite release -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DOSBI_ENABLE_MPI=ON \
          -DOSBI_TEST_SCOPE=$release_scope
if [ "$sanitize" = 1 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # Boost.Test's --run_test as an environment variable: every test case except those labelled statistical.
  # MPI on: the MPI tests (every rank count) run under ASan/UBSan too.
  BOOST_TEST_RUN_FILTERS='!@statistical' run_suite sanitize "${sanitizer_flags[@]}" -DOSBI_SANITIZE=address,undefined -DOSBI_ENABLE_MPI=ON \
            -DCMAKE_CXX_FLAGS=-fno-sanitize-address-use-after-scope -DOSBI_NO_SANITIZE=null,alignment \
            -DOSBI_STATISTICAL_TESTS=OFF -DOSBI_STATIC_CHECKS=OFF -DOSBI_BUILD_EXAMPLES=OFF
fi
if [ "$sanitize" = 1 ] && [ "$tsan" = 1 ]; then
  # Only the executables whose threads share memory: everything else is single-threaded apart from
  # OpenMP. libgomp is not built with -fsanitize=thread, so TSan cannot see its barriers and flags
  # every parallel region with more than one thread (64 false reports in test_core at 2 threads);
  # with OMP_NUM_THREADS=1 there are none, and no suppression hides a real race in a kernel body.
  targets=(test_buffer)
  tests=buffer
  if [ -d "$root/tests/online" ]; then
    targets+=(test_online)
    tests="$tests|online"
  fi
  echo "=== osbi: tsan build (${targets[*]}) ==="
  cmake -S "$root" -B "$build/tsan" "${kokkos_arg[@]}" -DOSBI_BUILD_BENCHMARKS=OFF "${sanitizer_flags[@]}" \
        -DOSBI_SANITIZE=thread -DOSBI_STATISTICAL_TESTS=OFF -DOSBI_STATIC_CHECKS=OFF -DOSBI_BUILD_EXAMPLES=OFF
  cmake --build "$build/tsan" -j "$jobs" --target "${targets[@]}"
  stage_done "tsan build"
  echo "=== osbi: tsan tests ==="
  # As the ASan/UBSan stage, without the statistical trainings (under TSan a two_moons run takes tens of minutes).
  (cd "$build/tsan" && OMP_NUM_THREADS=1 OSBI_STRESS_OPS=${OSBI_STRESS_OPS:-100000} BOOST_TEST_RUN_FILTERS='!@statistical' \
     TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
     ctest --output-on-failure -j "$jobs" --timeout 900 -R "^($tests)\$")
fi
echo "=== osbi: all suites passed in $(( $(date +%s) - start )) s ==="
