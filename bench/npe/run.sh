#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# npe benchmarks, called by scripts/bench.sh npe: MAF training-step throughput, ours (1 thread) and
# the PyTorch peer (../shared/bench/peer_torch_npe.py --sections throughput, 1 thread) interleaved
# ours, peer, ours; our figure is the mean of the two runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
have_peer=0
if [ -f "$OSBI_PEER_DIR/peer_torch_npe.py" ]; then
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "[bench npe] installing the peer's Debian packages: python3-torch libopenblas0-openmp" >&2
    "$here/../../scripts/apt-install.sh" python3-torch libopenblas0-openmp
  fi
  have_peer=1
fi
OMP_NUM_THREADS=1 "$OSBI_BENCH_BINARY" > "$OSBI_BENCH_RESULTS/ours-1.txt"
if [ "$have_peer" = 1 ]; then
  for task in two_moons gaussian_linear; do
    /usr/bin/python3 "$OSBI_PEER_DIR/peer_torch_npe.py" --task "$task" --threads 1 --sections throughput \
      --json "$OSBI_BENCH_RESULTS/peer-$task.json" > "$OSBI_BENCH_RESULTS/peer-$task.txt" 2>&1
  done
  OMP_NUM_THREADS=1 "$OSBI_BENCH_BINARY" > "$OSBI_BENCH_RESULTS/ours-2.txt"
fi
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS"
