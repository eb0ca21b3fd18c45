#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# MPI benchmarks (#15), called by scripts/bench.sh mpi: every section of osbi_bench_mpi under mpiexec, then
# summarize.py's tables, the 64- and 1 024-rank model, and the RESULT lines. One OpenMP thread per rank; ranks are
# oversubscribed where the machine has fewer cores (the tables say how many).
#
#   bench/mpi/run.sh [--seconds 8] [--cost-us 2000]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=8
cost_us=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --cost-us) cost_us=$2; shift 2 ;;
    *) echo "usage: bench/mpi/run.sh [--seconds S] [--cost-us US]" >&2; exit 2 ;;
  esac
done
mpi=(mpiexec --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
out=$OSBI_BENCH_RESULTS
echo "cores $(nproc --all)" > "$out/machine.txt" # before OMP_NUM_THREADS: GNU nproc obeys it
export OMP_NUM_THREADS=1 OMP_PROC_BIND=false
for sims in 1 2 4; do
  "${mpi[@]}" -n $((sims + 1)) "$OSBI_BENCH_BINARY" --section stream --seconds "$seconds" --cost-us "$cost_us" >> "$out/stream.txt"
done
for learners in 2 4; do
  "${mpi[@]}" -n "$learners" "$OSBI_BENCH_BINARY" --section allreduce >> "$out/allreduce.txt"
  "${mpi[@]}" -n "$learners" "$OSBI_BENCH_BINARY" --section data_parallel >> "$out/data_parallel.txt"
done
"${mpi[@]}" -n 2 "$OSBI_BENCH_BINARY" --section messages --seconds 3 >> "$out/messages.txt"
python3 "$here/summarize.py" "$out" --cost-us "$cost_us"
