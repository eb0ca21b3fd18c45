#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs prebuilt test executables without CMake or CTest (a GPU node that got the binaries from
# scripts/check-cuda.sh's build): each test_* in <bin-dir>, several at a time, each under a time limit,
# with the repository's data. Prints one line per executable and a summary; exits non-zero if any failed.
#
#   scripts/run-prebuilt-tests.sh <bin-dir> [log-dir]
#
# OSBI_TEST_TIMEOUT (seconds per executable, default 300), OSBI_TEST_JOBS (default 4), and
# BOOST_TEST_RUN_FILTERS (default '!@statistical': the long C2ST studies, as in the sanitizer stages).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: scripts/run-prebuilt-tests.sh <bin-dir> [log-dir]}
logs=${2:-$PWD/prebuilt-test-logs}
mkdir -p "$logs"
export OSBI_TEST_DATA=${OSBI_TEST_DATA:-$root/data}
export BOOST_TEST_RUN_FILTERS=${BOOST_TEST_RUN_FILTERS:-!@statistical}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_PROC_BIND=${OMP_PROC_BIND:-false}
limit=${OSBI_TEST_TIMEOUT:-300}
run_one() {
  local exe=$1 name start status
  name=$(basename "$exe")
  start=$(date +%s)
  timeout "$limit" "$exe" --color_output=no --report_level=short > "$logs/$name.log" 2>&1
  status=$?
  printf '%-20s %s %4ds\n' "$name" "$([ $status = 0 ] && echo passed || echo "FAILED($status)")" $(($(date +%s) - start))
}
export -f run_one
export logs limit
find "$bin" -maxdepth 1 -name 'test_*' -type f -perm -u+x | sort |
  xargs -P "${OSBI_TEST_JOBS:-4}" -I{} bash -c 'run_one {}' | tee "$logs/summary.txt"
failed=$(grep -c FAILED "$logs/summary.txt")
echo "prebuilt tests: $(wc -l < "$logs/summary.txt") executables, $failed failed (logs in $logs)"
[ "$failed" = 0 ]
