#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The GPU compile check (#17): configures and builds the whole tree (every header through
# tests/compile, the tests, examples and benchmarks) with nvcc against a CUDA-enabled Kokkos >= 4,
# warnings as errors for both the host compiler and nvcc. Needs no GPU and runs nothing; ends with
# `RESULT gpu.cuda_build.ok 1` (0 when the build fails).
#
#   Kokkos_ROOT=/path/to/kokkos-with-cuda scripts/check-cuda.sh [build-dir]   (default build/cuda)
#
# Bring the Kokkos yourself (this script never fetches or builds one), e.g. from Kokkos' source:
#   cmake -S kokkos -B kokkos-build -DCMAKE_CXX_COMPILER=$PWD/kokkos/bin/nvcc_wrapper -DCMAKE_CXX_STANDARD=20 \
#         -DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_OPENMP=ON -DKokkos_ARCH_HOPPER90=ON -DCMAKE_INSTALL_PREFIX=...
# (add -DKokkos_ENABLE_IMPL_VIEW_LEGACY=ON to a Kokkos 4.6.99 develop snapshot: README, GPUs).
# OSBI_CUDA_ARCH (default sm_90, Hopper) is the architecture of CMake's own compiler checks, which run
# before Kokkos adds the -arch of the Kokkos_ARCH_* it was built with: keep the two the same.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/cuda}
: "${Kokkos_ROOT:?set Kokkos_ROOT to a Kokkos >= 4 install built with Kokkos_ENABLE_CUDA=ON}"
config="$Kokkos_ROOT/include/KokkosCore_config.h"
if ! grep -q "^#define KOKKOS_ENABLE_CUDA$" "$config" 2>/dev/null; then
  echo "check-cuda: $config does not enable CUDA; this check needs a CUDA-enabled Kokkos" >&2
  echo "RESULT gpu.cuda_build.ok 0"
  exit 1
fi
wrapper="$Kokkos_ROOT/bin/nvcc_wrapper"
[ -x "$wrapper" ] || { echo "check-cuda: no $wrapper" >&2; echo "RESULT gpu.cuda_build.ok 0"; exit 1; }
arch=${OSBI_CUDA_ARCH:-sm_90}
export NVCC_WRAPPER_DEFAULT_ARCH=$arch # honoured by wrappers that read it; the flag below covers the rest
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
status=0
# Native host ISA off: these binaries are for a GPU node, whose CPU may differ from the build machine's.
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$wrapper" \
      -DCMAKE_CXX_FLAGS="-arch=$arch" -DKokkos_ROOT="$Kokkos_ROOT" -DOSBI_WARNINGS_AS_ERRORS=ON \
      -DOSBI_NATIVE_ARCH=OFF -DOSBI_BUILD_TESTS=ON -DOSBI_BUILD_EXAMPLES=ON -DOSBI_BUILD_BENCHMARKS=ON || status=$?
if [ "$status" = 0 ]; then
  cmake --build "$build" -j "${OSBI_BUILD_JOBS:-$(nproc)}" || status=$?
fi
if [ "$status" = 0 ]; then
  echo "check-cuda: the whole tree builds with nvcc against $Kokkos_ROOT ($arch), warnings as errors"
  echo "RESULT gpu.cuda_build.ok 1"
else
  echo "check-cuda: the CUDA build failed (status $status)" >&2
  echo "RESULT gpu.cuda_build.ok 0"
fi
exit "$status"
