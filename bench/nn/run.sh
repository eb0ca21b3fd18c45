#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nn benchmarks, called by scripts/bench.sh nn. Runs ours and the PyTorch peer three times each,
# interleaved (ours, peer, ours, peer, ...), and summarize.py keeps each side's best run per case:
# this machine drifts between periods, by up to ±20 % in clock, and its two vCPUs sometimes sit for
# seconds in a state where every fork/join costs several microseconds more, which slows the small
# 2-thread cases of both sides 2-3× (1-thread cases are immune). The peer's figure per run is the
# median of its own repeats.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
threads=$(nproc)
peer=()
if [ -f "$OSBI_PEER_DIR/peer_torch_layers.py" ]; then
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "[bench nn] installing the peer's Debian packages: python3-torch libopenblas0-openmp" >&2
    "$here/../../scripts/apt-install.sh" python3-torch libopenblas0-openmp
  fi
  peer=(1 "$threads")
fi

# #14's transformer block peer: torch 2.x from PyPI (the sbi virtual environment), all threads.
attention_py=$("$here/../vector_field/sbi_env.sh")

for run in 1 2 3; do
  OMP_NUM_THREADS=$threads "$OSBI_BENCH_BINARY" > "$OSBI_BENCH_RESULTS/ours-$run.txt"
  for t in "${peer[@]}"; do
    /usr/bin/python3 "$OSBI_PEER_DIR/peer_torch_layers.py" --threads "$t" --json "$OSBI_BENCH_RESULTS/peer-$t-$run.json" \
      > "$OSBI_BENCH_RESULTS/peer-$t-$run.txt"
  done
  if [ -n "$attention_py" ]; then
    "$attention_py" "$here/peer_torch_attention.py" --threads "$threads" \
      --json "$OSBI_BENCH_RESULTS/peer-attention-$threads-$run.json" > "$OSBI_BENCH_RESULTS/peer-attention-$threads-$run.txt"
  fi
done
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS"
