#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# npe benchmarks, called by scripts/bench.sh npe [--quick]:
#  1. training-step throughput of the MAF, the NSF and the centered NSF, ours (1 thread) and the PyTorch peer's
#     MAF (../shared/bench/peer_torch_npe.py --sections throughput, 1 thread) interleaved ours, peer, ours (our
#     figure is the mean of the two runs);
#  1b. where one step's time goes, per Kokkos kernel label (our steps only, after their timing);
#  2. unless --quick, a whole two_moons 10⁴ run (simulate, train, 10 000 draws, C2ST) of our MAF and centered NSF;
#  3. the real sbi 0.27 (PyPI, torch on the CPU, one thread; peer_sbi_npe.py): its MAF and NSF steps and, unless
#     --quick, its whole runs, whose draws we score with the same C2ST. Its environment is created on first use by
#     bench/vector_field/sbi_env.sh (cached outside the repo); OSBI_SKIP_SBI=1 leaves it out.
# Every part runs alone, never beside another (a second process would halve both on a 2-core machine).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "[bench npe] unknown option $arg" >&2; exit 2 ;;
  esac
done
results=$OSBI_BENCH_RESULTS
have_peer=0
if [ -f "$OSBI_PEER_DIR/peer_torch_npe.py" ]; then
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "[bench npe] installing the peer's Debian packages: python3-torch libopenblas0-openmp" >&2
    "$here/../../scripts/apt-install.sh" python3-torch libopenblas0-openmp
  fi
  have_peer=1
fi
export OMP_NUM_THREADS=1
"$OSBI_BENCH_BINARY" --sections steps > "$results/ours-1.txt"
if [ "$have_peer" = 1 ]; then
  for task in two_moons gaussian_linear; do
    /usr/bin/python3 "$OSBI_PEER_DIR/peer_torch_npe.py" --task "$task" --threads 1 --sections throughput \
      --json "$results/peer-$task.json" > "$results/peer-$task.txt" 2>&1
  done
  "$OSBI_BENCH_BINARY" --sections steps > "$results/ours-2.txt"
fi
"$OSBI_BENCH_BINARY" --sections profile > "$results/profile.txt"
[ "$quick" = 1 ] || "$OSBI_BENCH_BINARY" --sections run > "$results/ours-run.txt"
if [ "${OSBI_SKIP_SBI:-0}" != 1 ]; then
  if py=$("$here/../vector_field/sbi_env.sh"); then
    run_option=()
    [ "$quick" = 1 ] && run_option=(--no-run)
    if "$py" "$here/peer_sbi_npe.py" "${run_option[@]}" --out "$results/sbi" > "$results/sbi.jsonl" 2> "$results/sbi.log"; then
      draws=("$results"/sbi/*.npy)
      [ -e "${draws[0]}" ] && "$OSBI_BENCH_BINARY" --c2st "${draws[@]}" > "$results/sbi-c2st.txt"
    else
      tail -5 "$results/sbi.log" >&2
      echo "[bench npe] the sbi peer failed: the sbi comparison is left out" >&2
    fi
  else
    echo "[bench npe] no sbi 0.27 environment: the sbi comparison is left out" >&2
  fi
fi
python3 "$here/summarize.py" "$results"
