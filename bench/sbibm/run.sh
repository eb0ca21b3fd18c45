#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sbibm benchmark, called by scripts/bench.sh sbibm [--quick] [--estimator centered-nsf|nsf|maf|fmpe|npse] [--budgets ...]:
# NPE on gaussian_linear, two_moons and lotka_volterra at 10³, 10⁴, 10⁵ simulations, C2ST on
# observations 1..10 against sbibm's reference samples, tabulated next to sbibm's published NPE.
# The tasks run as parallel one-thread processes (as many as cores). Then the training throughput
# against the PyTorch peer (bench/npe). --quick: budget 10⁴ and observations 1..3 only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) options+=(--budgets 10000 --observations 1-3) ;;
    *) options+=("$1") ;;
  esac
  shift
done
command -v bzcat >/dev/null || { echo "[bench sbibm] needs bzcat (Debian package bzip2)" >&2; exit 1; }
jobs=$(nproc)
printf '%s\n' gaussian_linear two_moons lotka_volterra |
  xargs -P "$jobs" -I{} env OMP_NUM_THREADS=1 sh -c \
    '"$0" --tasks {} "$@" > "$OSBI_BENCH_RESULTS/ours-{}.txt" 2> "$OSBI_BENCH_RESULTS/ours-{}.log"' \
    "$OSBI_BENCH_BINARY" "${options[@]}"
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS" "$here/../../data/sbibm/main_paper.csv"

# Training throughput (npe.maf_sbi.train_speedup_vs_torch), in its own results folder.
npe_results="$OSBI_BENCH_RESULTS/npe"
mkdir -p "$npe_results"
OSBI_BENCH_BINARY="$(dirname "$OSBI_BENCH_BINARY")/osbi_bench_npe" OSBI_BENCH_RESULTS="$npe_results" \
  "$here/../npe/run.sh" --quick | tee "$npe_results/summary.txt" | grep -v '^RESULT' >&2 || true
grep '^RESULT' "$npe_results/summary.txt" || true
