#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# online benchmarks, called by scripts/bench.sh online [options of osbi_bench_online]: buffer overhead
# per sample (1, 2, 4 producers), time to accuracy online vs offline on two_moons (1 ms and 10 ms per
# simulation) and on the advection–diffusion flagship, and the flagship's trainer idle fraction.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v bzcat >/dev/null || { echo "[bench online] needs bzcat (Debian package bzip2)" >&2; exit 1; }
# One OpenMP thread: the simulation workers and the trainer (Kokkos::Serial) share the cores.
OMP_NUM_THREADS=1 "$OSBI_BENCH_BINARY" "$@" | tee "$OSBI_BENCH_RESULTS/ours.txt" >&2
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS"
