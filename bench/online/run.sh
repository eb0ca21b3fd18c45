#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# online benchmarks, called by scripts/bench.sh online [--quick] [options of osbi_bench_online]:
#   1. buffer overhead per sample (1, 2, 4 producers);
#   2. two_moons: time until C2ST <= 0.6, online vs offline at the same budget (1 ms, 10 ms per simulation);
#   3. the PDE flagship (examples/02) run offline (--offline) and online at the same budget and grid:
#      time until the validation NLL reaches a level both runs reach (the higher of the two best
#      values + 0.5 nats), and the online run's trainer idle fraction;
#   3b. the same online run paced (--max-replay-ratio 10: at most 10 samples trained per simulation arrived), and
#      plastic (--plasticity 0.5: each time the arrivals double, the parameters go half way back to their start);
#   3c. the simulation-bound PDE: the flagship at grid OSBI_PDE_SIMBOUND_GRID (default 128: one solve ≈ 60 ms on a core,
#      ~400× a training step's cost per sample) and budget OSBI_PDE_SIMBOUND_BUDGET (default 3000), offline with two
#      simulation workers and two training threads (the whole machine in each phase) vs online (one worker, one
#      training thread, at once), online paced (--max-replay-ratio 20) and online plastic (--plasticity 0.5);
#   3d. the online PDE runs of both regimes with the FIFO, FIRO and prioritized buffers (--buffer) instead of the reservoir;
#   4. the flagship online with the patch-transformer embedding (--embedding transformer) at the same budget:
#      its best validation NLL against the MLP embedding's (run 3's online run), and both wall times (#14).
# Environment: OSBI_PDE_GRID (default 96), OSBI_PDE_BUDGET (default 10000). --quick: buffer + two_moons
# at 10 ms + a 64-grid PDE with 4 000 simulations.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v bzcat >/dev/null || { echo "[bench online] needs bzcat (Debian package bzip2)" >&2; exit 1; }
options=()
grid=${OSBI_PDE_GRID:-96}
budget=${OSBI_PDE_BUDGET:-10000}
simbound_grid=${OSBI_PDE_SIMBOUND_GRID:-128}
simbound_budget=${OSBI_PDE_SIMBOUND_BUDGET:-3000}
for arg in "$@"; do
  case "$arg" in
    --quick) options+=(--costs 10); grid=64; budget=4000; simbound_budget=2000 ;;
    *) options+=("$arg") ;;
  esac
done
# One OpenMP thread: the simulation workers and the trainer share the two cores.
export OMP_NUM_THREADS=1
"$OSBI_BENCH_BINARY" "${options[@]}" | tee "$OSBI_BENCH_RESULTS/ours.txt" >&2
flagship="$(dirname "$OSBI_BENCH_BINARY")/osbi_bench_online_flagship"
for mode in offline online; do
  flag=(); [ "$mode" = offline ] && flag=(--offline)
  "$flagship" --grid "$grid" --budget "$budget" --output "$OSBI_BENCH_RESULTS/pde-$mode" "${flag[@]}" \
    > "$OSBI_BENCH_RESULTS/pde-$mode.txt"
  grep -v '^VALIDATION \|^IDLE ' "$OSBI_BENCH_RESULTS/pde-$mode.txt" | grep -v '^\[online\]' >&2 || true
  sed -n "s/^VALIDATION /PDE $mode /p; s/^IDLE /PDE_IDLE $mode /p" "$OSBI_BENCH_RESULTS/pde-$mode.txt" \
    >> "$OSBI_BENCH_RESULTS/ours.txt"
done
sed -n "s/^VALIDATION /PDE_EMBEDDING mlp /p" "$OSBI_BENCH_RESULTS/pde-online.txt" >> "$OSBI_BENCH_RESULTS/ours.txt"
for mode in paced plastic; do
  flag=(--max-replay-ratio 10); [ "$mode" = plastic ] && flag=(--plasticity 0.5)
  "$flagship" --grid "$grid" --budget "$budget" "${flag[@]}" --output "$OSBI_BENCH_RESULTS/pde-$mode" \
    > "$OSBI_BENCH_RESULTS/pde-$mode.txt"
  sed -n "s/^VALIDATION /PDE $mode /p; s/^IDLE /PDE_IDLE $mode /p" "$OSBI_BENCH_RESULTS/pde-$mode.txt" >> "$OSBI_BENCH_RESULTS/ours.txt"
done
for mode in offline online paced plastic; do
  flag=(); threads=1
  [ "$mode" = offline ] && flag=(--offline --workers 2) && threads=2
  [ "$mode" = paced ] && flag=(--max-replay-ratio 20)
  [ "$mode" = plastic ] && flag=(--plasticity 0.5)
  OMP_NUM_THREADS=$threads "$flagship" --grid "$simbound_grid" --budget "$simbound_budget" \
    --output "$OSBI_BENCH_RESULTS/pde-simbound-$mode" "${flag[@]}" > "$OSBI_BENCH_RESULTS/pde-simbound-$mode.txt"
  sed -n "s/^VALIDATION /PDE_SIMBOUND $mode /p; s/^IDLE /PDE_SIMBOUND_IDLE $mode /p" "$OSBI_BENCH_RESULTS/pde-simbound-$mode.txt" \
    >> "$OSBI_BENCH_RESULTS/ours.txt"
done
# 3d. The other buffer kinds online in both regimes, against the reservoir's online runs above: FIFO and FIRO consume
#     each row once, prioritized replays high-loss rows with importance weights.
for kind in fifo firo prioritized; do
  "$flagship" --grid "$grid" --budget "$budget" --buffer "$kind" --output "$OSBI_BENCH_RESULTS/pde-buffer-$kind" \
    > "$OSBI_BENCH_RESULTS/pde-buffer-$kind.txt"
  sed -n "s/^VALIDATION /PDE_BUFFER training-bound $kind /p" "$OSBI_BENCH_RESULTS/pde-buffer-$kind.txt" >> "$OSBI_BENCH_RESULTS/ours.txt"
  "$flagship" --grid "$simbound_grid" --budget "$simbound_budget" --buffer "$kind" \
    --output "$OSBI_BENCH_RESULTS/pde-simbound-buffer-$kind" > "$OSBI_BENCH_RESULTS/pde-simbound-buffer-$kind.txt"
  sed -n "s/^VALIDATION /PDE_BUFFER simulation-bound $kind /p" "$OSBI_BENCH_RESULTS/pde-simbound-buffer-$kind.txt" \
    >> "$OSBI_BENCH_RESULTS/ours.txt"
done
"$flagship" --grid "$grid" --budget "$budget" --embedding transformer --output "$OSBI_BENCH_RESULTS/pde-transformer" \
  > "$OSBI_BENCH_RESULTS/pde-transformer.txt"
grep -v '^VALIDATION \|^IDLE ' "$OSBI_BENCH_RESULTS/pde-transformer.txt" | grep -v '^\[online\]' >&2 || true
sed -n "s/^VALIDATION /PDE_EMBEDDING transformer /p" "$OSBI_BENCH_RESULTS/pde-transformer.txt" >> "$OSBI_BENCH_RESULTS/ours.txt"
# The posterior pair plot of each embedding's run (posterior_pairs.png in its folder).
"$here/../../scripts/apt-install.sh" python3-numpy python3-matplotlib >&2
for run in online transformer; do
  /usr/bin/python3 "$here/../../examples/02_online_advection_diffusion/plot.py" "$OSBI_BENCH_RESULTS/pde-$run" >&2
done
python3 "$here/summarize.py" "$OSBI_BENCH_RESULTS"
