#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Vector field benchmark, called by scripts/bench.sh vector-field [--quick]: our flow matching (FMPE) and score
# diffusion (NPSE) against the real sbi 0.27 (PyPI, torch on the CPU, one thread, same machine): training-step
# samples/s at batch 200, posterior draws/s with each side's default sampler, a whole two_moons 10⁴ run, and C2ST
# against sampler steps (a PNG). The peer's virtual environment is created on first use by sbi_env.sh (cached
# outside the repo, like Kokkos); OSBI_SKIP_SBI=1 runs our side alone. The two sides run one after the other, never
# beside each other (a second process would halve the figures of both on a 2-core machine).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
quick=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    *) echo "[bench vector-field] unknown option $arg" >&2; exit 2 ;;
  esac
done
results=$OSBI_BENCH_RESULTS
OMP_NUM_THREADS=1 "$OSBI_BENCH_BINARY" "${quick[@]}" > "$results/ours.txt" 2> "$results/ours.log" || {
  tail -5 "$results/ours.log" >&2; exit 1; }
# Where our training step's time goes (not timed: the kernel callbacks cost a clock read per launch).
OMP_NUM_THREADS=1 "$OSBI_BENCH_BINARY" --sections profile > "$results/profile.txt" 2>> "$results/ours.log" || {
  tail -5 "$results/ours.log" >&2; exit 1; }
py=""
if [ "${OSBI_SKIP_SBI:-0}" != 1 ]; then
  py=$("$here/sbi_env.sh") || { echo "[bench vector-field] no sbi 0.27 environment: our figures alone" >&2; py=""; }
fi
if [ -n "$py" ]; then
  if "$py" "$here/peer_sbi.py" "${quick[@]}" --out "$results/sbi" > "$results/sbi.jsonl" 2> "$results/sbi.log"; then
    # sbi's two_moons draws scored by our C2ST against the same reference as ours.
    draws=("$results"/sbi/sbi_*_two_moons_obs1.npy)
    [ -e "${draws[0]}" ] && "$OSBI_BENCH_BINARY" --c2st "${draws[@]}" > "$results/sbi-c2st.txt" 2>> "$results/ours.log"
  else
    tail -5 "$results/sbi.log" >&2; echo "[bench vector-field] the sbi peer failed: our figures alone" >&2
  fi
fi
# The plot needs matplotlib, which the peer's environment has (sbi depends on it); the table needs nothing.
plot_python=${py:-python3}
"$plot_python" "$here/summarize.py" "$results"
