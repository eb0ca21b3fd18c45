#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# gpu benchmarks (#17), called by scripts/bench.sh gpu, or without a cmake build at hand:
#   OSBI_BENCH_BINARY=/path/osbi_bench_gpu OSBI_BENCH_RESULTS=/dir bench/gpu/run.sh [--quick]
# Runs ours (Kokkos' default space), then the in-repo PyTorch peer under ${OSBI_GPU_PYTHON:-python3}
# on the GPU when torch sees one (else on the CPU), then summarize.py. Options go to the peer
# (--quick: no batch 65536). A side that fails, or runs past $OSBI_GPU_TIMEOUT seconds (default 240),
# is reported and the rest is still summarized.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${OSBI_BENCH_BINARY:?set OSBI_BENCH_BINARY to the osbi_bench_gpu executable}"
results=${OSBI_BENCH_RESULTS:-$PWD/gpu-results}
mkdir -p "$results"
rm -f "$results/ours.txt" "$results/peer.json" "$results/peer.txt"

limit=${OSBI_GPU_TIMEOUT:-240}
timeout "$limit" "$OSBI_BENCH_BINARY" > "$results/ours.txt" || echo "[bench gpu] ours exited with status $?" >&2

python=${OSBI_GPU_PYTHON:-python3}
# Debian's python3-torch lives in the system interpreter, which a pyenv python3 may hide.
if [ -z "${OSBI_GPU_PYTHON:-}" ] && ! python3 -c "import torch" 2>/dev/null &&
   /usr/bin/python3 -c "import torch" 2>/dev/null; then
  python=/usr/bin/python3
fi
if cuda=$("$python" -c 'import torch; print(torch.cuda.is_available())' 2>/dev/null); then
  device=cpu
  [ "$cuda" = True ] && device=cuda
  timeout "$limit" "$python" "$here/peer_torch_gpu.py" --device "$device" --json "$results/peer.json" "$@" \
    > "$results/peer.txt" ||
    echo "[bench gpu] the torch peer exited with status $?" >&2
else
  echo "[bench gpu] no torch under $python: our figures alone" >&2
fi
python3 "$here/summarize.py" "$results"
