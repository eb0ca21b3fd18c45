#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Active-learning benchmark, called by scripts/bench.sh active [--quick] [options of osbi_bench_active]:
# NSF NPE trained in rounds on draws of the prior or of TSNPE's truncated prior (bench_active.cpp), C2ST for sbibm's
# observation 1 after each round; simulations and wall time until each proposal reaches a common target C2ST
# (summarize.py). The tasks run as parallel one-thread processes (as many as cores).
# --quick: 4 rounds of 1 000 simulations (default 6 rounds of 1 000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
options=()
for arg in "$@"; do
  case "$arg" in
    --quick) options+=(--rounds 4) ;;
    *) options+=("$arg") ;;
  esac
done
command -v bzcat >/dev/null || { echo "[bench active] needs bzcat (Debian package bzip2)" >&2; exit 1; }
printf '%s\n' two_moons lotka_volterra |
  xargs -P "$(nproc)" -I{} env OMP_NUM_THREADS=1 sh -c \
    '"$0" --tasks {} "$@" > "$OSBI_BENCH_RESULTS/ours-{}.txt" 2> "$OSBI_BENCH_RESULTS/ours-{}.log"' \
    "$OSBI_BENCH_BINARY" "${options[@]}"
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS"
