#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nn benchmarks, called by scripts/bench.sh nn. Interleaves ours and the PyTorch peer (ours, peer,
# ours) because this machine drifts by up to ±20 % between periods; our figure is the mean of the
# two runs, the peer's the median of its own repeats.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
threads=$(nproc)
peer=()
if [ -f "$OSBI_PEER_DIR/peer_torch_layers.py" ]; then
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "[bench nn] installing the peer's Debian packages: python3-torch libopenblas0-openmp" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq python3-torch libopenblas0-openmp >&2; else sudo apt-get install -y -qq python3-torch libopenblas0-openmp >&2; fi
  fi
  peer=(1 "$threads")
fi

OMP_NUM_THREADS=$threads "$OSBI_BENCH_BINARY" > "$OSBI_BENCH_RESULTS/ours-1.txt"
for t in "${peer[@]}"; do
  /usr/bin/python3 "$OSBI_PEER_DIR/peer_torch_layers.py" --threads "$t" --json "$OSBI_BENCH_RESULTS/peer-$t.json" \
    > "$OSBI_BENCH_RESULTS/peer-$t.txt"
done
[ ${#peer[@]} -gt 0 ] && OMP_NUM_THREADS=$threads "$OSBI_BENCH_BINARY" > "$OSBI_BENCH_RESULTS/ours-2.txt"
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS"
