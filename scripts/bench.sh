#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds and runs one area's benchmarks: scripts/bench.sh <area> [options for the area's runner].
# Each area's runner (bench/<area>/run.sh) ends with one `RESULT <dotted.name> <number>` line per
# headline figure. Results are also kept under bench/results/<area>-<timestamp>/.
#
#   scripts/bench.sh nn       dense layers and the sbi MADE block vs our FMA peak and the PyTorch peer
#   scripts/bench.sh npe      MAF / NSF training-step throughput vs the PyTorch peer and the real sbi 0.27
#   scripts/bench.sh sbibm    NPE C2ST on the sbibm tasks vs the published NPE (--quick: 10⁴, obs 1..3; --estimator fmpe|npse), + npe
#   scripts/bench.sh active   simulations to a target C2ST, NPE in rounds on the prior vs TSNPE's truncated prior (--quick)
#   scripts/bench.sh online   buffers per sample; online vs offline time to accuracy (two_moons, PDE flagship)
#   scripts/bench.sh vector-field  FMPE and NPSE vs sbi 0.27: training step, draws/s, two_moons run, C2ST vs steps (--quick)
#   scripts/bench.sh gpu      default space (CUDA): FMA peak, dense 4096x512x512, MAF training vs bench/gpu's torch peer
#   scripts/bench.sh mpi      under mpiexec: samples/s vs simulation ranks, gradient allreduce, message batching
#
# The PyTorch peer (../shared/bench, or $OSBI_PEER_DIR) runs only where it exists; without it the
# runner prints our own figures alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Areas are folders of bench/; a dash in the name stands for their underscore (vector-field = bench/vector_field).
area=${1:-}
area=${area//-/_}
[ -n "$area" ] && [ -x "$root/bench/$area/run.sh" ] || {
  echo "usage: scripts/bench.sh <area> [options]; areas: $(cd "$root/bench" && for d in */run.sh; do d=${d%/run.sh}; printf '%s ' "${d//_/-}"; done)" >&2
  exit 2
}
shift
kokkos_root=$("$root/scripts/install-deps.sh")
build=${OSBI_BUILD_DIR:-$root/build}/bench
kokkos_arg=()
[ -n "$kokkos_root" ] && kokkos_arg=(-DKokkos_ROOT="$kokkos_root")
mpi_arg=()
[ "$area" = mpi ] && mpi_arg=(-DOSBI_ENABLE_MPI=ON)
cmake -S "$root" -B "$build" "${kokkos_arg[@]}" "${mpi_arg[@]}" -DCMAKE_BUILD_TYPE=Release -DOSBI_BUILD_TESTS=OFF \
      -DOSBI_BUILD_EXAMPLES=OFF -DOSBI_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "osbi_bench_$area" >&2

peer_dir=${OSBI_PEER_DIR:-$root/../shared/bench}
results="$root/bench/results/$area-$(date +%Y%m%dT%H%M%S)"
mkdir -p "$results"
export OSBI_BENCH_BINARY="$build/bench/osbi_bench_$area" OSBI_BENCH_RESULTS="$results" OSBI_PEER_DIR="$peer_dir"
export OMP_PROC_BIND=${OMP_PROC_BIND:-false}
"$root/bench/$area/run.sh" "$@" | tee "$results/summary.txt"
