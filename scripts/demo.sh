#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what osbi needs, builds the examples and runs the flagship end to end.
# Output (summaries, .npy files, plots) goes to ${OSBI_DEMO_OUT:-demo-output/}. Extra arguments go
# to the example.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kokkos_root=$("$root/scripts/install-deps.sh")
build=${OSBI_BUILD_DIR:-$root/build}/demo
out=${OSBI_DEMO_OUT:-$root/demo-output}
kokkos_arg=()
[ -n "$kokkos_root" ] && kokkos_arg=(-DKokkos_ROOT="$kokkos_root")

cmake -S "$root" -B "$build" "${kokkos_arg[@]}" -DCMAKE_BUILD_TYPE=Release -DOSBI_BUILD_TESTS=OFF \
      -DOSBI_BUILD_BENCHMARKS=OFF -DOSBI_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target osbi_example_01_prior_and_simulators
mkdir -p "$out"
export OMP_PROC_BIND=${OMP_PROC_BIND:-false}
"$build/examples/01_prior_and_simulators/osbi_example_01_prior_and_simulators" --output "$out" "$@"
