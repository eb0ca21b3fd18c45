#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The flagship under MPI (2 ranks: a learner and a simulation rank) stops on its wall time with part of its budget
# simulated and writes its checkpoint; the same command with --resume continues it: more simulations and more
# steps than the first run, with consistent accounting over both.
#   flagship_resume.sh <osbi_example_02 binary> <mpiexec>
set -euo pipefail
example=$1
mpiexec=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(--mpi --quick --grid 16 --budget 300000 --seconds 3 --output "$out")

"$mpiexec" -n 2 --oversubscribe "$example" "${flags[@]}" > "$out/first.log" 2>&1 || { cat "$out/first.log"; exit 1; }
test -s "$out/checkpoint.osbi" || { echo "no checkpoint written"; cat "$out/first.log"; exit 1; }
"$mpiexec" -n 2 --oversubscribe "$example" "${flags[@]}" --resume > "$out/second.log" 2>&1 || { cat "$out/second.log"; exit 1; }

number() { sed -n "s/^$2: \([0-9]*\) $3.*/\1/p" "$1"; }
sims1=$(number "$out/first.log" simulations finished)
sims2=$(number "$out/second.log" simulations finished)
steps1=$(number "$out/first.log" training steps)
steps2=$(number "$out/second.log" training steps)
echo "first run: $sims1 simulations, $steps1 steps; resumed: $sims2 simulations, $steps2 steps"
grep -q "^resuming from" "$out/second.log" || { echo "the second run did not resume"; exit 1; }
for log in first second; do
  grep -q "accounting consistent" "$out/$log.log" || { echo "the $log run's accounting is not consistent"; cat "$out/$log.log"; exit 1; }
done
[[ -n "$sims1" && -n "$sims2" && "$sims1" -lt 300000 && "$sims2" -gt "$sims1" ]] || { echo "the resumed run did not simulate on"; exit 1; }
[[ -n "$steps1" && -n "$steps2" && "$steps1" -gt 0 && "$steps2" -gt "$steps1" ]] || { echo "the resumed run did not train on"; exit 1; }
