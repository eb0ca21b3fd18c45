#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Active-learning benchmark, called by scripts/bench.sh active [--quick] [options of osbi_bench_active]: on two_moons
# and lotka_volterra (osbi_bench_active also has gaussian_linear_narrow: noise σ = 0.01, an exact reference posterior;
# its 10-D C2ST takes minutes per round, and the centered NSF reaches 0.54 there from 1 000 prior draws),
# NPE (centered NSF) trained in rounds on draws of the prior, TSNPE's truncated prior, the Breed-like proposal or the
# region bandit (bench_active.cpp), C2ST for observation 1 after each round; simulations and wall time until each proposal reaches a common target C2ST
# (summarize.py), from the mean C2ST over seeds OSBI_ACTIVE_SEEDS (default "1 2"). Each (task, seed) is one
# one-thread process, as many at once as cores. --quick: 4 rounds of 1 000 simulations, one seed (default 6 rounds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
options=()
seeds=${OSBI_ACTIVE_SEEDS:-1 2}
for arg in "$@"; do
  case "$arg" in
    --quick) options+=(--rounds 4); seeds=1 ;;
    *) options+=("$arg") ;;
  esac
done
command -v bzcat >/dev/null || { echo "[bench active] needs bzcat (Debian package bzip2)" >&2; exit 1; }
# The options are plain tokens (no spaces): they reach each process through the environment.
export OSBI_ACTIVE_OPTIONS="${options[*]}"
for task in two_moons lotka_volterra; do for seed in $seeds; do echo "$task $seed"; done; done |
  xargs -P "$(nproc)" -L 1 env OMP_NUM_THREADS=1 bash -c \
    '"$OSBI_BENCH_BINARY" --tasks "$0" --seed "$1" $OSBI_ACTIVE_OPTIONS > "$OSBI_BENCH_RESULTS/ours-$0-$1.txt" 2> "$OSBI_BENCH_RESULTS/ours-$0-$1.log"'
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS"
